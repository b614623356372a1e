"""The mask steps of pyradiomics' extraction: getMask, checkMask (with correctMask), resegmentMask, cropToTumorMask.

Values and boxes are pyradiomics 3.0.1's; where pyradiomics raises a bare ValueError (or lets a
SimpleITK RuntimeError through), these raise a MaskError or SettingsError that says what is wrong
and what to do about it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import SimpleITK as sitk

from ...errors import MaskError, SettingsError
from .boxes import BoundingBox, crop
from ..param_schema import RESEGMENT_MODES
from .settings import label_of

logger = logging.getLogger(__name__)

# SimpleITK's default coordinate and direction tolerance, which pyradiomics' geometryTolerance replaces.
_DEFAULT_GEOMETRY_TOLERANCE = 1e-6
# pyradiomics' slack (in voxels) for a region that reaches just past the image's edge.
_ROI_BOUNDS_TOLERANCE = 1e-3


def get_mask(mask: sitk.Image, settings: Mapping[str, Any]) -> sitk.Image:
    """The label map pyradiomics extracts from: channel ``label_channel`` of a vector mask, as UInt32.

    Raises MaskError when nothing is segmented or the label is absent (listing the labels present).
    """
    label = label_of(settings)
    if "vector" in mask.GetPixelIDTypeAsString().lower():
        channel = settings.get("label_channel", 0)
        channels = mask.GetNumberOfComponentsPerPixel()
        if not 0 <= channel < channels:
            raise MaskError(
                f"The mask is a segmentation with {channels} channels, but the setting 'label_channel' asks for channel "
                f"{channel}. Choose a channel from 0 to {channels - 1}."
            )
        mask = sitk.VectorIndexSelectionCast(mask, channel)
    mask = sitk.Cast(mask, sitk.sitkUInt32)
    values = sitk.GetArrayViewFromImage(mask)
    if values.min() == values.max():
        # pyradiomics' test: a single value anywhere (even a mask that is all label) means nothing is segmented.
        raise MaskError(
            f"The mask has no segmented region: every voxel has the value {values.flat[0]}. "
            "Give a mask in which the region of interest is labelled and the rest is 0."
        )
    if not _has_label(values, label):
        present = np.unique(values)
        raise MaskError(
            f"Label {label} is not in the mask; it contains the labels {present[present != 0].tolist()}. "
            "Choose one of these with the 'label' setting, or check that this is the right mask."
        )
    return mask


def check_mask(image: sitk.Image, mask: sitk.Image, settings: Mapping[str, Any]) -> tuple[BoundingBox, sitk.Image | None]:
    """pyradiomics' checkMask: the label's bounding box, and the mask resampled onto the image grid when
    ``correctMask`` had to (None when the mask already lies on the image grid).

    Checks, in pyradiomics' order: the grids match within ``geometryTolerance`` (else, with
    ``correctMask``, the region must lie inside the image and the mask is resampled by nearest
    neighbour), the label is present, the region spans at least ``minimumROIDimensions`` axes (and more
    than one voxel), and it has more than ``minimumROISize`` voxels.
    """
    label = label_of(settings)
    min_dimensions = settings.get("minimumROIDimensions", 2)
    min_size = settings.get("minimumROISize")
    corrected = None
    mismatch = _grid_mismatch(image, mask, settings.get("geometryTolerance"))
    if mismatch is not None:
        if not settings.get("correctMask", False):
            raise MaskError(
                f"The mask does not lie on the image's voxel grid: {mismatch}. Set 'correctMask: true' to resample "
                "the mask onto the image grid (it must cover a region inside the image), or, if the difference is "
                "rounding noise, raise 'geometryTolerance'."
            )
        logger.warning("Image/Mask geometry mismatch (%s), resampling the mask onto the image grid", mismatch)
        check_roi(image, mask, label)
        corrected = nearest_onto(mask, image)
    checked = corrected if corrected is not None else mask
    region = sitk.GetArrayViewFromImage(checked) == label
    box = BoundingBox.of(region)
    if box is None:
        raise MaskError(
            f"Label {label} is not in the mask"
            + (" after resampling it onto the image grid (the region is smaller than the image's voxels)." if corrected else ".")
            + " Check the 'label' setting and that the mask belongs to this image."
        )
    check_region_extent(box, label, min_dimensions)
    if min_size is not None:
        count = int(np.count_nonzero(region))
        if count <= min_size:  # pyradiomics rejects a region of exactly minimumROISize voxels too
            raise MaskError(
                f"The region with label {label} has {count} voxels; 'minimumROISize' requires more than {min_size}. "
                "Use a larger region or lower 'minimumROISize'."
            )
    return box, corrected


def check_region_extent(box: BoundingBox, label: int, min_dimensions: int) -> None:
    """pyradiomics' checks of a region's box: more than one voxel, along at least ``min_dimensions`` axes."""
    dimensions = int(np.sum(box.size > 1))
    if dimensions == 0:
        raise MaskError(
            f"The region with label {label} is a single voxel; features need a region of at least 2 voxels along "
            "some axis. Check the segmentation."
        )
    if dimensions < min_dimensions:
        raise MaskError(
            f"The region with label {label} extends along {dimensions} axis/axes (bounding box {box.size.tolist()} "
            f"voxels), but 'minimumROIDimensions' requires {min_dimensions}. Use a region that spans more slices, or "
            "lower 'minimumROIDimensions' (2 allows single-slice regions)."
        )


def check_roi(image: sitk.Image, mask: sitk.Image, label: int) -> BoundingBox:
    """pyradiomics' _checkROI: the label's box on the mask's own grid, after checking that the region lies
    inside the image's physical extent (to within 1e-3 voxels), which resampling needs."""
    box = BoundingBox.of(sitk.GetArrayViewFromImage(mask) == label)
    if box is None:
        raise MaskError(f"Label {label} is not in the mask. Check the 'label' setting and that this is the right mask.")
    if image.GetDimension() != mask.GetDimension():
        raise MaskError(
            f"The image is {image.GetDimension()}D but the mask is {mask.GetDimension()}D; they must have the same "
            "number of dimensions."
        )
    # The region's outer corners (voxel edges, half a voxel beyond the centres), in the image's index space.
    corners = [
        image.TransformPhysicalPointToContinuousIndex(mask.TransformContinuousIndexToPhysicalPoint(index))
        for index in ((np.array(box.lower) - 0.5).tolist(), (np.array(box.upper) + 0.5).tolist())
    ]
    low = np.min(corners, axis=0)
    high = np.max(corners, axis=0)
    if np.any(low < -0.5 - _ROI_BOUNDS_TOLERANCE) or np.any(high > np.array(image.GetSize()) - 0.5 + _ROI_BOUNDS_TOLERANCE):
        raise MaskError(
            f"The region with label {label} reaches outside the image: in the image's voxel coordinates it spans "
            f"{np.round(low, 2).tolist()} to {np.round(high, 2).tolist()}, but the image has {list(image.GetSize())} "
            "voxels. The mask probably belongs to another scan; give the mask drawn on this image."
        )
    return box


def resegment_mask(image: sitk.Image, mask: sitk.Image, settings: Mapping[str, Any]) -> sitk.Image:
    """pyradiomics' resegmentMask: the label's voxels whose values lie in ``resegmentRange``.

    The thresholds are absolute values, fractions of the region's maximum ('relative') or numbers of
    standard deviations from its mean ('sigma'); one threshold is a lower bound, two a closed range.
    The result is an Int64 image (pyradiomics' pixel type) holding the label on the kept voxels.
    """
    label = label_of(settings)
    bounds = settings.get("resegmentRange")
    mode = settings.get("resegmentMode", "absolute")
    if bounds is None or not 1 <= len(bounds) <= 2:
        raise SettingsError(
            f"'resegmentRange' must hold one threshold (a lower bound) or two (a closed range), not {bounds!r}."
        )
    if mode not in RESEGMENT_MODES:
        raise SettingsError(f"Unknown 'resegmentMode' {mode!r}; use one of {', '.join(RESEGMENT_MODES)}.")
    values = sitk.GetArrayViewFromImage(image)
    region = sitk.GetArrayFromImage(mask) == label
    inside = values[region]
    # The arithmetic stays in the image's own numpy types, as pyradiomics' does (a float32 image gives
    # float32 thresholds), so that voxels at a threshold fall on the same side.
    if mode == "absolute":
        thresholds = sorted(bounds)
    elif mode == "relative":
        peak = np.max(inside)
        thresholds = [peak * bound for bound in sorted(bounds)]
    else:
        mean, sd = np.mean(inside), np.std(inside)
        thresholds = [mean + sd * bound for bound in sorted(bounds)]
    region[region] = inside >= thresholds[0]
    if len(thresholds) == 2:
        region[region] = values[region] <= thresholds[1]
    kept = int(np.count_nonzero(region))
    if kept <= 1:
        raise MaskError(
            f"Resegmentation ({mode} range {list(bounds)}) kept {kept} voxel(s) of label {label}; features need at "
            "least 2. Widen 'resegmentRange' or check the image's intensity units."
        )
    resegmented = np.zeros(region.shape, dtype=np.int64)
    resegmented[region] = label
    result = sitk.GetImageFromArray(resegmented)
    result.CopyInformation(mask)
    return result


def crop_to_tumor_mask(
    image: sitk.Image, mask: sitk.Image, box: BoundingBox, pad_distance: int = 0
) -> tuple[sitk.Image, sitk.Image]:
    """pyradiomics' cropToTumorMask: image and mask cut to ``box`` plus ``pad_distance`` voxels (within the mask)."""
    region = box.padded(pad_distance, mask.GetSize())
    return crop(image, region), crop(mask, region)


def _has_label(values: np.ndarray, label: int) -> bool:
    info = np.iinfo(values.dtype)
    return float(label).is_integer() and info.min <= label <= info.max and bool(np.any(values == label))


def _grid_mismatch(image: sitk.Image, mask: sitk.Image, tolerance: float | None) -> str | None:
    """How the mask's grid differs from the image's, by ITK's test (which pyradiomics relies on), or None.

    ITK compares origins and spacings to within ``tolerance`` times the image's first spacing, and
    direction cosines to within ``tolerance``; it requires equal dimensions and sizes.
    """
    if image.GetDimension() != mask.GetDimension():
        return f"the image is {image.GetDimension()}D, the mask {mask.GetDimension()}D"
    if image.GetSize() != mask.GetSize():
        return f"the image has {list(image.GetSize())} voxels, the mask {list(mask.GetSize())}"
    tolerance = _DEFAULT_GEOMETRY_TOLERANCE if tolerance is None else tolerance
    coordinate_tolerance = tolerance * abs(image.GetSpacing()[0])
    for name, limit in (("origin", coordinate_tolerance), ("spacing", coordinate_tolerance), ("direction", tolerance)):
        ours, theirs = (np.array(getattr(im, f"Get{name.capitalize()}")()) for im in (image, mask))
        if np.any(np.abs(ours - theirs) > limit):
            return f"image {name} {ours.tolist()}, mask {name} {theirs.tolist()} (tolerance {limit:g})"
    return None


def nearest_onto(mask: sitk.Image, image: sitk.Image) -> sitk.Image:
    """The mask on the image's grid by nearest neighbour (pyradiomics' correctMask), in the mask's pixel type."""
    return sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, mask.GetPixelID())
