"""The reference backend: pyradiomics' own voxel-based mode (slow, but the definition of the values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import MaskError, SettingsError
from ..volume import Volume
from .names import FeatureName
from .voxel_settings import voxel_settings


def pyradiomics_feature_maps(
    image: Volume, mask: Volume, names: list[FeatureName], settings: Mapping[str, Any], radius: int, label: int
) -> dict[str, Volume]:
    """Maps of ``names`` computed by ``RadiomicsFeatureExtractor.execute(..., voxelBased=True)``."""
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    try:
        extractor = RadiomicsFeatureExtractor(voxel_settings(settings, names, radius, label))
    except Exception as error:  # pykwalify's SchemaError and pyradiomics' own checks
        raise SettingsError(f"pyradiomics rejected the settings: {error}") from None
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
