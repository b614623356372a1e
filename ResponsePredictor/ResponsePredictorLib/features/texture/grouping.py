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

import torch

EPS = float(torch.finfo(torch.float64).eps)  # numpy.spacing(1), pyradiomics' eps in every logarithm


def count_equal(keys: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """For each element, the total weight of its row's elements (last axis) with its key.

    An element without weight gets a number that means nothing: callers weigh or mask every count.

    Keys must be non-negative integers. Small key ranges are counted with a histogram per row, large
    ones by sorting each row. The counting runs in the weights' type (the voxel mode's 0/1 weights in
    int32, which moves half of float64's memory through the histograms); the counts are float64.
    """
    shape = keys.shape
    keys = keys.reshape(-1, shape[-1]).long()  # the histograms' index type
    weights = weights.reshape(-1, shape[-1])
    key_range = int(keys.max()) + 1 if keys.numel() else 1
    # A histogram costs (rows x key range), a sort about (rows x width x log width).
    if key_range <= 16 * shape[-1]:
        counts = _histogram_counts(keys, weights, key_range)
    else:
        counts = _sorted_counts(keys, weights, key_range)
    return counts.reshape(shape).to(torch.float64)


def _histogram_counts(keys: torch.Tensor, weights: torch.Tensor, key_range: int) -> torch.Tensor:
    histogram = torch.zeros(keys.shape[0], key_range, dtype=weights.dtype, device=keys.device)
    histogram.scatter_add_(1, keys, weights)
    return histogram.gather(1, keys)


def _sorted_counts(keys: torch.Tensor, weights: torch.Tensor, key_range: int) -> torch.Tensor:
    # Weightless elements get a key above every other, so they gather in their own, ignored, group.
    ordered, order = torch.sort(torch.where(weights > 0, keys, key_range), dim=1)
    starts = torch.ones_like(ordered, dtype=torch.bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group = torch.cumsum(starts, dim=1) - 1
    sums = torch.zeros_like(weights).scatter_add_(1, group, weights.gather(1, order))
    return torch.empty_like(weights).scatter_(1, order, sums.gather(1, group))


def entropy_of_counts(counts: torch.Tensor, weights: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    """-sum p log2(p + eps) over the cells, p = cell count / total (pyradiomics' entropy, eps included).

    NaN where ``total`` is NaN or 0 (an empty matrix).
    """
    return -weighted_sum(torch.log2(counts / total[..., None] + EPS), weights) / total


def weighted_sum(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum over the last axis of weight x value."""
    return (values * weights).sum(-1)


def weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over the last axis (NaN where no weight)."""
    total = weights.sum(-1, dtype=torch.float64)
    return weighted_sum(values, weights) / torch.where(total > 0, total, math.nan)


def variance(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Population variance over the last axis."""
    centre = weighted_mean(values, weights)[..., None]
    return weighted_mean((values - centre) ** 2, weights)
