"""pyradiomics' resampleImage: the grid it resamples onto, and its values, computed from only part of the scan.

pyradiomics resamples onto a grid aligned to the mask's origin that covers the region's bounding box
plus ``padDistance`` voxels. With a B-spline interpolator ITK first turns the *whole* input into
B-spline coefficients, although the output needs a few hundred
coefficients around the region. Here the coefficients are computed by ITK's own decomposition filter
on the needed part plus a margin and handed to ITK's coefficient resampler (the same evaluation code),
on an image that keeps the scan's origin so that every continuous index is computed exactly as in
the full resampling. The result is pyradiomics' to the last bit (see ``bspline_margin``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from ...errors import MaskError, SettingsError
from .boxes import BoundingBox, crop
from .masks import check_roi, crop_to_tumor_mask, nearest_onto
from .settings import interpolator_id, label_of

# pyradiomics' 'sitkBSpline' is the cubic B-spline: its prefilter's pole (Unser 1999) makes a
# coefficient's dependence on a sample d voxels away fall off as |pole|**d.
_CUBIC_POLE = math.sqrt(3.0) - 2.0
# How far a change at the crop's edge may reach into the coefficients, relative to the image's range:
# far below double rounding (2e-16 of a value), so that the coefficients the output uses come out
# bit for bit as from the whole scan (checked on CT, MR, PET and the pyradiomics cases).
_EDGE_INFLUENCE = 1e-22
# Crop only when the part read is at most this fraction of the scan; above it the copies cost more than
# the smaller prefilter saves.
_WORTH_CROPPING = 0.5


@dataclass(frozen=True)
class Grid:
    """An output voxel grid: size, origin, spacing and direction as SimpleITK takes them."""

    size: tuple[int, ...]
    origin: tuple[float, ...]
    spacing: tuple[float, ...]
    direction: tuple[float, ...]

    def corners(self) -> list[tuple[float, ...]]:
        """Physical positions of the grid's corner voxel centres."""
        matrix = np.reshape(self.direction, (len(self.size),) * 2) * np.array(self.spacing)
        last = np.array(self.size) - 1
        return [
            tuple(np.array(self.origin) + matrix @ (last * np.array(corner)))
            for corner in np.ndindex(*(2,) * len(self.size))
        ]


def resample_image(image: sitk.Image, mask: sitk.Image, settings: Mapping[str, Any]) -> tuple[sitk.Image, sitk.Image]:
    """pyradiomics' resampleImage: image (by ``interpolator``, in its own pixel type) and mask (by nearest
    neighbour, UInt32) on a grid of spacing ``resampledPixelSpacing`` covering the label's box plus
    ``padDistance`` voxels.

    A spacing of 0 keeps the mask's spacing on that axis, as does an axis along which the region is one
    voxel thick; when the new spacing equals the image's, only the mask is resampled onto the image grid
    and both are cropped.
    """
    spacing_setting = settings.get("resampledPixelSpacing")
    interpolator = interpolator_id(settings.get("interpolator", sitk.sitkBSpline))
    pad = settings.get("padDistance", 5)
    label = label_of(settings)
    dimension = mask.GetDimension()
    if spacing_setting is None or len(spacing_setting) != dimension:
        raise SettingsError(
            f"'resampledPixelSpacing' must give one spacing per image axis ({dimension}), not {spacing_setting!r}; "
            "use 0 to keep an axis' spacing."
        )
    mask_spacing = np.array(mask.GetSpacing())
    spacing = np.asarray(spacing_setting, dtype=np.float64)
    spacing = np.where(spacing == 0, mask_spacing, spacing)
    box = check_roi(image, mask, label)
    spacing = np.where(box.size != 1, spacing, mask_spacing)
    if np.allclose(np.array(image.GetSpacing()), spacing):
        mask = nearest_onto(mask, image)
        on_image = BoundingBox.of(sitk.GetArrayViewFromImage(mask) == label)
        if on_image is None:
            raise MaskError(
                f"Label {label} disappears when the mask is put on the image's grid (the region is smaller than the "
                "image's voxels). Check that the mask belongs to this image."
            )
        return crop_to_tumor_mask(image, mask, on_image, pad)
    grid = _output_grid(mask, box, spacing, pad)
    resampled = _resample_values(image, grid, interpolator)
    resampled_mask = _resample(mask, grid, sitk.sitkNearestNeighbor, mask.GetPixelID())
    return resampled, resampled_mask


def bspline_margin() -> int:
    """Voxels to keep around the part of the input a cubic B-spline resampling reads.

    The prefilter runs recursively from each end of a line; a crop changes where it starts, and that
    change fades as 0.268**d with the distance d from the crop's edge. The margin makes it fade to
    ``_EDGE_INFLUENCE`` (39 voxels) and adds the interpolation kernel's reach beyond the output's
    extent (2 voxels) plus one spare.
    """
    return math.ceil(math.log(_EDGE_INFLUENCE) / math.log(abs(_CUBIC_POLE))) + 3


def _output_grid(mask: sitk.Image, box: BoundingBox, spacing: np.ndarray, pad: int) -> Grid:
    """pyradiomics' output grid: aligned to the mask's origin, covering the box plus ``pad`` new voxels.

    The arithmetic follows pyradiomics operation by operation so that the origin matches to the bit.
    """
    mask_spacing = np.array(mask.GetSpacing())
    lower, size = np.array(box.lower), box.size
    ratio = mask_spacing / spacing
    # Round outwards so that the whole region is covered; the half voxel keeps upsampling from losing its edge.
    new_lower = np.floor((lower - 0.5) * ratio - pad)
    new_upper = np.ceil((lower + size - 0.5) * ratio + pad)
    last = np.ceil(np.array(mask.GetSize()) * ratio) - 1
    new_lower = np.where(new_lower < 0, 0, new_lower)
    new_upper = np.where(new_upper > last, last, new_upper)
    new_size = np.array(new_upper - new_lower + 1, dtype="int").tolist()
    # The new grid's first voxel centre in the mask's continuous index: half a new voxel from the corner.
    origin_index = np.array(0.5 * (spacing - mask_spacing) / mask_spacing) + new_lower / ratio
    origin = mask.TransformContinuousIndexToPhysicalPoint(origin_index.tolist())
    return Grid(tuple(new_size), tuple(origin), tuple(spacing.tolist()), tuple(mask.GetDirection()))


def _resample_values(image: sitk.Image, grid: Grid, interpolator: int) -> sitk.Image:
    """The image on ``grid`` in its own pixel type; B-spline coefficients only from the part that is read."""
    if interpolator != sitk.sitkBSpline or image.GetNumberOfComponentsPerPixel() != 1:
        return _resample(image, grid, interpolator, image.GetPixelID())  # no prefilter: cost follows the output
    source = _read_box(image, grid, bspline_margin())
    if np.prod(source.size) > _WORTH_CROPPING * np.prod(image.GetSize()):
        return _resample(image, grid, interpolator, image.GetPixelID())  # the crop would save little
    coefficients = sitk.BSplineDecomposition(sitk.Cast(crop(image, source), sitk.sitkFloat64), 3)
    # Zeros below the crop put every coefficient at its index in the scan; with the scan's origin the
    # resampler then maps each output point to exactly the continuous index the full resampling uses.
    # (The zeros are never read: the output lies a margin inside the crop.)
    placed = sitk.ConstantPad(coefficients, list(source.lower), [0] * image.GetDimension(), 0.0)
    placed.SetOrigin(image.GetOrigin())
    placed.SetSpacing(image.GetSpacing())
    placed.SetDirection(image.GetDirection())
    return _resample(placed, grid, sitk.sitkBSplineResamplerOrder3, image.GetPixelID())


def _read_box(image: sitk.Image, grid: Grid, margin: int) -> BoundingBox:
    """The image voxels within ``margin`` of the grid's extent (in the image's index space), inside the image."""
    indices = np.array([image.TransformPhysicalPointToContinuousIndex(corner) for corner in grid.corners()])
    lower = np.floor(indices.min(axis=0)).astype(int)
    upper = np.ceil(indices.max(axis=0)).astype(int)
    return BoundingBox(tuple(lower.tolist()), tuple(upper.tolist())).padded(margin, image.GetSize())


def _resample(image: sitk.Image, grid: Grid, interpolator: int, pixel_type: int) -> sitk.Image:
    resampler = sitk.ResampleImageFilter()
    resampler.SetOutputSpacing(grid.spacing)
    resampler.SetOutputDirection(grid.direction)
    resampler.SetSize(list(grid.size))
    resampler.SetOutputOrigin(grid.origin)
    resampler.SetOutputPixelType(pixel_type)
    resampler.SetInterpolator(interpolator)
    return resampler.Execute(image)
