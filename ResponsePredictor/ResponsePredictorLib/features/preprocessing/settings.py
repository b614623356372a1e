"""pyradiomics' general settings as its extraction holds them, and the interpolators they may name."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import SimpleITK as sitk

from ...errors import SettingsError
from ..param_schema import INTERPOLATOR_NAMES
from ..settings import DEFAULT_SETTINGS

INTERPOLATORS: Mapping[str, int] = MappingProxyType(
    {name: getattr(sitk, name) for name in INTERPOLATOR_NAMES}
)


def extraction_settings(settings: Mapping[str, Any] | None = None, voxel_based: bool = False) -> dict[str, Any]:
    """The settings pyradiomics' ``execute()`` works with: its defaults overridden by ``settings``.

    Voxel-based extraction adds ``voxelBased: True``, which pyradiomics passes on to the feature classes.
    """
    merged = {**DEFAULT_SETTINGS, **(settings or {})}
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
