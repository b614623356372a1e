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

from .grouping import EPS, count_equal, entropy_of_counts, weighted_sum


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
        n = self.weight.sum(-1, dtype=torch.float64)
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
    def cell_probability(self) -> torch.Tensor:
        """Per pair: the probability of its cell in the normalised matrix (the same for (x, y) and (y, x)
        of a symmetrical matrix). Sums over the cells are means over the pairs: sum p g(p) = E[g(p)]."""
        lx, ly, base = self._keyed_levels
        n = self.count[..., None]
        if self.symmetric:
            # (a, b) and (b, a) hold the same value in P + P^T, half of the pairs {a, b} each.
            counts = count_equal(torch.minimum(lx, ly) * base + torch.maximum(lx, ly), self.weight)
            return torch.where(self.x == self.y, counts / n, counts / (2 * n))
        return count_equal(lx * base + ly, self.weight) / n

    def maximum_probability(self) -> torch.Tensor:
        return torch.where(self.weight > 0, self.cell_probability, -torch.inf).amax(-1)

    @cached_property
    def joint_entropy(self) -> torch.Tensor:  # HXY
        return -self.mean(torch.log2(self.cell_probability + EPS))

    def distribution_entropy(self, key: torch.Tensor) -> torch.Tensor:
        """Entropy of the distribution of a per-pair key symmetric in x and y (|i - j|, i + j)."""
        return entropy_of_counts(count_equal(key, self.weight), self.weight, self.count)

    # -- marginals -----------------------------------------------------------------------------

    @cached_property
    def _marginal_counts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """For each pair, the marginal mass of its x level in px and of its y level in py (unnormalised)."""
        if self.symmetric:
            lx, ly, _ = self._keyed_levels
            counts = count_equal(torch.cat([lx, ly], -1), torch.cat([self.weight, self.weight], -1))
            width = self.x.shape[-1]
            # px = py = (row sums + column sums) / 2n
            return counts[..., :width], counts[..., width:]
        lx, ly, _ = self._keyed_levels
        return count_equal(lx, self.weight), count_equal(ly, self.weight)

    @cached_property
    def _marginal_total(self) -> torch.Tensor:
        return (2 * self.count if self.symmetric else self.count)[..., None]

    @cached_property
    def marginal_probabilities(self) -> tuple[torch.Tensor, torch.Tensor]:
        """px(x) and py(y) of each pair."""
        x_counts, y_counts = self._marginal_counts
        return x_counts / self._marginal_total, y_counts / self._marginal_total

    @cached_property
    def marginal_entropies(self) -> tuple[torch.Tensor, torch.Tensor]:
        """HX = -E[log2(px(X) + eps)] and HY, pyradiomics' eps included."""
        px, py = self.marginal_probabilities
        log_x, log_y = torch.log2(px + EPS), torch.log2(py + EPS)
        return -self.mean(log_x, log_y), -self.mean(log_y, log_x)

    @cached_property
    def single_level_marginals(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows, angles) whether px, and whether py, has one level only (then p(a, b) = px(a) py(b))."""
        px, py = self.marginal_probabilities
        # Weighted (weightingNorm) counts are sums of fractions: compare up to their round-off.
        absent = self.weight == 0
        return ((px >= 1 - 1e-12) | absent).all(-1), ((py >= 1 - 1e-12) | absent).all(-1)

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
