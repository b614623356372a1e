"""Principal component lengths of an ROI (axis lengths, elongation, flatness) as pyradiomics 3.0.1 defines them.

pyradiomics takes the eigenvalues of the population covariance of the voxel centres' coordinates in mm,
sets tiny negative ones (> -1e-10, round-off for flat ROIs) to 0, and returns NaN for a feature whose
eigenvalue is still negative or whose ratio is 0 / 0 (a single voxel). The covariance is computed here
from integer index moments, exact up to the final scaling, so a flat ROI has exactly zero variance across
its plane instead of round-off noise; the resulting lengths differ from pyradiomics' only by that noise.
"""

from __future__ import annotations

import math
from itertools import combinations, combinations_with_replacement

import numpy as np


def principal_moments(mask: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Eigenvalues (ascending, mm2) of the coordinate covariance of a non-empty mask; spacing in array order."""
    index = [np.arange(size, dtype=np.int64) for size in mask.shape]
    # Voxel counts per index pair of every two axes: all first and second moments follow from these.
    joint = {
        pair: mask.sum(axis=tuple(k for k in range(mask.ndim) if k not in pair), dtype=np.int64)
        for pair in combinations(range(mask.ndim), 2)
    }

    def marginal(axis: int) -> np.ndarray:
        pair = next(pair for pair in joint if axis in pair)
        return joint[pair].sum(axis=1 - pair.index(axis))

    n = int(np.count_nonzero(mask))
    first = [int(index[a] @ marginal(a)) for a in range(mask.ndim)]
    covariance = np.zeros((mask.ndim, mask.ndim))
    for a, b in combinations_with_replacement(range(mask.ndim), 2):
        if a == b:
            second = int((index[a] * index[a]) @ marginal(a))
        else:
            second = int(index[a] @ joint[a, b] @ index[b])
        numerator = n * second - first[a] * first[b]  # Python ints: exact, cannot overflow
        covariance[a, b] = covariance[b, a] = numerator / (n * n) * spacing[a] * spacing[b]
    eigenvalues = np.linalg.eigvalsh(covariance)
    eigenvalues[(eigenvalues < 0) & (eigenvalues > -1e-10)] = 0.0  # keeps them ascending
    return eigenvalues


def axis_length(eigenvalue: float) -> float:
    """4 sqrt(lambda); NaN for a negative eigenvalue, as pyradiomics."""
    return math.nan if eigenvalue < 0 else 4.0 * math.sqrt(eigenvalue)


def axis_ratio(smaller: float, larger: float) -> float:
    """sqrt(smaller / larger) (elongation, flatness); NaN for a negative eigenvalue or 0 / 0, as pyradiomics."""
    if smaller < 0 or larger <= 0:
        return math.nan
    return math.sqrt(smaller / larger)
