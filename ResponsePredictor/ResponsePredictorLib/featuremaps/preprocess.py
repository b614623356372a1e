"""The images the feature maps are computed on, prepared by pyradiomics' own functions.

This retraces ``RadiomicsFeatureExtractor.execute(..., voxelBased=True)`` step by step (load and
resample, check and correct the mask, resegment, build the filtered images, crop to the mask's box
plus the kernel radius, discretise over the whole region) so that the fast backend starts from
exactly the arrays pyradiomics' voxel mode works on; only the per-kernel computation differs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from ..errors import MaskError, SettingsError
from ..volume import Volume, crop_padded, nonzero_box
from .names import FeatureName
from .voxel_settings import voxel_settings


@dataclass(frozen=True)
class PreparedImage:
    """One (filtered) image cropped for voxel-wise computation, with the region and its gray levels."""

    image_type: str  # pyradiomics' image type name: 'original', 'log-sigma-1-0-mm-3D', ...
    grid: sitk.Image  # the cropped image: the maps' grid
    values: np.ndarray  # float64 [k, j, i] voxel values (the first-order features' input)
    roi: np.ndarray  # bool [k, j, i]: the label's voxels
    gray: np.ndarray  # int64 [k, j, i] discretised gray levels (1...Ng inside the region, 0 outside)
    first_order_gray: np.ndarray  # the same, discretised as the first-order class does it (from float64 values)
    settings: dict[str, Any]  # the settings the feature classes get for this image type

    @property
    def max_gray_level(self) -> int:
        """pyradiomics' Ng: the highest gray level in the region (not the number of levels present)."""
        return int(self.gray[self.roi].max())


def prepared_images(
    image: Volume, mask: Volume, names: list[FeatureName], settings: Mapping[str, Any], radius: int, label: int
) -> Iterator[PreparedImage]:
    """The prepared images of the image types ``names`` need, as pyradiomics' voxel mode prepares them."""
    from radiomics import imageoperations
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    try:
        extractor = RadiomicsFeatureExtractor(voxel_settings(settings, names, radius, label))
    except Exception as error:  # pykwalify's SchemaError and pyradiomics' own checks
        raise SettingsError(f"pyradiomics rejected the settings: {error}") from None
    common = dict(extractor.settings, voxelBased=True)
    if _crop_changes_nothing(common, extractor.enabledImagetypes):
        image, mask = _around_label(image, mask, label, margin=radius)
    try:
        base_image, base_mask = extractor.loadImage(image.to_sitk(), mask.to_sitk(), None, **common)
        box, corrected = imageoperations.checkMask(base_image, base_mask, **common)
        base_mask = corrected if corrected is not None else base_mask
        if common.get("resegmentRange") is not None:
            base_mask = imageoperations.resegmentMask(base_image, base_mask, **common)
            box, _ = imageoperations.checkMask(base_image, base_mask, **common)
    except ValueError as error:  # pyradiomics' mask checks (e.g. too few voxels after resampling)
        raise MaskError(f"pyradiomics cannot use label {label} of this mask: {error}") from None
    for type_name, custom in extractor.enabledImagetypes.items():
        type_settings = {**common, **custom}
        generator = getattr(imageoperations, f"get{type_name}Image")
        for filtered, image_type, class_settings in generator(base_image, base_mask, **type_settings):
            cropped, cropped_mask = imageoperations.cropToTumorMask(filtered, base_mask, box, padDistance=radius)
            native = sitk.GetArrayFromImage(cropped)
            values = native.astype(np.float64)
            roi = sitk.GetArrayFromImage(cropped_mask) == label
            # Texture classes bin the image in its own pixel type, the first-order class bins it as float64;
            # with a float32 image the two can differ at a bin edge, so each gets its own.
            gray, _ = imageoperations.binImage(native, roi, **class_settings)
            first_order_gray = gray if native.dtype == np.float64 else imageoperations.binImage(values, roi, **class_settings)[0]
            yield PreparedImage(
                image_type, cropped, values, roi, gray.astype(np.int64), first_order_gray.astype(np.int64), dict(class_settings)
            )


def _crop_changes_nothing(settings: Mapping[str, Any], image_types: Mapping[str, Any]) -> bool:
    """Whether cutting the scan down to the label's box first leaves every map as it is.

    It does when the maps are of the original image, not resampled (resampling aligns its grid to the
    scan's origin) and not normalised (normalisation uses the whole scan's statistics): pyradiomics then
    only ever reads the label's box plus the kernel radius. Filters (LoG) read beyond it.
    """
    resampled = settings.get("interpolator") is not None and settings.get("resampledPixelSpacing") is not None
    return set(image_types) == {"Original"} and not resampled and not settings.get("normalize", False)


def _around_label(image: Volume, mask: Volume, label: int, margin: int) -> tuple[Volume, Volume]:
    """Image and mask cut to the label's bounding box plus ``margin`` voxels (within the image)."""
    box = nonzero_box(mask.array == label)  # not None: the caller checked that the label is present
    start = np.maximum([b.start - margin for b in box], 0)[::-1]
    stop = np.minimum([b.stop + margin for b in box], mask.shape)[::-1]
    return crop_padded(image, tuple(start), tuple(stop), 0), crop_padded(mask, tuple(start), tuple(stop), 0)
