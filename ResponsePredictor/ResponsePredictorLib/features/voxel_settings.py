"""The parameter mapping of a voxel-based run that computes exactly the requested maps (both backends)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .names import FeatureName, requested_image_types


def voxel_settings(settings: Mapping[str, Any], names: list[FeatureName], radius: int, label: int) -> dict[str, Any]:
    """``settings`` (a pyradiomics parameter mapping) narrowed to the image types and features of ``names``.

    The preprocessing settings (resampling, bin width, shift, ...) are kept as given; the kernel
    radius and label are set; voxels outside the mask get NaN instead of pyradiomics' default 0.
    """
    feature_classes: dict[str, list[str]] = {}
    for name in names:
        feature_classes.setdefault(name.feature_class, []).append(name.feature)
    return {
        "imageType": requested_image_types(names, settings.get("imageType") or {}),
        "featureClass": feature_classes,
        "setting": {**(settings.get("setting") or {}), "label": int(label), "additionalInfo": False},
        "voxelSetting": {**(settings.get("voxelSetting") or {}), "kernelRadius": int(radius), "initValue": math.nan},
    }
