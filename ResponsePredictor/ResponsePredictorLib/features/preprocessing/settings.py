"""pyradiomics' general settings: their defaults, and the interpolator names they may hold."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import SimpleITK as sitk

from ...errors import SettingsError

# RadiomicsFeatureExtractor._getDefaultSettings() of pyradiomics 3.0.1: what a missing key means.
EXTRACTOR_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "minimumROIDimensions": 2,
        "minimumROISize": None,
        "normalize": False,
        "normalizeScale": 1,
        "removeOutliers": None,
        "resampledPixelSpacing": None,
        "interpolator": "sitkBSpline",
        "preCrop": False,
        "padDistance": 5,
        "distances": [1],
        "force2D": False,
        "force2Ddimension": 0,
        "resegmentRange": None,
        "label": 1,
        "additionalInfo": True,
    }
)

# The kernel radius of voxel-based extraction when the settings do not give one (pyradiomics' default).
DEFAULT_KERNEL_RADIUS = 1

_INTERPOLATOR_NAMES = (
    "sitkNearestNeighbor",
    "sitkLinear",
    "sitkBSpline",
    "sitkGaussian",
    "sitkLabelGaussian",
    "sitkHammingWindowedSinc",
    "sitkCosineWindowedSinc",
    "sitkWelchWindowedSinc",
    "sitkLanczosWindowedSinc",
    "sitkBlackmanWindowedSinc",
    "sitkBSpline1",
    "sitkBSpline2",
    "sitkBSpline3",
    "sitkBSpline4",
    "sitkBSpline5",
    "sitkBSplineResampler",
    "sitkBSplineResamplerOrder1",
    "sitkBSplineResamplerOrder2",
    "sitkBSplineResamplerOrder3",
    "sitkBSplineResamplerOrder4",
    "sitkBSplineResamplerOrder5",
    "sitkLabelLinear",
)
INTERPOLATORS: Mapping[str, int] = MappingProxyType(
    {name: getattr(sitk, name) for name in _INTERPOLATOR_NAMES if hasattr(sitk, name)}
)


def extraction_settings(settings: Mapping[str, Any] | None = None, voxel_based: bool = False) -> dict[str, Any]:
    """The settings pyradiomics' ``execute()`` works with: its defaults overridden by ``settings``.

    Voxel-based extraction adds ``voxelBased: True``, which pyradiomics passes on to the feature classes.
    """
    merged = {**EXTRACTOR_DEFAULTS, **(settings or {})}
    if voxel_based:
        merged["voxelBased"] = True
    return merged


def interpolator_id(value: str | int) -> int:
    """The SimpleITK interpolator that a setting names, by name ('sitkBSpline') or by SimpleITK's number.

    pyradiomics falls back to B-spline on a name it does not know; a typo would then silently change
    the features, so an unknown interpolator is an error here.
    """
    if isinstance(value, str) and value in INTERPOLATORS:
        return INTERPOLATORS[value]
    if isinstance(value, int) and not isinstance(value, bool) and value in INTERPOLATORS.values():
        return value
    raise SettingsError(
        f"Unknown interpolator {value!r} in the setting 'interpolator'. Use a SimpleITK interpolator name such as "
        f"'sitkBSpline' or 'sitkLinear' (known: {', '.join(INTERPOLATORS)}), or its number in this SimpleITK "
        f"version (sitkBSpline is {sitk.sitkBSpline} here; old parameter files may use 3)."
    )


def label_of(settings: Mapping[str, Any]) -> int:
    return settings.get("label", 1)
