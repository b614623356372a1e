"""pyradiomics' preprocessing sequence, written once for segment-based and voxel-based extraction.

RadiomicsFeatureExtractor.execute() with loadImage(): getMask -> normalizeImage -> resampleImage (or
preCrop) -> checkMask (correctMask) -> resegmentMask and checkMask again -> shape on the image and
shape mask cropped to the box -> per image type: filter -> cropToTumorMask with padDistance =
kernelRadius in voxel mode and 0 otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import SimpleITK as sitk

from .boxes import BoundingBox, crop
from .discretisation import bin_image, first_order_values
from .filters import check_image_types, filtered_images
from .intensity import normalize_image
from .masks import check_mask, crop_to_tumor_mask, get_mask, resegment_mask
from .resampling import resample_image
from ..settings import VOXEL_DEFAULTS
from .settings import extraction_settings, label_of


@dataclass(frozen=True)
class FilteredImage:
    """One image a feature class gets: the (filtered) image and the mask, cropped to the box plus the
    kernel radius (voxel mode) or to the box (segment mode), with that image type's settings."""

    image_type: str  # pyradiomics' name: 'original', 'log-sigma-1-0-mm-3D', 'wavelet-LLH', ...
    image: sitk.Image
    mask: sitk.Image
    settings: dict[str, Any]  # what pyradiomics passes to the feature classes for this image type

    @cached_property
    def values(self) -> np.ndarray:
        """The image's voxel values (numpy order z, y, x) in its own pixel type."""
        return sitk.GetArrayFromImage(self.image)

    @cached_property
    def roi(self) -> np.ndarray:
        """The label's voxels (bool, numpy order)."""
        return sitk.GetArrayViewFromImage(self.mask) == label_of(self.settings)

    @cached_property
    def kernel_region(self) -> np.ndarray:
        """The voxels the feature classes bin and count: the label's, or in voxel mode with ``maskedKernel:
        false`` the whole cropped image (a kernel then holds every voxel around its centre)."""
        unmasked = self.settings.get("voxelBased", False) and not self.settings.get("maskedKernel", True)
        return np.ones_like(self.roi) if unmasked else self.roi

    @cached_property
    def gray(self) -> np.ndarray:
        """The int64 gray levels of the texture classes: 1..Ng in the kernel region, 0 elsewhere, binned in
        the image's pixel type."""
        return bin_image(self.values, self.kernel_region, self.settings)[0]

    @cached_property
    def first_order_gray(self) -> np.ndarray:
        """The gray levels of the first-order class: in voxel mode binned from float64 values (they can
        differ from ``gray`` at a bin edge for a float32 image), otherwise ``gray`` itself."""
        values = first_order_values(self.values, voxel_based=self.settings.get("voxelBased", False))
        return self.gray if values is self.values else bin_image(values, self.kernel_region, self.settings)[0]


@dataclass(frozen=True)
class PreparedCase:
    """An image and mask after pyradiomics' preprocessing, ready for the feature classes."""

    image: sitk.Image  # normalised / resampled / pre-cropped: what the filters start from
    mask: sitk.Image  # the label map on the image's grid, resegmented when resegmentRange is set
    shape_mask: sitk.Image  # the mask shape features use: before resegmentation unless resegmentShape
    bounding_box: BoundingBox  # checkMask's box of ``mask`` (after resegmentation)
    settings: dict[str, Any]  # the general settings as pyradiomics' execute() holds them
    image_types: dict[str, dict[str, Any]]  # enabled image types -> their own settings, in order
    # The mask after each step that changed it ('original', 'interpolated', 'corrected', 'resegmented'),
    # and whether the image was resampled: what pyradiomics' diagnostics describe.
    mask_stages: dict[str, sitk.Image]
    resampled: bool

    @property
    def voxel_based(self) -> bool:
        return bool(self.settings.get("voxelBased", False))

    @property
    def pad_distance(self) -> int:
        """Voxels kept around the box for the feature classes: the kernel radius in voxel mode, else 0."""
        return self.settings.get("kernelRadius", VOXEL_DEFAULTS["kernelRadius"]) if self.voxel_based else 0

    def shape_region(self) -> sitk.Image:
        """The shape mask cut to the box (no padding), as pyradiomics' computeShape gets it (the image it
        also gets plays no part in the shape features).

        With resegmentation and no resegmentShape, this is the unresegmented mask cut to the
        *resegmented* region's box, as in pyradiomics.
        """
        return crop(self.shape_mask, self.bounding_box)

    def filtered_images(self) -> Iterator[FilteredImage]:
        """Every enabled image type's images, in pyradiomics' order, cropped as the feature classes get them."""
        box = self.bounding_box.padded(self.pad_distance, self.mask.GetSize())
        mask = crop(self.mask, box)
        for image_type, custom in self.image_types.items():
            for image, name, settings in filtered_images(self.image, image_type, {**self.settings, **custom}, box):
                yield FilteredImage(name, image, mask, settings)


def prepare_case(
    image: sitk.Image,
    mask: sitk.Image,
    settings: Mapping[str, Any] | None = None,
    image_types: Mapping[str, Mapping[str, Any] | None] | None = None,
    voxel_based: bool = False,
) -> PreparedCase:
    """Run pyradiomics' preprocessing on ``image`` and ``mask``.

    ``settings`` are pyradiomics' general settings (missing keys take its defaults); ``image_types``
    maps enabled image types ('Original', 'LoG', 'Wavelet', ...) to their own settings (default:
    Original only, as in pyradiomics). Raises MaskError or SettingsError for unusable input.
    """
    settings = extraction_settings(settings, voxel_based)
    image_types = {name: dict(custom or {}) for name, custom in (image_types or {"Original": {}}).items()}
    check_image_types(image_types)
    mask = get_mask(mask, settings)
    stages = {"original": mask}
    if settings.get("normalize", False):
        image = normalize_image(image, settings)
    resampled = settings.get("interpolator") is not None and settings.get("resampledPixelSpacing") is not None
    if resampled:
        image, mask = resample_image(image, mask, settings)
        stages["interpolated"] = mask
    elif settings.get("preCrop", False):
        box, corrected = check_mask(image, mask, settings)
        mask = corrected if corrected is not None else mask
        image, mask = crop_to_tumor_mask(image, mask, box, settings["padDistance"])
    box, corrected = check_mask(image, mask, settings)
    if corrected is not None:
        mask = stages["corrected"] = corrected
    shape_mask = mask
    if settings.get("resegmentRange") is not None:
        mask = stages["resegmented"] = resegment_mask(image, mask, settings)
        box, _ = check_mask(image, mask, settings)
        if settings.get("resegmentShape", False):
            shape_mask = mask
    return PreparedCase(image, mask, shape_mask, box, settings, image_types, stages, resampled)
