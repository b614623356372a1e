"""GLSZM features (pyradiomics' definitions) from each row's zones: connected voxels of one gray level."""

from __future__ import annotations

import torch

from .elements import common_features
from .rows import TextureRows

FEATURES = {
    **common_features(size="Zone", non_uniformity="SizeZone", gray_emphasis="Zone", large="LargeArea", small="SmallArea"),
    # pyradiomics' Np: the voxels in zones, i.e. the row's region voxels.
    "ZonePercentage": lambda e: e.count / (e.s * e.weight).sum(-1),
}


def compute(rows: TextureRows, features: list[str]) -> dict[str, torch.Tensor]:
    elements = rows.zones()
    return {name: FEATURES[name](elements) for name in features}
