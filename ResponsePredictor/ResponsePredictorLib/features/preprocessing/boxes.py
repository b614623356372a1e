"""Index boxes on an image grid, and cutting images to them with the metadata pyradiomics' crops get.

Boxes are in SimpleITK's index order (x, y, z) with inclusive upper bounds, as pyradiomics' bounding
boxes are; numpy arrays of a SimpleITK image are indexed the other way round (z, y, x).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from ...volume import nonzero_box


@dataclass(frozen=True)
class BoundingBox:
    """A box of voxel indices: ``lower`` and ``upper`` are the first and last index inside, per axis (x, y, z)."""

    lower: tuple[int, ...]
    upper: tuple[int, ...]

    @classmethod
    def of(cls, region: np.ndarray) -> BoundingBox | None:
        """The box of the true voxels of a boolean array in numpy order (z, y, x), or None when there are none."""
        box = nonzero_box(region)
        if box is None:
            return None
        return cls(tuple(axis.start for axis in reversed(box)), tuple(axis.stop - 1 for axis in reversed(box)))

    @classmethod
    def whole(cls, image: sitk.Image) -> BoundingBox:
        return cls((0,) * image.GetDimension(), tuple(int(n) - 1 for n in image.GetSize()))

    @property
    def size(self) -> np.ndarray:
        return np.subtract(self.upper, self.lower) + 1

    def as_pyradiomics(self) -> np.ndarray:
        """pyradiomics' form of the box: (L_x, U_x, L_y, U_y, L_z, U_z)."""
        return np.ravel(np.column_stack([self.lower, self.upper]))

    def padded(self, margin: int | Sequence[int], image_size: Sequence[int]) -> BoundingBox:
        """The box grown by ``margin`` voxels on each side (one number, or one per axis), kept inside the image."""
        lower = np.maximum(np.subtract(self.lower, margin), 0)
        upper = np.minimum(np.add(self.upper, margin), np.subtract(image_size, 1))
        return BoundingBox(tuple(int(i) for i in lower), tuple(int(i) for i in upper))

    def within(self, outer: BoundingBox) -> BoundingBox:
        """This box in the index coordinates of a crop that starts at ``outer.lower``."""
        return BoundingBox(tuple(np.subtract(self.lower, outer.lower).tolist()), tuple(np.subtract(self.upper, outer.lower).tolist()))

    def slices(self) -> tuple[slice, ...]:
        """Numpy index (z, y, x order) of the box in an array of the image it belongs to."""
        return tuple(slice(lo, hi + 1) for lo, hi in zip(self.lower[::-1], self.upper[::-1]))


def crop(image: sitk.Image, box: BoundingBox) -> sitk.Image:
    """The part of ``image`` inside ``box`` (origin at the box's first voxel, as pyradiomics' crop filter sets it)."""
    return sitk.RegionOfInterest(image, [int(n) for n in box.size], list(box.lower))


def image_on_box(values: np.ndarray, source: sitk.Image, box: BoundingBox) -> sitk.Image:
    """An image of ``values`` (numpy order) with the geometry that cropping ``source`` to ``box`` gives."""
    image = sitk.GetImageFromArray(values)
    image.SetSpacing(source.GetSpacing())
    image.SetDirection(source.GetDirection())
    image.SetOrigin(source.TransformIndexToPhysicalPoint(list(box.lower)))
    return image


def filter_on_box(
    image: sitk.Image,
    box: BoundingBox | None,
    margin: int | Sequence[int],
    apply: Callable[[sitk.Image], sitk.Image],
    minimum_size: int = 1,
) -> sitk.Image:
    """``apply(image)`` restricted to ``box``, computed on the box plus ``margin`` voxels only.

    The caller chooses a margin beyond which the filter's output inside the box no longer depends on the
    input; the source region is kept inside the image (a filter sees the same image edge either way) and
    grown to at least ``minimum_size`` voxels per axis where the image has them. ``box=None`` filters the
    whole image.
    """
    if box is None:
        return apply(image)
    size = image.GetSize()
    source = _at_least(box.padded(margin, size), minimum_size, size)
    filtered = apply(crop(image, source))
    # The box's values, with the geometry taken from the full image rather than from the crop of a crop
    # (whose origin could differ in the last bit).
    return image_on_box(sitk.GetArrayViewFromImage(filtered)[box.within(source).slices()], image, box)


def _at_least(box: BoundingBox, minimum_size: int, image_size: Sequence[int]) -> BoundingBox:
    """``box`` grown (upwards, then downwards) along each axis that is shorter than ``minimum_size``."""
    lower, upper = list(box.lower), list(box.upper)
    for axis, n in enumerate(image_size):
        missing = max(0, min(minimum_size, n) - (upper[axis] - lower[axis] + 1))
        grow_up = min(missing, n - 1 - upper[axis])
        upper[axis] += grow_up
        lower[axis] -= missing - grow_up
    return BoundingBox(tuple(lower), tuple(upper))
