"""GLDM feature maps: each kernel voxel's number of dependent neighbours (pyradiomics' definitions).

A neighbour (26 directions at the ``distances`` setting, inside the kernel's region) is dependent
when its gray level differs from the voxel's by at most ``gldm_a``.
"""

from __future__ import annotations

import torch

from .kernels import Kernels, take
from .zone_features import Elements, common_features

FEATURES = common_features(
    size="Dependence", non_uniformity="Dependence", gray_emphasis="", large="LargeDependence", small="SmallDependence"
)


def dependences(kernels: Kernels) -> Elements:
    """(B, K): each region voxel of the kernel with its gray level and dependence count + 1."""
    gray = kernels.gray
    level = gray[:, :-1]
    inside = level > 0
    alpha = int(kernels.volume.image.settings.get("gldm_a", 0))
    neighbours = take(gray, kernels.columns(kernels.volume.angles(bidirectional=True)))  # (B, angles, K)
    dependent = (neighbours > 0) & ((neighbours - level[:, None, :]).abs() <= alpha)
    return Elements(level, dependent.sum(1) + 1, inside)


def compute(kernels: Kernels, features: list[str]) -> dict[str, torch.Tensor]:
    elements = dependences(kernels)
    return {name: FEATURES[name](elements) for name in features}
