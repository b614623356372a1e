"""Features shared by the run-length, size-zone and dependence matrices, computed from element lists.

GLRLM (runs), GLSZM (zones) and GLDM (voxels with their dependence) all describe a region by a
list of elements, each with a gray level ``g``, a size ``s`` (run length, zone size, dependence
count + 1) and a weight (how many such elements: 1 per element in the voxel mode, the matrix cell's
count in the whole-tumor mode); their features are the same functions of that list under
different names (pyradiomics' definitions).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import torch

from .grouping import count_equal, entropy_of_keys, row_sum, variance, weighted_mean, weighted_sum


class Elements:
    """Elements (last axis) with gray level, size and weight (0: no element); statistics per row."""

    def __init__(self, level: torch.Tensor, size: torch.Tensor, weight: torch.Tensor,
                 ranges: tuple[int, int] | None = None) -> None:
        self.weight = weight  # int32 0/1 per element, or float64 cell counts
        self.level_key = level
        self.size_key = size
        # levels and sizes are below these, where the maker knows bounds (else: their maxima + 1)
        self.ranges = ranges

    # Padding elements get level and size 1, so that 1 / g^2 and 1 / s^2 stay finite under their zero weight.
    @cached_property
    def g(self) -> torch.Tensor:
        return torch.where(self.weight > 0, self.level_key, 1).to(torch.float64)

    @cached_property
    def s(self) -> torch.Tensor:
        return torch.where(self.weight > 0, self.size_key, 1).to(torch.float64)

    @cached_property
    def count(self) -> torch.Tensor:
        """Nr / Nz; NaN for an empty matrix."""
        total = row_sum(self.weight).to(torch.float64)
        return torch.where(total > 0, total, torch.nan)

    @cached_property
    def percentage(self) -> torch.Tensor:
        """Elements per voxel: Nr / Np, Nz / Np (the voxels of runs or zones are the region's voxels)."""
        return self.count / (self.s * self.weight).sum(-1)

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        return weighted_mean(values, self.weight)

    def non_uniformity(self, key: torch.Tensor) -> torch.Tensor:
        """sum over values of key of (number of elements with that value)^2: each element adds its value's count."""
        return weighted_sum(count_equal(key, self.weight), self.weight)

    def entropy(self) -> torch.Tensor:
        levels, sizes = self.ranges or (int(self.level_key.max()) + 1, int(self.size_key.max()) + 1)
        # Computed in the inputs' type (wide enough for the keys' range), written as the histograms' int64
        # index: one pass, also over levels broadcast along the angles.
        size = self.size_key if levels * sizes < 2**15 else self.size_key.long()
        key = torch.empty(torch.broadcast_shapes(size.shape, self.level_key.shape), dtype=torch.int64, device=size.device)
        torch.add(size, self.level_key, alpha=sizes, out=key)
        return entropy_of_keys([key], self.weight, self.count, levels * sizes)

    def collapsed(self, axis_weights: torch.Tensor) -> Elements:
        """The elements of all angles (axis -2) as one matrix, each angle's weighted (pyradiomics' weightingNorm)."""
        weight = (self.weight * axis_weights[:, None]).flatten(-2)[..., None, :]
        return Elements(self.level_key.flatten(-2)[..., None, :], self.size_key.flatten(-2)[..., None, :], weight,
                        self.ranges)


def common_features(
    *, size: str, non_uniformity: str, gray_emphasis: str, large: str, small: str
) -> dict[str, Callable[[Elements], torch.Tensor]]:
    """The features, named with one matrix's words (GLRLM: size='Run', non_uniformity='RunLength',
    gray_emphasis='Run', large='LongRun', small='ShortRun')."""
    return {
        f"{small}Emphasis": lambda e: e.mean(1 / e.s**2),
        f"{large}Emphasis": lambda e: e.mean(e.s**2),
        "GrayLevelNonUniformity": lambda e: e.non_uniformity(e.level_key) / e.count,
        "GrayLevelNonUniformityNormalized": lambda e: e.non_uniformity(e.level_key) / e.count**2,
        f"{non_uniformity}NonUniformity": lambda e: e.non_uniformity(e.size_key) / e.count,
        f"{non_uniformity}NonUniformityNormalized": lambda e: e.non_uniformity(e.size_key) / e.count**2,
        "GrayLevelVariance": lambda e: variance(e.g, e.weight),
        f"{size}Variance": lambda e: variance(e.s, e.weight),
        f"{size}Entropy": lambda e: e.entropy(),
        f"LowGrayLevel{gray_emphasis}Emphasis": lambda e: e.mean(1 / e.g**2),
        f"HighGrayLevel{gray_emphasis}Emphasis": lambda e: e.mean(e.g**2),
        f"{small}LowGrayLevelEmphasis": lambda e: e.mean(1 / (e.g**2 * e.s**2)),
        f"{small}HighGrayLevelEmphasis": lambda e: e.mean(e.g**2 / e.s**2),
        f"{large}LowGrayLevelEmphasis": lambda e: e.mean(e.s**2 / e.g**2),
        f"{large}HighGrayLevelEmphasis": lambda e: e.mean(e.g**2 * e.s**2),
    }
