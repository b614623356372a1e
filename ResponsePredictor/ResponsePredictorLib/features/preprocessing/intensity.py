"""pyradiomics' normalizeImage: z-scores over the whole image, optional clipping, then scaling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import SimpleITK as sitk


def normalize_image(image: sitk.Image, settings: Mapping[str, Any]) -> sitk.Image:
    """The image as (x - mean) / sd over all its voxels (not only the region), clipped to
    +-``removeOutliers`` standard deviations when set, then multiplied by ``normalizeScale``.

    SimpleITK computes the statistics and the scaling, as in pyradiomics, so the float64 result is
    pyradiomics' to the last bit (its statistics sum in an order numpy would not reproduce).
    """
    scale = settings.get("normalizeScale", 1)
    outliers = settings.get("removeOutliers")
    image = sitk.Normalize(image)
    if outliers is not None:
        values = sitk.GetArrayFromImage(image)
        np.clip(values, -outliers, outliers, out=values)
        clipped = sitk.GetImageFromArray(values)
        clipped.CopyInformation(image)
        image = clipped
    return image * scale
