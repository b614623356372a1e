"""The optional backend: pyradiomics itself, for a user who has it installed (and as the tests' reference).

Nothing here is imported unless ``backend="pyradiomics"`` is asked for; ``radiomics`` is imported
inside the functions, so the default engine never needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import MaskError, SettingsError
from ..volume import Volume
from .names import DIAGNOSTICS_PREFIX, FeatureName
from .voxel_settings import voxel_settings

INSTALL_HINT = (
    "pyradiomics is not installed in this Python; the default backend needs no pyradiomics (backend 'fast'), "
    "or install pyradiomics 3.0.1 (it has no wheel for Python 3.11 or 3.12: it is built from source)."
)


def _extractor(settings: Mapping[str, Any]) -> Any:
    try:
        from radiomics.featureextractor import RadiomicsFeatureExtractor
    except ImportError:
        raise SettingsError(INSTALL_HINT) from None
    logging.getLogger("radiomics.glcm").addFilter(_drop_sum_average_notice)
    try:
        return RadiomicsFeatureExtractor(dict(settings))
    except Exception as error:  # pykwalify's SchemaError and pyradiomics' own checks
        raise SettingsError(f"pyradiomics rejected the settings: {error}") from None


def _drop_sum_average_notice(record: logging.LogRecord) -> bool:
    # pyradiomics warns on every case that Sum Average = 2 x Joint Average for a symmetrical GLCM.
    # That is a property of the feature, not of the user's data, so it is kept out of their console.
    return not record.getMessage().startswith("GLCM is symmetrical, therefore Sum Average")


class PyradiomicsWholeTumor:
    """pyradiomics' segment-based extraction with one set of settings, built once and reused over cases."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._extractor = _extractor(settings)

    def extract(self, image: Volume, mask: Volume, label: int) -> tuple[dict[str, float], dict[str, Any]]:
        """(features, diagnostics) of ``label``, in pyradiomics' order."""
        try:
            values = self._extractor.execute(image.to_sitk(), mask.to_sitk(), label=label)
        except ValueError as error:  # pyradiomics' mask checks (e.g. too few voxels after resampling)
            raise MaskError(f"pyradiomics cannot use label {label} of this mask: {error}") from None
        features, diagnostics = {}, {}
        for name, value in values.items():
            if name.startswith(DIAGNOSTICS_PREFIX):
                diagnostics[name] = value
            else:
                features[name] = float(value)
        return features, diagnostics


def pyradiomics_feature_maps(
    image: Volume, mask: Volume, names: list[FeatureName], settings: Mapping[str, Any], radius: int, label: int
) -> dict[str, Volume]:
    """Maps of ``names`` computed by ``RadiomicsFeatureExtractor.execute(..., voxelBased=True)``."""
    extractor = _extractor(voxel_settings(settings, names, radius, label))
    try:
        result = extractor.execute(image.to_sitk(), mask.to_sitk(), label=label, voxelBased=True)
    except ValueError as error:  # pyradiomics' mask checks (e.g. too few voxels after resampling)
        raise MaskError(f"pyradiomics cannot use label {label} of this mask: {error}") from None
    missing = [name.name for name in names if name.name not in result]
    if missing:
        # pyradiomics skips a LoG sigma when the cropped image is smaller than the filter.
        raise MaskError(f"pyradiomics computed no map for {', '.join(missing)}: the region is too small for its filter.")
    maps = {}
    for name in names:
        volume = Volume.from_sitk(result[name.name])
        maps[name.name] = volume.with_array(volume.array.astype(np.float32))
    return maps
