"""NGTDM features (pyradiomics' definitions) from each row's level table.

Sums over pairs of gray levels run over the levels present in the row (pyradiomics zeroes the
terms of absent levels).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .ngtdm_table import LevelTable
from .rows import TextureRows


class _Levels:
    """Per row: each present level's value i, share p_i and summed difference s_i, and their pairs."""

    def __init__(self, table: LevelTable) -> None:
        self.present = table.count > 0
        self.voxels = table.count.sum(1)  # Nvp
        self.i = table.level
        self.p = table.count / self.voxels[:, None]
        self.s = table.difference
        self.levels = self.present.sum(1).to(torch.float64)  # Ngp

    # Every value of an absent level's slot is finite (its p, s and i are 0): a product with the mask zeroes it.
    def level_sum(self, values: torch.Tensor) -> torch.Tensor:
        return (values * self.present).sum(1)

    def pair_sum(self, values: torch.Tensor) -> torch.Tensor:
        return (values * (self.present[:, :, None] & self.present[:, None, :])).sum((1, 2))

    @staticmethod
    def pairwise(tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return tensor[:, :, None], tensor[:, None, :]


def _divide_or(numerator: torch.Tensor, denominator: torch.Tensor, otherwise: float) -> torch.Tensor:
    return torch.where(denominator != 0, numerator / torch.where(denominator != 0, denominator, 1.0), otherwise)


def _coarseness(levels: _Levels) -> torch.Tensor:
    return _divide_or(torch.ones_like(levels.voxels), levels.level_sum(levels.p * levels.s), 1e6)


def _contrast(levels: _Levels) -> torch.Tensor:
    pi, pj = levels.pairwise(levels.p)
    i, j = levels.pairwise(levels.i)
    spread = levels.pair_sum(pi * pj * (i - j) ** 2)
    contrast = spread * levels.level_sum(levels.s) / levels.voxels
    return _divide_or(contrast, levels.levels * (levels.levels - 1), 0.0)


def _busyness(levels: _Levels) -> torch.Tensor:
    weighted_i, weighted_j = levels.pairwise(levels.i * levels.p)
    spread = levels.pair_sum((weighted_i - weighted_j).abs())
    return _divide_or(levels.level_sum(levels.p * levels.s), spread, 0.0)


def _complexity(levels: _Levels) -> torch.Tensor:
    i, j = levels.pairwise(levels.i)
    pi, pj = levels.pairwise(levels.p)
    psi, psj = levels.pairwise(levels.p * levels.s)
    return levels.pair_sum((i - j).abs() * (psi + psj) / (pi + pj).clamp(min=1e-300)) / levels.voxels


def _strength(levels: _Levels) -> torch.Tensor:
    i, j = levels.pairwise(levels.i)
    pi, pj = levels.pairwise(levels.p)
    return _divide_or(levels.pair_sum((pi + pj) * (i - j) ** 2), levels.level_sum(levels.s), 0.0)


FEATURES: dict[str, Callable[[_Levels], torch.Tensor]] = {
    "Coarseness": _coarseness,
    "Contrast": _contrast,
    "Busyness": _busyness,
    "Complexity": _complexity,
    "Strength": _strength,
}


def compute(rows: TextureRows, features: list[str]) -> dict[str, torch.Tensor]:
    levels = _Levels(rows.neighbourhood())
    return {name: FEATURES[name](levels) for name in features}
