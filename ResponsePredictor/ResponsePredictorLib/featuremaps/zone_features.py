"""Features shared by the run-length, size-zone and dependence matrices, computed from element lists.

GLRLM (runs), GLSZM (zones) and GLDM (voxels with their dependence) all describe a kernel by a
list of elements, each with a gray level ``g`` and a size ``s`` (run length, zone size, dependence
count + 1); their features are the same functions of that list under different names.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .grouping import count_equal, entropy_of_counts, sum_over_cells, variance, weighted_mean


class Elements:
    """Elements (last axis) with gray level, size and validity; statistics per row."""

    def __init__(self, level: torch.Tensor, size: torch.Tensor, valid: torch.Tensor) -> None:
        self.valid = valid
        self.weight = valid.to(torch.float64)
        self.level_key = level
        self.size_key = size
        self.g = level.to(torch.float64)
        self.s = size.to(torch.float64)
        total = self.weight.sum(-1)
        self.count = torch.where(total > 0, total, torch.nan)  # Nr / Nz; NaN for an empty matrix

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        return weighted_mean(values, self.weight)

    def non_uniformity(self, key: torch.Tensor) -> torch.Tensor:
        """sum over values of key of (number of elements with that value)^2."""
        counts = count_equal(key, self.valid).to(torch.float64)
        return sum_over_cells(counts**2, counts, self.valid)

    def entropy(self) -> torch.Tensor:
        key = self.level_key * (int(self.size_key.max()) + 1) + self.size_key
        return entropy_of_counts(count_equal(key, self.valid), self.valid, self.count)


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
