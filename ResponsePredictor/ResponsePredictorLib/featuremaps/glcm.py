"""GLCM feature maps from each kernel's neighbour pairs (pyradiomics' definitions, symmetrical GLCM).

Per kernel and angle the features are computed as pyradiomics computes them from the normalised
matrix, then averaged over the angles that have pairs (numpy.nanmean). Joint Average is the plain
mean over the angles the whole region has pairs for, as in pyradiomics: a kernel missing one of
them gets NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property

import numpy as np
import torch

from .grouping import EPS, count_equal, entropy_of_counts, sum_over_cells
from .kernels import Kernels
from .pairs import KernelPairs, region_has_pairs

# Rows of kernels per eigenvalue chunk in MCC: each holds an (angles x levels x levels) matrix.
MCC_ELEMENTS_PER_CHUNK = 2**21


class _Coefficients:
    """The quantities several GLCM features share, computed once per batch when first needed."""

    def __init__(self, kernels: Kernels) -> None:
        self.kernels = kernels
        self.pairs = KernelPairs.of(kernels)
        self.max_level = float(kernels.volume.image.max_gray_level)  # pyradiomics' Ng

    @cached_property
    def mean_level(self) -> torch.Tensor:  # mu_x = mu_y
        p = self.pairs
        return p.mean(p.xf + p.yf) / 2

    @cached_property
    def variance(self) -> torch.Tensor:  # sigma_x^2 = sigma_y^2 (Sum of Squares)
        p, mu = self.pairs, self.mean_level[..., None]
        return p.mean((p.xf - mu) ** 2 + (p.yf - mu) ** 2) / 2

    @cached_property
    def cell_counts(self) -> torch.Tensor:
        """For each pair, the number of pairs of its kernel and angle with the same unordered levels."""
        p = self.pairs
        lx, ly = p.local_x, p.local_y
        base = int(lx.max()) + 1
        return count_equal(torch.minimum(lx, ly) * base + torch.maximum(lx, ly), p.valid)

    def cell_probability(self) -> torch.Tensor:
        """Each pair's cell's p(i, j) in the symmetrical, normalised GLCM."""
        p = self.pairs
        n = p.count[..., None]
        # An off-diagonal pair {i, j} fills the two cells (i, j) and (j, i), each with count/2n of the mass;
        # a diagonal pair fills (i, i) with count/n.
        return torch.where(p.x == p.y, self.cell_counts / n, self.cell_counts / (2 * n))

    def cell_sum(self, function: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """sum over the GLCM's cells of f(p(i, j))."""
        p = self.pairs
        cells_per_key = torch.where(p.x == p.y, 1.0, 2.0)  # (i, j) and (j, i) share one unordered key
        return sum_over_cells(cells_per_key * function(self.cell_probability()), self.cell_counts, p.valid)

    @cached_property
    def joint_entropy(self) -> torch.Tensor:  # HXY
        return self.cell_sum(lambda q: -q * torch.log2(q + EPS))

    @cached_property
    def marginal_entropy(self) -> torch.Tensor:  # HX = HY
        p = self.pairs
        x_counts, y_counts = p.endpoint_counts
        counts = torch.cat([x_counts, y_counts], -1)
        share = counts / (2 * p.count[..., None])
        return sum_over_cells(-share * torch.log2(share + EPS), counts, torch.cat([p.valid, p.valid], -1))

    @cached_property
    def marginal_cross_entropy(self) -> torch.Tensor:  # HXY1
        p = self.pairs
        x_counts, y_counts = p.endpoint_counts
        total = 2 * p.count[..., None]
        return p.mean(-torch.log2((x_counts / total) * (y_counts / total) + EPS))

    def distribution_entropy(self, key: torch.Tensor) -> torch.Tensor:
        """Entropy of the distribution of a per-pair key (|i - j| or i + j) under the GLCM."""
        p = self.pairs
        return entropy_of_counts(count_equal(key, p.valid), p.valid, p.count)


def _correlation(c: _Coefficients) -> torch.Tensor:
    p, mu, variance = c.pairs, c.mean_level[..., None], c.variance
    covariance = p.mean((p.xf - mu) * (p.yf - mu))
    correlation = covariance / (variance + EPS)
    return torch.where(variance == 0, 1.0, correlation)  # pyradiomics: a flat kernel correlates perfectly


def _imc1(c: _Coefficients) -> torch.Tensor:
    hx = c.marginal_entropy
    imc1 = (c.joint_entropy - c.marginal_cross_entropy) / hx
    # One gray level only: pyradiomics' HXY and HXY1 are then the same number, its IMC1 exactly 0.
    return torch.where(c.pairs.flat | (hx == 0), 0.0, imc1)


def _imc2(c: _Coefficients) -> torch.Tensor:
    p = c.pairs
    x_counts, y_counts = p.endpoint_counts
    counts = torch.cat([x_counts, y_counts], -1)
    share = counts / (2 * p.count[..., None])
    # HXY2 = -sum_ij px(i) py(j) log2(px(i) py(j) + eps) = 2 HX up to eps, which px(i) py(j) >= 1 / (2n)^2 dwarfs.
    hx_exact = sum_over_cells(-share * torch.log2(share), counts, torch.cat([p.valid, p.valid], -1))
    imc2 = (1 - torch.exp(-2 * (2 * hx_exact - c.joint_entropy))) ** 0.5
    return torch.where(p.flat, 0.0, imc2)


def _mcc(c: _Coefficients) -> torch.Tensor:
    """Maximal correlation coefficient: sqrt of the second largest eigenvalue of Q, per angle."""
    kernels, p = c.kernels, c.pairs
    image = kernels.volume.image
    if np.unique(image.gray[image.roi]).size < 2:
        return torch.ones_like(p.count)  # pyradiomics: a region of one gray level has MCC 1
    # Q only has rows for the levels present in the kernel; the others hold zeros (eigenvalue 0). So a
    # kernel of one level has second eigenvalue 0, and the others are solved in groups of equal size.
    levels = kernels.local_level.amax(1)
    result = torch.zeros_like(p.count)
    for width in torch.unique(levels).tolist():
        if width < 2:
            continue
        rows = torch.nonzero(levels == width).flatten()
        chunk = max(1, MCC_ELEMENTS_PER_CHUNK // (p.x.shape[1] * width * width))
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            result[part] = _second_eigenvalue_root(p.local_x[part], p.local_y[part], p.valid[part], width)
    return result


def _second_eigenvalue_root(lx: torch.Tensor, ly: torch.Tensor, valid: torch.Tensor, width: int) -> torch.Tensor:
    """sqrt of Q's second largest eigenvalue for (rows, angles) GLCMs given by local level pairs (1 ... width)."""
    rows, angles = lx.shape[:2]
    dump = width * width  # invalid pairs are counted in one extra cell, then dropped
    counts = torch.zeros(rows, angles, dump + 1, dtype=torch.float64, device=lx.device)
    ones = torch.ones_like(lx, dtype=torch.float64)
    counts.scatter_add_(2, torch.where(valid, (lx - 1) * width + ly - 1, dump), ones)
    counts.scatter_add_(2, torch.where(valid, (ly - 1) * width + lx - 1, dump), ones)
    matrix = counts[..., :dump].view(rows, angles, width, width)
    matrix = matrix / matrix.sum((-1, -2), keepdim=True).clamp(min=1)
    marginal = matrix.sum(-1)
    # Q = D^-1/2 (A A^T) D^1/2 with A(i, k) = p(i, k) / sqrt(px(i) py(k)): the same eigenvalues (up to
    # pyradiomics' eps in the denominator), from a symmetric matrix.
    scale = torch.where(marginal > 0, marginal.rsqrt(), 0.0)
    a = matrix * scale[..., :, None] * scale[..., None, :]
    eigenvalues = torch.linalg.eigvalsh(a @ a.transpose(-1, -2))
    return eigenvalues[..., -2].clamp(min=0).sqrt()


PER_ANGLE: dict[str, Callable[[_Coefficients], torch.Tensor]] = {
    "Autocorrelation": lambda c: c.pairs.mean(c.pairs.xf * c.pairs.yf),
    "ClusterProminence": lambda c: c.pairs.mean((c.pairs.xf + c.pairs.yf - 2 * c.mean_level[..., None]) ** 4),
    "ClusterShade": lambda c: c.pairs.mean((c.pairs.xf + c.pairs.yf - 2 * c.mean_level[..., None]) ** 3),
    "ClusterTendency": lambda c: c.pairs.mean((c.pairs.xf + c.pairs.yf - 2 * c.mean_level[..., None]) ** 2),
    "Contrast": lambda c: c.pairs.mean((c.pairs.xf - c.pairs.yf) ** 2),
    "Correlation": _correlation,
    "DifferenceAverage": lambda c: c.pairs.mean(c.pairs.difference.to(torch.float64)),
    "DifferenceEntropy": lambda c: c.distribution_entropy(c.pairs.difference),
    "DifferenceVariance": lambda c: c.pairs.mean(
        (c.pairs.difference - c.pairs.mean(c.pairs.difference.to(torch.float64))[..., None]) ** 2
    ),
    "JointEnergy": lambda c: c.cell_sum(lambda q: q**2),
    "JointEntropy": lambda c: c.joint_entropy,
    "Imc1": _imc1,
    "Imc2": _imc2,
    "Idm": lambda c: c.pairs.mean(1 / (1 + c.pairs.difference.to(torch.float64) ** 2)),
    "MCC": _mcc,
    "Idmn": lambda c: c.pairs.mean(1 / (1 + c.pairs.difference.to(torch.float64) ** 2 / c.max_level**2)),
    "Id": lambda c: c.pairs.mean(1 / (1 + c.pairs.difference.to(torch.float64))),
    "Idn": lambda c: c.pairs.mean(1 / (1 + c.pairs.difference.to(torch.float64) / c.max_level)),
    "InverseVariance": lambda c: c.pairs.mean(
        torch.where(c.pairs.difference > 0, 1 / c.pairs.difference.to(torch.float64).clamp(min=1) ** 2, 0.0)
    ),
    "MaximumProbability": lambda c: _maximum_probability(c),
    "SumAverage": lambda c: c.pairs.mean(c.pairs.xf + c.pairs.yf),
    "SumEntropy": lambda c: c.distribution_entropy(c.pairs.x + c.pairs.y),
    "SumSquares": lambda c: c.variance,
}


def _maximum_probability(c: _Coefficients) -> torch.Tensor:
    return torch.where(c.pairs.valid, c.cell_probability(), -math.inf).amax(-1)


def _joint_average(c: _Coefficients) -> torch.Tensor:
    roi, radius = c.kernels.volume.image.roi, c.kernels.volume.radius
    # The angles pyradiomics keeps: some kernel of the region has a pair along them.
    used = [a for a, step in enumerate(c.pairs.angles) if np.abs(step).max() <= radius and region_has_pairs(roi, step)]
    return c.mean_level[:, used].mean(1)


def compute(kernels: Kernels, features: list[str]) -> dict[str, torch.Tensor]:
    coefficients = _Coefficients(kernels)
    results = {}
    for name in features:
        if name == "JointAverage":
            results[name] = _joint_average(coefficients)
        else:
            per_angle = PER_ANGLE[name](coefficients)
            # An angle without pairs in this kernel has no matrix: NaN, left out of the mean (numpy.nanmean).
            per_angle = torch.where(torch.isnan(coefficients.pairs.count), torch.nan, per_angle)
            results[name] = torch.nanmean(per_angle, 1)
    return results
