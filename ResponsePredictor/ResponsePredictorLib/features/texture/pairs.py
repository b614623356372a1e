"""Neighbour pairs: the elements of the co-occurrence matrices (GLCM) of a batch of rows, per angle.

Each element is an ordered pair of gray levels (x, y) with a weight: a voxel pair of a kernel
(weight 1) or a non-zero cell of a whole region's matrix (weight = its count). pyradiomics'
symmetrical GLCM is P + P^T: an element then stands for its count at (x, y) and again at (y, x),
so the normalised matrix is p(a, b) = (C(a, b) + C(b, a)) / 2n. Every statistic below is written
once for both kinds of matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from .grouping import count_equal, entropy_of_counts, entropy_of_keys, row_sum, weighted_sum


@dataclass(frozen=True, eq=False)
class Pairs:
    """Pairs as (rows, angles, elements) tensors."""

    x: torch.Tensor  # integer gray level of the first voxel (1 ... Ng where weight > 0)
    y: torch.Tensor  # integer gray level of the second voxel
    weight: torch.Tensor  # 0 where there is no pair: int32 0/1 per voxel pair, or float64 cell counts
    # (rows, Ng + 1): each gray level's rank among the levels present in the row (1 ...), 0 for absent
    # levels. Ranks name the cells of small per-row matrices (a kernel holds at most 27 levels).
    rank_table: torch.Tensor
    angles: np.ndarray  # (angles, 3) offsets; after weighting, one pseudo-angle
    symmetric: bool

    def collapsed(self, angle_weights: torch.Tensor) -> Pairs:
        """All angles as one matrix, each angle's pairs weighted (pyradiomics' weightingNorm)."""

        def merge(tensor: torch.Tensor) -> torch.Tensor:
            return tensor.flatten(-2)[..., None, :]

        weight = merge(self.weight * angle_weights[:, None])
        return Pairs(merge(self.x), merge(self.y), weight, self.rank_table, self.angles[:1], self.symmetric)

    @classmethod
    def joined(cls, groups: list[Pairs]) -> Pairs:
        """Groups of one (collapsed) angle each as one matrix: their elements side by side."""

        def side_by_side(name: str) -> torch.Tensor:
            return torch.cat([getattr(group, name) for group in groups], -1)

        first = groups[0]
        return Pairs(side_by_side("x"), side_by_side("y"), side_by_side("weight"), first.rank_table, first.angles,
                     first.symmetric)

    def _rank(self, levels: torch.Tensor) -> torch.Tensor:
        return self.rank_table.gather(1, levels.flatten(1).long()).view_as(levels)

    @cached_property
    def local_x(self) -> torch.Tensor:
        """The first voxels' levels as ranks among the row's levels."""
        return self._rank(self.x)

    @cached_property
    def local_y(self) -> torch.Tensor:
        return self._rank(self.y)

    @cached_property
    def _keyed_levels(self) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The levels that name cells, and their count: the gray levels themselves when few enough to count
        each row's cells with a histogram (see ``count_equal``), else their ranks in the row."""
        levels = self.rank_table.shape[1]
        if levels * levels <= 16 * self.x.shape[-1]:
            return self.x, self.y, levels
        return self.local_x, self.local_y, int(torch.maximum(self.local_x, self.local_y).max()) + 1

    @cached_property
    def count(self) -> torch.Tensor:
        """(rows, angles) n, the matrix's total before symmetrising; NaN for an angle without pairs."""
        n = row_sum(self.weight).to(torch.float64)
        return torch.where(n > 0, n, torch.nan)

    def mean(self, values: torch.Tensor, swapped: torch.Tensor | None = None) -> torch.Tensor:
        """E[f(X, Y)] under the normalised matrix, given f(x, y) per pair; for an f that is not symmetric in
        its two levels, ``swapped`` holds f(y, x), which a symmetrical matrix counts as well."""
        if self.symmetric and swapped is not None:
            values = (values + swapped) / 2
        return weighted_sum(values, self.weight) / self.count

    @cached_property
    def xf(self) -> torch.Tensor:
        return self.x.to(torch.float64)

    @cached_property
    def yf(self) -> torch.Tensor:
        return self.y.to(torch.float64)

    @cached_property
    def difference(self) -> torch.Tensor:
        return (self.x - self.y).abs()

    @cached_property
    def mean_x(self) -> torch.Tensor:  # ux
        return self.mean(self.xf, self.yf)

    @cached_property
    def mean_y(self) -> torch.Tensor:  # uy
        return self.mean(self.yf, self.xf)

    # -- cells of the joint matrix -------------------------------------------------------------

    @cached_property
    def _cell_keys(self) -> tuple[torch.Tensor, int]:
        """Per pair: the key of its cell in the matrix before symmetrising, and the keys' range; for a
        symmetrical matrix, of its unordered pair {x, y} (the triangular number of the higher level plus the lower)."""
        lx, ly, base = self._keyed_levels
        if base * base >= 2**15:  # computed in the levels' own type: widen small ones first
            lx, ly = lx.long(), ly.long()
        keys = torch.empty(lx.shape, dtype=torch.int64, device=lx.device)  # the histograms' index type
        if self.symmetric:
            low, high = torch.minimum(lx, ly), torch.maximum(lx, ly)
            return torch.add(low, (high * (high + 1)) >> 1, out=keys), base * (base + 1) // 2
        return torch.add(ly, lx, alpha=base, out=keys), base * base

    @cached_property
    def _cell_mass(self) -> torch.Tensor:
        """Per pair: its cell's value in the matrix before normalising, out of n (2n for a symmetrical one).

        In P + P^T a pair {a, b} (a != b) of count c puts c in (a, b) and again in (b, a); a diagonal
        cell holds 2c.
        """
        keys, key_range = self._cell_keys
        counts = count_equal(keys, self.weight, key_range)
        return counts + counts * (self.x == self.y) if self.symmetric else counts

    @cached_property
    def cell_probability(self) -> torch.Tensor:
        """Per pair: the probability of its cell in the normalised matrix (the same for (x, y) and (y, x)
        of a symmetrical matrix). Sums over the cells are means over the pairs: sum p g(p) = E[g(p)]."""
        return self._cell_mass / (self.count[..., None] * (2 if self.symmetric else 1))

    def maximum_probability(self) -> torch.Tensor:
        return torch.where(self.weight > 0, self.cell_probability, -torch.inf).amax(-1)

    @cached_property
    def joint_entropy(self) -> torch.Tensor:  # HXY
        # -E[log2 p] over the n pairs, p = mass / 2n for a symmetrical matrix: one bit more than over n.
        return entropy_of_counts(self._cell_mass, self.weight, self.count) + (1 if self.symmetric else 0)

    def distribution_entropy(self, key: torch.Tensor) -> torch.Tensor:
        """Entropy of the distribution of a per-pair key symmetric in x and y (|i - j|, i + j)."""
        return entropy_of_keys([key], self.weight, self.count)

    # -- marginals -----------------------------------------------------------------------------

    @cached_property
    def marginal_entropies(self) -> tuple[torch.Tensor, torch.Tensor]:
        """HX = -sum px log2(px + eps) and HY (pyradiomics' eps aside, see ``entropy_of_counts``)."""
        lx, ly, base = self._keyed_levels
        if self.symmetric:
            # px = py = (row sums + column sums) / 2n: the levels of both voxels of every pair, 2n of them
            entropy = entropy_of_keys([lx, ly], self.weight, 2 * self.count, base)
            return entropy, entropy
        return entropy_of_keys([lx], self.weight, self.count, base), entropy_of_keys([ly], self.weight, self.count, base)

    @cached_property
    def single_level_marginals(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows, angles) whether px, and whether py, has one level only (then p(a, b) = px(a) py(b)).

        A marginal of two levels or more has entropy above 1e-9 for any matrix of fewer than 10^10
        pairs; one level gives 0 up to round-off.
        """
        hx, hy = self.marginal_entropies
        return hx.abs() < 1e-12, hy.abs() < 1e-12

    def dense(self, rows: torch.Tensor, width: int) -> torch.Tensor:
        """The normalised matrices of ``rows`` as dense (rows, angles, width, width) tensors over local levels."""
        lx, ly, weight = self.local_x[rows], self.local_y[rows], self.weight[rows].to(torch.float64)
        count, angles = lx.shape[0], lx.shape[1]
        dump = width * width  # weightless pairs are counted in one extra cell, then dropped
        cells = torch.zeros(count, angles, dump + 1, dtype=torch.float64, device=lx.device)
        valid = weight > 0
        cells.scatter_add_(2, torch.where(valid, (lx - 1) * width + ly - 1, dump), weight)
        if self.symmetric:
            cells.scatter_add_(2, torch.where(valid, (ly - 1) * width + lx - 1, dump), weight)
        matrix = cells[..., :dump].view(count, angles, width, width)
        return matrix / matrix.sum((-1, -2), keepdim=True).clamp(min=1e-300)
