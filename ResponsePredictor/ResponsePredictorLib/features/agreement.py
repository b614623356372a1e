"""How closely two sets of feature maps agree (the fast backend against pyradiomics' voxel mode)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..volume import Volume

# Relative differences are taken against max(|reference|, FLOOR x the map's largest |value|): a map
# crossing zero (Correlation, Cluster Shade) would otherwise divide float32 round-off by ~0.
RELATIVE_FLOOR = 1e-6


@dataclass(frozen=True)
class Agreement:
    """One feature's agreement: largest relative difference, voxels where only one map is NaN, voxels compared."""

    max_relative_difference: float
    nan_mismatches: int
    voxels: int
    same_grid: bool

    def within(self, tolerance: float) -> bool:
        return self.same_grid and self.nan_mismatches == 0 and self.max_relative_difference <= tolerance


def agreement(candidate: Volume, reference: Volume) -> Agreement:
    if not candidate.same_grid(reference):
        return Agreement(float("inf"), -1, 0, False)
    a, b = candidate.array.astype(np.float64), reference.array.astype(np.float64)
    nan_mismatches = int(np.count_nonzero(np.isnan(a) != np.isnan(b)))
    both = ~np.isnan(a) & ~np.isnan(b)
    if not both.any():
        return Agreement(0.0, nan_mismatches, 0, True)
    scale = np.maximum(np.abs(b[both]), RELATIVE_FLOOR * np.abs(b[both]).max())
    scale[scale == 0] = 1.0  # an all-zero map: the absolute difference is the relative one
    relative = np.abs(a[both] - b[both]) / scale
    return Agreement(float(relative.max()), nan_mismatches, int(both.sum()), True)


def agreements(candidate: dict[str, Volume], reference: dict[str, Volume]) -> dict[str, Agreement]:
    """Agreement per feature name present in ``reference``."""
    return {name: agreement(candidate[name], volume) for name, volume in reference.items()}
