"""Neighbour pairs: the elements of the co-occurrence matrices (GLCM) of a batch of rows, per angle.

Each element is an ordered pair of gray levels (x, y) with a weight: a voxel pair of a kernel
(weight 1) or a non-zero cell of a whole region's matrix (weight = its count). pyradiomics'
symmetrical GLCM is P + P^T: an element then stands for its count at (x, y) and again at (y, x),
so the normalised matrix is p(a, b) = (C(a, b) + C(b, a)) / 2n. Every statistic below is written
once for both kinds of matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from .grouping import EPS, count_equal, entropy_of_counts, sum_over_cells


@dataclass(frozen=True, eq=False)
class Pairs:
    """Pairs as (rows, angles, elements) tensors."""

    x: torch.Tensor  # int64 gray level of the first voxel (1 ... Ng where weight > 0)
    y: torch.Tensor  # int64 gray level of the second voxel
    weight: torch.Tensor  # 0 where there is no pair: int32 0/1 per voxel pair, or float64 cell counts
    local_x: torch.Tensor  # int64 rank of x among the levels present in the row (1 ...), for dense matrices
    local_y: torch.Tensor
    angles: np.ndarray  # (angles, 3) offsets; after weighting, one pseudo-angle
    symmetric: bool

    def collapsed(self, angle_weights: torch.Tensor) -> Pairs:
        """All angles as one matrix, each angle's pairs weighted (pyradiomics' weightingNorm)."""

        def merge(tensor: torch.Tensor) -> torch.Tensor:
            return tensor.flatten(-2)[..., None, :]

        weight = merge(self.weight * angle_weights[:, None])
        return Pairs(merge(self.x), merge(self.y), weight, merge(self.local_x), merge(self.local_y),
                     self.angles[:1], self.symmetric)

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
        return torch.where(self.weight > 0, values * self.weight, 0.0).sum(-1) / self.count

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
    def _cells(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per element: its cell's count, probability, and the number of matrix cells its key stands for."""
        lx, ly = self.local_x, self.local_y
        base = int(torch.maximum(lx, ly).max()) + 1 if lx.numel() else 1
        if self.symmetric:
            # (a, b) and (b, a) hold the same value in P + P^T: one key for both.
            counts = count_equal(torch.minimum(lx, ly) * base + torch.maximum(lx, ly), self.weight)
            diagonal = self.x == self.y
            n = self.count[..., None]
            probability = torch.where(diagonal, counts / n, counts / (2 * n))
            return counts, probability, torch.where(diagonal, 1.0, 2.0)
        counts = count_equal(lx * base + ly, self.weight)
        return counts, counts / self.count[..., None], torch.ones_like(counts)

    def cell_sum(self, function: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """sum over the normalised matrix's cells of f(p(a, b))."""
        counts, probability, cells = self._cells
        return sum_over_cells(cells * function(probability), counts, self.weight)

    def maximum_probability(self) -> torch.Tensor:
        _, probability, _ = self._cells
        return torch.where(self.weight > 0, probability, -torch.inf).amax(-1)

    @cached_property
    def joint_entropy(self) -> torch.Tensor:  # HXY
        return self.cell_sum(lambda q: -q * torch.log2(q + EPS))

    def distribution_entropy(self, key: torch.Tensor) -> torch.Tensor:
        """Entropy of the distribution of a per-pair key symmetric in x and y (|i - j|, i + j)."""
        return entropy_of_counts(count_equal(key, self.weight), self.weight, self.count)

    # -- marginals -----------------------------------------------------------------------------

    @cached_property
    def _marginal_counts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """For each pair, the marginal mass of its x level in px and of its y level in py (unnormalised)."""
        if self.symmetric:
            levels = torch.cat([self.local_x, self.local_y], -1)
            counts = count_equal(levels, torch.cat([self.weight, self.weight], -1))
            width = self.x.shape[-1]
            # px = py = (row sums + column sums) / 2n
            return counts[..., :width], counts[..., width:]
        return count_equal(self.local_x, self.weight), count_equal(self.local_y, self.weight)

    @cached_property
    def _marginal_total(self) -> torch.Tensor:
        return (2 * self.count if self.symmetric else self.count)[..., None]

    def marginal_probabilities(self) -> tuple[torch.Tensor, torch.Tensor]:
        """px(x) and py(y) of each pair."""
        x_counts, y_counts = self._marginal_counts
        return x_counts / self._marginal_total, y_counts / self._marginal_total

    def _marginal_entropy(self, counts: torch.Tensor, weights: torch.Tensor, exact: bool) -> torch.Tensor:
        share = counts / self._marginal_total
        log = torch.log2(share) if exact else torch.log2(share + EPS)
        return sum_over_cells(-share * log, counts, weights)

    def marginal_entropies(self, exact: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """HX and HY (with pyradiomics' eps in the logarithm unless ``exact``)."""
        x_counts, y_counts = self._marginal_counts
        if self.symmetric:
            both = torch.cat([x_counts, y_counts], -1)
            hx = self._marginal_entropy(both, torch.cat([self.weight, self.weight], -1), exact)
            return hx, hx
        return self._marginal_entropy(x_counts, self.weight, exact), self._marginal_entropy(y_counts, self.weight, exact)

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
