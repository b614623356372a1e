"""GLCM features (pyradiomics' definitions), from the neighbour pairs of each row.

Per row and angle the features are computed from the normalised matrix, then averaged over the
angles that have pairs (numpy.nanmean). Joint Average is the plain mean over the angles pyradiomics
keeps (``TextureRows.angles_with_pairs``: those the region has pairs along; in the voxel mode, those some
kernel has pairs along), as in pyradiomics: a kernel of the voxel mode missing one of them gets NaN.
With ``weightingNorm`` the angles' matrices are first summed into one, each weighted by its
distance.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .grouping import EPS
from .pairs import Pairs
from .rows import TextureRows
from .weighting import angle_weights

# Rows of matrices per eigenvalue chunk in MCC: each holds an (angles x levels x levels) matrix.
MCC_ELEMENTS_PER_CHUNK = 2**21


def _correlation(p: Pairs) -> torch.Tensor:
    ux, uy = p.mean_x[..., None], p.mean_y[..., None]
    sigma_x = p.mean((p.xf - ux) ** 2, (p.yf - ux) ** 2) ** 0.5
    sigma_y = p.mean((p.yf - uy) ** 2, (p.xf - uy) ** 2) ** 0.5
    covariance = p.mean((p.xf - ux) * (p.yf - uy))
    correlation = covariance / (sigma_x * sigma_y + EPS)
    return torch.where(sigma_x * sigma_y == 0, 1.0, correlation)  # pyradiomics: a flat matrix correlates perfectly


def _imc1(p: Pairs) -> torch.Tensor:
    hx, hy = p.marginal_entropies
    # HXY1 = -sum p(a, b) log2(px(a) py(b) + eps) = HX + HY, up to eps, which px(a) py(b) >= 1 / (2n)^2 dwarfs.
    imc1 = (p.joint_entropy - hx - hy) / torch.maximum(hx, hy)
    # Marginals of one level each: pyradiomics' HXY and HXY1 are then the same number, its IMC1 exactly 0.
    single_x, single_y = p.single_level_marginals
    return torch.where(single_x & single_y, 0.0, imc1)


def _imc2(p: Pairs) -> torch.Tensor:
    # HXY2 = -sum_ab px(a) py(b) log2(px(a) py(b) + eps) = HX + HY up to eps, which px(a) py(b) >= 1 / (2n)^2 dwarfs.
    hx, hy = p.marginal_entropies
    imc2 = (1 - torch.exp(-2 * (hx + hy - p.joint_entropy))).clamp(min=0) ** 0.5
    # A marginal of one level makes p(a, b) = px(a) py(b): pyradiomics' HXY2 is then HXY itself, its IMC2 exactly 0.
    single_x, single_y = p.single_level_marginals
    return torch.where(single_x | single_y, 0.0, imc2)


def _mcc(p: Pairs, rows: TextureRows) -> torch.Tensor:
    """Maximal correlation coefficient: sqrt of the second largest eigenvalue of Q, per angle."""
    if rows.gray_levels_in_region < 2:
        return torch.ones_like(p.count)  # pyradiomics: a region of one gray level has MCC 1
    # Q only has rows for the levels present in the row; the others hold zeros (eigenvalue 0). So a row
    # of one level has second eigenvalue 0, and the others are solved in groups of equal size.
    levels = p.rank_table[:, -1]  # the number of levels present in each row
    result = torch.zeros_like(p.count)
    for width in torch.unique(levels).tolist():
        if width < 2:
            continue
        members = torch.nonzero(levels == width).flatten()
        chunk = max(1, MCC_ELEMENTS_PER_CHUNK // (p.x.shape[1] * width * width))
        for start in range(0, len(members), chunk):
            part = members[start : start + chunk]
            result[part] = _second_eigenvalue_root(p.dense(part, width))
    return result


def _second_eigenvalue_root(matrix: torch.Tensor) -> torch.Tensor:
    """sqrt of Q's second largest eigenvalue for (rows, angles, levels, levels) normalised matrices."""
    px, py = matrix.sum(-1), matrix.sum(-2)
    # Q(i, j) = sum_k p(i, k) p(j, k) / (px(i) py(k)) = Dx^-1/2 (A A^T) Dx^1/2 with A(i, k) = p(i, k) /
    # sqrt(px(i) py(k)): the same eigenvalues (up to pyradiomics' eps in the denominator), from a symmetric matrix.
    scale_x = torch.where(px > 0, px.rsqrt(), 0.0)
    scale_y = torch.where(py > 0, py.rsqrt(), 0.0)
    a = matrix * scale_x[..., :, None] * scale_y[..., None, :]
    eigenvalues = torch.linalg.eigvalsh(a @ a.transpose(-1, -2))
    return eigenvalues[..., -2].clamp(min=0).sqrt()


def _difference_variance(p: Pairs) -> torch.Tensor:
    difference = p.difference.to(torch.float64)
    return p.mean((difference - p.mean(difference)[..., None]) ** 2)


def _cluster(power: int) -> Callable[[Pairs], torch.Tensor]:
    return lambda p: p.mean((p.xf + p.yf - (p.mean_x + p.mean_y)[..., None]) ** power)


def _inverse(p: Pairs, scale: float, power: int) -> torch.Tensor:
    return p.mean(1 / (1 + (p.difference.to(torch.float64) / scale) ** power))


PER_ANGLE: dict[str, Callable[[Pairs, TextureRows], torch.Tensor]] = {
    "Autocorrelation": lambda p, r: p.mean(p.xf * p.yf),
    "ClusterProminence": lambda p, r: _cluster(4)(p),
    "ClusterShade": lambda p, r: _cluster(3)(p),
    "ClusterTendency": lambda p, r: _cluster(2)(p),
    "Contrast": lambda p, r: p.mean((p.xf - p.yf) ** 2),
    "Correlation": lambda p, r: _correlation(p),
    "DifferenceAverage": lambda p, r: p.mean(p.difference.to(torch.float64)),
    "DifferenceEntropy": lambda p, r: p.distribution_entropy(p.difference),
    "DifferenceVariance": lambda p, r: _difference_variance(p),
    "JointEnergy": lambda p, r: p.mean(p.cell_probability),
    "JointEntropy": lambda p, r: p.joint_entropy,
    "Imc1": lambda p, r: _imc1(p),
    "Imc2": lambda p, r: _imc2(p),
    "Idm": lambda p, r: _inverse(p, 1.0, 2),
    "MCC": _mcc,
    "Idmn": lambda p, r: _inverse(p, float(r.max_gray_level), 2),
    "Id": lambda p, r: _inverse(p, 1.0, 1),
    "Idn": lambda p, r: _inverse(p, float(r.max_gray_level), 1),
    "InverseVariance": lambda p, r: p.mean(
        torch.where(p.difference > 0, 1 / p.difference.to(torch.float64).clamp(min=1) ** 2, 0.0)
    ),
    "MaximumProbability": lambda p, r: p.maximum_probability(),
    "SumAverage": lambda p, r: p.mean(p.xf + p.yf),
    "SumEntropy": lambda p, r: p.distribution_entropy(p.x.to(torch.int32) + p.y),  # int16 levels would overflow
    "SumSquares": lambda p, r: p.mean((p.xf - p.mean_x[..., None]) ** 2, (p.yf - p.mean_x[..., None]) ** 2),
}


def compute(rows: TextureRows, features: list[str]) -> dict[str, torch.Tensor]:
    settings = rows.settings
    groups = rows.pairs(symmetric=bool(settings.get("symmetricalGLCM", True)))
    norm = settings.get("weightingNorm")
    weighted = norm is not None
    if weighted:
        device = groups[0].weight.device
        groups = [Pairs.joined([group.collapsed(angle_weights(group.angles, rows.spacing, norm, "glcm", device))
                                for group in groups])]

    def per_angle(value: Callable[[Pairs], torch.Tensor]) -> torch.Tensor:
        return torch.cat([value(group) for group in groups], 1)

    count = per_angle(lambda group: group.count)
    results = {}
    for name in features:
        if name == "JointAverage":
            # The angles pyradiomics keeps (all of them once weighted).
            used = [0] if weighted else rows.angles_with_pairs(np.concatenate([group.angles for group in groups]))
            results[name] = per_angle(lambda group: group.mean_x)[:, used].mean(1)
            continue
        values = per_angle(lambda group: PER_ANGLE[name](group, rows))
        # An angle without pairs in this row has no matrix: NaN, left out of the mean (numpy.nanmean).
        results[name] = torch.nanmean(torch.where(torch.isnan(count), torch.nan, values), 1)
    return results
