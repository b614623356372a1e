"""GLSZM features (pyradiomics' definitions) from each row's zones: connected voxels of one gray level."""

from __future__ import annotations

import torch

from .elements import common_features
from .rows import TextureRows

FEATURES = {
    **common_features(size="Zone", non_uniformity="SizeZone", gray_emphasis="Zone", large="LargeArea", small="SmallArea"),
    "ZonePercentage": lambda e: e.percentage,
}


def compute(rows: TextureRows, features: list[str]) -> dict[str, torch.Tensor]:
    elements = rows.zones()
    return {name: FEATURES[name](elements) for name in features}
