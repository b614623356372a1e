"""NGTDM feature maps: each kernel voxel's difference from its neighbours' mean level (pyradiomics' definitions).

Sums over pairs of gray levels run over the levels present in the kernel (pyradiomics zeroes the
terms of absent levels), taking one representative voxel per level.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .grouping import first_of_group
from .kernels import Kernels, take


class _Levels:
    """Per kernel: for each present level (one representative voxel) its value i, share p_i and sum s_i."""

    def __init__(self, kernels: Kernels) -> None:
        gray = kernels.gray
        level = gray[:, :-1]
        inside = level > 0
        neighbours = take(gray, kernels.columns(kernels.volume.angles(bidirectional=True)))  # (B, angles, K)
        present = neighbours > 0
        count = present.sum(1).to(torch.float64)
        total = torch.where(present, neighbours, 0).sum(1).to(torch.float64)
        value = level.to(torch.float64)
        # pyradiomics: a voxel without neighbours in the region differs by 0.
        difference = torch.where(count > 0, (value - total / count.clamp(min=1)).abs(), 0.0)
        difference = torch.where(inside, difference, 0.0)
        same = (level[:, :, None] == level[:, None, :]) & inside[:, :, None] & inside[:, None, :]
        self.voxels = inside.sum(1).to(torch.float64)  # Nvp
        self.representative = first_of_group(level, inside)
        self.i = value
        self.p = same.sum(2).to(torch.float64) / self.voxels[:, None]
        self.s = (same.to(torch.float64) @ difference[:, :, None])[..., 0]
        self.levels = self.representative.sum(1).to(torch.float64)  # Ngp

    def level_sum(self, values: torch.Tensor) -> torch.Tensor:
        return torch.where(self.representative, values, 0.0).sum(1)

    def pair_sum(self, values: torch.Tensor) -> torch.Tensor:
        both = self.representative[:, :, None] & self.representative[:, None, :]
        return torch.where(both, values, 0.0).sum((1, 2))

    def pairwise(self, tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return tensor[:, :, None], tensor[:, None, :]


def _coarseness(levels: _Levels) -> torch.Tensor:
    total = levels.level_sum(levels.p * levels.s)
    return torch.where(total != 0, 1 / torch.where(total != 0, total, 1.0), 1e6)


def _contrast(levels: _Levels) -> torch.Tensor:
    pi, pj = levels.pairwise(levels.p)
    i, j = levels.pairwise(levels.i)
    spread = levels.pair_sum(pi * pj * (i - j) ** 2)
    contrast = spread * levels.level_sum(levels.s) / levels.voxels
    divisor = levels.levels * (levels.levels - 1)
    return torch.where(divisor != 0, contrast / torch.where(divisor != 0, divisor, 1.0), 0.0)


def _busyness(levels: _Levels) -> torch.Tensor:
    weighted_i, weighted_j = levels.pairwise(levels.i * levels.p)
    spread = levels.pair_sum((weighted_i - weighted_j).abs())
    numerator = levels.level_sum(levels.p * levels.s)
    return torch.where(spread != 0, numerator / torch.where(spread != 0, spread, 1.0), 0.0)


def _complexity(levels: _Levels) -> torch.Tensor:
    i, j = levels.pairwise(levels.i)
    pi, pj = levels.pairwise(levels.p)
    psi, psj = levels.pairwise(levels.p * levels.s)
    return levels.pair_sum((i - j).abs() * (psi + psj) / (pi + pj).clamp(min=1e-300)) / levels.voxels


def _strength(levels: _Levels) -> torch.Tensor:
    i, j = levels.pairwise(levels.i)
    pi, pj = levels.pairwise(levels.p)
    strength = levels.pair_sum((pi + pj) * (i - j) ** 2)
    total = levels.level_sum(levels.s)
    return torch.where(total != 0, strength / torch.where(total != 0, total, 1.0), 0.0)


FEATURES: dict[str, Callable[[_Levels], torch.Tensor]] = {
    "Coarseness": _coarseness,
    "Contrast": _contrast,
    "Busyness": _busyness,
    "Complexity": _complexity,
    "Strength": _strength,
}


def compute(kernels: Kernels, features: list[str]) -> dict[str, torch.Tensor]:
    levels = _Levels(kernels)
    return {name: FEATURES[name](levels) for name in features}
