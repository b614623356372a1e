"""Largest distances between mesh vertices (Feret diameters), equal to pyradiomics 3.0.1's all-pairs search.

pyradiomics compares every pair of mesh vertices, which is quadratic in the surface size. The largest
distance of a point set is attained between two vertices of its convex hull, so only those are compared
here. Per-plane diameters (pairs with the same coordinate along one axis) first bound every plane's
diameter from its extents along a fan of directions and only compute the planes that can still win.

Points come as doubled voxel indices (exact integers; the hull is computed on those, which is exact and
unaffected by spacing, an affine map). Distances are computed from ``(index / 2) * spacing`` and summed
axis by axis in array order, exactly as pyradiomics does, so the maxima match it to the last bit.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError

# Directions used to bound per-plane diameters: the extent of a point set along the direction nearest to
# its diameter (at most pi / (2 * _DIRECTIONS) away) is at least diameter * cos(that angle).
_DIRECTIONS = 32
_ANGLES = np.pi * np.arange(_DIRECTIONS) / _DIRECTIONS
_COS, _SIN = np.cos(_ANGLES), np.sin(_ANGLES)
# Inflated a little so that round-off in the extents can never prune the winning plane.
_BOUND = (1 + 1e-9) / np.cos(np.pi / (2 * _DIRECTIONS))

# Upper limit of pairs compared at once, which bounds the memory of the brute-force step (~50 MB).
_PAIRS_PER_BLOCK = 2_000_000


def _hull_points(points: np.ndarray) -> np.ndarray:
    """The vertices of the convex hull, or all points when they span less than the full dimension."""
    if len(points) <= points.shape[1] + 1:
        return points
    try:
        return points[ConvexHull(points).vertices]
    except QhullError:  # flat (coplanar or collinear) sets: few points on a grid line or plane
        return points


def _largest_squared_distance(points: np.ndarray) -> float:
    best = 0.0
    rows = max(1, _PAIRS_PER_BLOCK // max(len(points), 1))
    for start in range(0, len(points), rows):
        block, rest = points[start:start + rows], points[start:]
        squared = np.zeros((len(block), len(rest)))
        for axis in range(points.shape[1]):  # summed axis by axis, in pyradiomics' order
            step = block[:, None, axis] - rest[None, :, axis]
            squared += step * step
        best = max(best, float(squared.max()))
    return best


def max_distance(half_indices: np.ndarray, spacing: np.ndarray) -> float:
    """Largest distance (mm) between points given as doubled voxel indices [n, ndim]; spacing in array order."""
    if len(half_indices) < 2:
        return 0.0
    candidates = _hull_points(half_indices)
    return float(np.sqrt(_largest_squared_distance((candidates * 0.5) * spacing)))


def max_in_plane_distance(half_indices: np.ndarray, spacing: np.ndarray, axis: int) -> float:
    """Largest distance (mm) between two points that share their coordinate along ``axis``."""
    order = np.argsort(half_indices[:, axis], kind="stable")
    plane = half_indices[order, axis]
    in_plane = np.delete(half_indices[order], axis, axis=1)
    plane_spacing = np.delete(spacing, axis)
    starts = np.flatnonzero(np.r_[True, plane[1:] != plane[:-1]])
    ends = np.r_[starts[1:], len(plane)]

    rows, columns = ((in_plane * 0.5) * plane_spacing).T
    # [direction, point], so that reduceat runs along contiguous rows; broadcasting beats a BLAS call here.
    projected = _COS[:, None] * rows + _SIN[:, None] * columns
    extents = np.maximum.reduceat(projected, starts, axis=1) - np.minimum.reduceat(projected, starts, axis=1)
    upper = extents.max(axis=0) * _BOUND
    best = 0.0
    for index in np.argsort(-upper, kind="stable"):
        if upper[index] <= best:
            break
        best = max(best, max_distance(in_plane[starts[index]:ends[index]], plane_spacing))
    return best
