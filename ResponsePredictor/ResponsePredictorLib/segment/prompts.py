"""Where a user shows the tumor: clicks on it, clicks on what is not tumor, a box around it.

All in LPS millimetres of the image's physical space. The first tumor click (or the box) decides the
region the network is shown; every further click marks its input channel, so that one click changes
the whole 3D mask, not only the voxels near it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:  # SimpleITK loads only where a scan is read (the Slicer panel imports this module)
    from ..volume import Volume

Point = tuple[float, float, float]
Box = tuple[float, float, float, float, float, float]


class RegionError(InputError):
    """A click or box that does not lie in the image, or clicks that contradict each other."""


def as_points(value: Any, what: str = "point") -> tuple[Point, ...]:
    """``value`` as a tuple of points: None or empty for none, one point (3 numbers) or several."""
    if value is None:
        return ()
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):  # ragged lists, text
        array = None
    if array is not None and array.size == 0:
        return ()
    if array is not None and array.ndim == 1:
        array = array[None]
    if array is None or array.ndim != 2 or array.shape[1] != 3 or not np.isfinite(array).all():
        raise RegionError(f"A {what} is 3 finite numbers (x, y, z in mm, LPS); got {value!r}.")
    return tuple(tuple(float(c) for c in point) for point in array)


def rounded(point: Sequence[float]) -> tuple[float, ...]:
    return tuple(round(float(c), 1) for c in point)


@dataclass(frozen=True)
class Prompts:
    """Tumor clicks (``seeds``), not-tumor clicks (``negatives``) and a box (two opposite corners)."""

    seeds: tuple[Point, ...] = ()
    negatives: tuple[Point, ...] = ()
    box: Box | None = None

    @property
    def shows_tumor(self) -> bool:
        """Whether these prompts can be segmented: a tumor point or a box (not-tumor points alone cannot)."""
        return bool(self.seeds) or self.box is not None

    @classmethod
    def of(cls, seed: Any = None, negative: Any = None, box: Any = None) -> Prompts:
        """From the API's and the command line's forms: ``seed`` and ``negative`` one point or several."""
        corners = None if box is None else tuple(float(c) for c in np.asarray(box, float).ravel())
        if corners is not None and len(corners) != 6:
            raise RegionError(f"A box is two opposite corners, 6 numbers (mm, LPS); got {box!r}.")
        return cls(as_points(seed, "tumor point"), as_points(negative, "not-tumor point"), corners)

    def check(self, image: Volume) -> None:
        """``RegionError`` unless the clicks show a tumor in ``image``: a tumor click or a box, every
        click inside the image, and no voxel clicked as tumor and as not tumor."""
        if not self.shows_tumor:
            raise RegionError("Show the tumor: give a point on it (seed) or a box around it; "
                              "not-tumor points alone say only where it is not.")
        for kind, point in self.points():
            index = image.physical_to_index(point)
            if not image.contains_index(index):
                raise RegionError(
                    f"The {kind} {rounded(point)} mm lies outside the image (voxel {rounded(index)} of "
                    f"{image.size}); coordinates are LPS millimetres in the image's physical space.")
        tumor = {nearest_voxel(image, p): p for p in self.seeds}
        for point in self.negatives:
            clash = tumor.get(nearest_voxel(image, point))
            if clash is not None:
                raise RegionError(f"The not-tumor point {rounded(point)} mm and the tumor point {rounded(clash)} mm "
                                  "fall on the same voxel: remove one of them.")

    def points(self) -> Iterator[tuple[str, Point]]:
        """Every click with what it says ("tumor point", "not-tumor point"), as messages name them."""
        yield from (("tumor point", point) for point in self.seeds)
        yield from (("not-tumor point", point) for point in self.negatives)


def nearest_voxel(image: Volume, point: Point) -> tuple[int, int, int]:
    """The index (i, j, k) of ``image``'s voxel whose centre is nearest to ``point`` (LPS mm)."""
    return tuple(int(c) for c in np.floor(image.physical_to_index(point) + 0.5))
