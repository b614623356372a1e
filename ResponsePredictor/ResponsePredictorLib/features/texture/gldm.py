"""GLDM features (pyradiomics' definitions) from each row's voxels and their dependent neighbours.

A neighbour (all angles at the ``distances`` setting, inside the row's region) is dependent when
its gray level differs from the voxel's by at most ``gldm_a``.
"""

from __future__ import annotations

import torch

from .elements import common_features
from .rows import TextureRows

FEATURES = common_features(
    size="Dependence", non_uniformity="Dependence", gray_emphasis="", large="LargeDependence", small="SmallDependence"
)


def compute(rows: TextureRows, features: list[str]) -> dict[str, torch.Tensor]:
    elements = rows.dependences()
    return {name: FEATURES[name](elements) for name in features}
