"""Texture matrices as weighted element lists: sums over a matrix's cells without the dense matrix.

Both modes describe a matrix by elements (pairs, runs, zones, voxels with their dependence), each
with a key naming its cell and a weight: the voxel mode lists every pair or run of a kernel with
weight 1 (a 3x3x3 kernel has few, so a dense levels x levels matrix per kernel would be mostly
empty), the whole-tumor mode lists the matrix's non-zero cells with their counts. A cell's count
is the total weight of its row's elements with the same key, and a sum over the cells of the
normalised matrix becomes an expectation over elements: sum_cells p g(p) = sum_elements (w / n) g(p),
p the element's cell's probability. So one formula serves both modes.

Elements without weight (padding) must hold finite values: weights zero them in every sum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

EPS = float(torch.finfo(torch.float64).eps)  # numpy.spacing(1), pyradiomics' eps in every logarithm


def count_equal(keys: torch.Tensor, weights: torch.Tensor, key_range: int | None = None) -> torch.Tensor:
    """For each element, the total weight of its row's elements (last axis) with its key.

    An element without weight gets a number that means nothing: callers weigh or mask every count.

    Keys must be non-negative integers (below ``key_range`` where the caller knows a bound). Small key
    ranges are counted with a histogram per row, large ones by sorting each row. The counts are in the
    weights' type (the voxel mode's 0/1 weights in int32, which moves half of float64's memory through
    the histograms; divisions make them float64).
    """
    shape = keys.shape
    keys = keys.reshape(-1, shape[-1]).long()  # the histograms' index type
    weights = weights.reshape(-1, shape[-1])
    if key_range is None:
        key_range = int(keys.max()) + 1 if keys.numel() else 1
    # A histogram costs (rows x key range), a sort about (rows x width x log width).
    if key_range <= 16 * shape[-1]:
        counts = _histogram_counts(keys, weights, key_range)
    else:
        counts = _sorted_counts(keys, weights, key_range)
    return counts.reshape(shape)


def _histogram(parts: Sequence[torch.Tensor], weights: torch.Tensor, key_range: int) -> torch.Tensor:
    """(rows, key range): each row's total weight per key, over the (rows, width) int64 key tensors of ``parts``."""
    histogram = torch.zeros(weights.shape[0], key_range, dtype=weights.dtype, device=weights.device)
    for keys in parts:
        histogram.scatter_add_(1, keys, weights)
    return histogram


def _histogram_counts(keys: torch.Tensor, weights: torch.Tensor, key_range: int) -> torch.Tensor:
    return _histogram([keys], weights, key_range).gather(1, keys)


def _sorted_counts(keys: torch.Tensor, weights: torch.Tensor, key_range: int) -> torch.Tensor:
    # Weightless elements get a key above every other, so they gather in their own, ignored, group.
    ordered, order = torch.sort(torch.where(weights > 0, keys, key_range), dim=1)
    starts = torch.ones_like(ordered, dtype=torch.bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group = torch.cumsum(starts, dim=1) - 1
    sums = torch.zeros_like(weights).scatter_add_(1, group, weights.gather(1, order))
    return torch.empty_like(weights).scatter_(1, order, sums.gather(1, group))


def entropy_of_keys(
    parts: Sequence[torch.Tensor], weights: torch.Tensor, total: torch.Tensor, key_range: int | None = None
) -> torch.Tensor:
    """-sum p log2(p + eps) over the cells named by the elements' keys (see ``entropy_of_counts``).

    ``parts`` are key tensors whose elements count together, each with ``weights`` (the levels of both
    voxels of every pair). With fewer cells than elements, the sum runs over each row's histogram,
    c log2 c from a table, instead of over the elements.
    """
    if key_range is None:
        key_range = max(int(part.max()) for part in parts) + 1
    width = sum(part.shape[-1] for part in parts)
    if weights.is_floating_point() or key_range > width:
        keys = torch.cat(list(parts), -1) if len(parts) > 1 else parts[0]
        every_weight = torch.cat([weights] * len(parts), -1) if len(parts) > 1 else weights
        return entropy_of_counts(count_equal(keys, every_weight, key_range), every_weight, total)
    shape = weights.shape
    rows = weights.reshape(-1, shape[-1])
    histogram = _histogram([part.reshape(rows.shape).long() for part in parts], rows, key_range)
    # 0/1 weights: a cell holds a whole number up to the row's width
    cells = torch.arange(width + 1, dtype=torch.float64, device=weights.device)
    table = torch.xlogy(cells, cells) / math.log(2)
    sums = table.index_select(0, histogram.flatten()).view(histogram.shape).sum(-1).view(shape[:-1])
    return torch.log2(total) - sums / total


def entropy_of_counts(counts: torch.Tensor, weights: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    """-sum p log2(p + eps) over the cells, p = cell count / total (pyradiomics' entropy).

    A whole region's cells (float weights, one row) take pyradiomics' formula itself. The voxel mode's
    elements (0/1 weights, many rows) take log2(total) - sum log2(count) / total, the logarithm of the
    product of each row's counts (weightless elements count 1), one logarithm per 32 elements instead
    of one per element: whole counts below 2^31 keep a float64 product of 32 of them finite and within
    1e-14, and pyradiomics' eps moves the result by less than total x 1e-16 (a matrix of one cell
    gives 0 where pyradiomics gives -3e-16). NaN where ``total`` is NaN or 0 (an empty matrix).
    """
    if weights.is_floating_point():
        return -weighted_sum(torch.log2(counts / total[..., None] + EPS), weights) / total
    factors = torch.empty(counts.shape, dtype=torch.float64, device=counts.device)
    torch.mul(counts, weights, out=factors).clamp_(min=1)
    return torch.log2(total) - sum(torch.log2(part.prod(-1)) for part in factors.split(32, -1)) / total


def row_sum(values: torch.Tensor) -> torch.Tensor:
    """sum over the last axis in the values' own type: torch would first copy integers to int64 (counts of
    elements stay far below 2^31)."""
    return values.sum(-1, dtype=values.dtype)


def weighted_sum(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum over the last axis of weight x value."""
    return row_sum(values * weights)


def weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over the last axis (NaN where no weight)."""
    total = row_sum(weights).to(torch.float64)
    return weighted_sum(values, weights) / torch.where(total > 0, total, math.nan)


def variance(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Population variance over the last axis."""
    centre = weighted_mean(values, weights)[..., None]
    return weighted_mean((values - centre) ** 2, weights)
