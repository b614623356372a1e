"""Counting equal values within each row: the histograms of small texture matrices without the matrices.

A kernel's texture matrix has few non-zero cells (a 3x3x3 kernel has at most 27 voxels), so instead
of a dense (gray levels x gray levels) matrix per kernel, each row lists its elements (pairs, runs,
zones) with a key naming their cell; an element's cell count is the number of valid elements of
its row with the same key. Sums over cells then become sums over elements: a cell of count c
holds c elements, so sum_cells h(c) = sum_elements h(c) / c.
"""

from __future__ import annotations

import math

import torch

EPS = float(torch.finfo(torch.float64).eps)  # numpy.spacing(1), pyradiomics' eps in every logarithm


def count_equal(keys: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """For each element, how many valid elements of its row (last axis) share its key (0 for invalid ones).

    Keys must be non-negative integers. Small key ranges are counted with a histogram per row, large
    ones by sorting each row.
    """
    shape = keys.shape
    keys = keys.reshape(-1, shape[-1])
    valid = valid.reshape(-1, shape[-1])
    key_range = int(keys.max()) + 1 if keys.numel() else 1
    # A histogram costs (rows x key range), a sort about (rows x width x log width).
    if key_range <= 16 * shape[-1]:
        counts = _histogram_counts(keys, valid, key_range)
    else:
        counts = _sorted_counts(keys, valid, key_range)
    return torch.where(valid, counts, 0).reshape(shape)


def _histogram_counts(keys: torch.Tensor, valid: torch.Tensor, key_range: int) -> torch.Tensor:
    histogram = torch.zeros(keys.shape[0], key_range, dtype=torch.int64, device=keys.device)
    histogram.scatter_add_(1, keys, valid.to(torch.int64))
    return histogram.gather(1, keys)


def _sorted_counts(keys: torch.Tensor, valid: torch.Tensor, key_range: int) -> torch.Tensor:
    # Invalid elements get a key above every valid one, so they gather in their own, ignored, group.
    ordered, order = torch.sort(torch.where(valid, keys, key_range), dim=1)
    starts = torch.ones_like(ordered, dtype=torch.bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group = torch.cumsum(starts, dim=1) - 1
    sizes = torch.zeros_like(group).scatter_add_(1, group, torch.ones_like(group))
    return torch.empty_like(group).scatter_(1, order, sizes.gather(1, group))


def first_of_group(keys: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """True for one valid element (the first) of each distinct key in its row."""
    position = torch.arange(keys.shape[-1], device=keys.device)
    same = (keys[..., :, None] == keys[..., None, :]) & valid[..., None, :] & (position[None, :] < position[:, None])
    return valid & ~same.any(-1)


def sum_over_cells(function_of_count: torch.Tensor, counts: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """sum over distinct cells of f(cell), given f evaluated at each element's cell count."""
    share = torch.where(valid, function_of_count / counts.clamp(min=1), 0.0)
    return share.sum(-1)


def entropy_of_counts(counts: torch.Tensor, valid: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    """-sum p log2(p + eps) over the cells, p = cell count / total (pyradiomics' entropy, eps included).

    NaN where ``total`` is NaN or 0 (an empty matrix).
    """
    probability = counts / total[..., None]
    entropy = -sum_over_cells(probability * torch.log2(probability + EPS), counts, valid)
    return torch.where(total > 0, entropy, torch.nan)


def weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over the last axis with 0/1 weights (NaN where no weight)."""
    total = weights.sum(-1)
    return torch.where(weights > 0, values, 0.0).sum(-1) / torch.where(total > 0, total, math.nan)


def variance(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Population variance over the last axis with 0/1 weights."""
    centre = weighted_mean(values, weights)[..., None]
    return weighted_mean((values - centre) ** 2, weights)
