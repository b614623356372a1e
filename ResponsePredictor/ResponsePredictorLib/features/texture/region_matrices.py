"""The texture matrices of a whole region, as element lists of their non-zero cells with the cells' counts.

Each matrix is counted over the region's cropped box with whole-array operations (shifted slices,
strided views, one connected-components pass), in the order pyradiomics' C code visits the voxels
where the order changes a floating-point sum.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import as_strided
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .angles import shifted

# Counting cells with a dense histogram up to this many keys, else by sorting the keys.
DENSE_HISTOGRAM_KEYS = 2**22


def cells(rows: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A matrix's non-zero cells, given one (row, column) pair of non-negative integers per element:
    each distinct pair's row, column and how many elements have it."""
    if rows.size == 0:
        return rows.astype(np.int64), columns.astype(np.int64), np.zeros(0)
    width = int(columns.max()) + 1
    keys = rows.astype(np.int64) * width + columns
    key_range = (int(rows.max()) + 1) * width
    if key_range <= DENSE_HISTOGRAM_KEYS:
        counts = np.bincount(keys, minlength=key_range)
        present = np.flatnonzero(counts)
        counts = counts[present]
    else:
        present, counts = np.unique(keys, return_counts=True)
    return present // width, present % width, counts.astype(np.float64)


def pair_cells(gray: np.ndarray, angles: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per angle: the GLCM's non-zero cells (level of p, level of p + angle) and their counts."""
    for offset in angles:
        first, second = shifted(gray.shape, offset)
        x, y = gray[first], gray[second]
        both = (x > 0) & (y > 0)  # gray is 0 outside the region
        yield cells(x[both], y[both])


def run_cells(gray: np.ndarray, angles: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per angle: the GLRLM's non-zero cells (level, run length) and their counts.

    As pyradiomics' C code, an angle along which no line holds two region voxels counts no runs.
    """
    for offset in angles:
        lines = _lines(gray, offset)
        inside = lines > 0
        if not (inside.sum(1) > 1).any():
            yield np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
            continue
        starts = inside.copy()
        starts[:, 1:] &= lines[:, 1:] != lines[:, :-1]
        ends = inside.copy()
        ends[:, :-1] &= lines[:, :-1] != lines[:, 1:]
        first, last = np.flatnonzero(starts), np.flatnonzero(ends)  # a run's start and end pair up in order
        yield cells(lines.ravel()[first], last - first + 1)


def _lines(gray: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The image's lines along ``offset`` (components -1, 0, 1) as rows of a 2D array, 0 outside the image.

    Runs along an offset and its opposite are the same, so the offset's first non-zero component is
    made positive; axes along which it then steps backwards are flipped. The lines then advance by
    +1 along the moving axes: taking the first of them as the position t along the line and the
    others relative to it (sheared), every line becomes a row of a strided view of the padded image.
    """
    offset = np.asarray(offset)
    moving = np.flatnonzero(offset)
    sign = offset[moving[0]]
    flips = tuple(axis for axis in moving if offset[axis] * sign < 0)
    image = np.flip(gray, flips) if flips else gray
    lead, sheared = moving[0], moving[1:]
    length = image.shape[lead]
    padded = np.pad(image, [(length - 1, length - 1) if axis in sheared else (0, 0) for axis in range(image.ndim)])
    others = [axis for axis in range(image.ndim) if axis != lead]
    shape = [image.shape[axis] + (length - 1 if axis in sheared else 0) for axis in others] + [length]
    strides = [padded.strides[axis] for axis in others] + [sum(padded.strides[axis] for axis in moving)]
    return np.ascontiguousarray(as_strided(padded, shape=shape, strides=strides)).reshape(-1, length)


def zone_cells(gray: np.ndarray, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The GLSZM's non-zero cells (level, zone size) and their counts: zones are the connected sets of
    voxels of one level, neighbours along ``angles`` (one of each pair of opposite offsets)."""
    inside = gray > 0
    count = int(inside.sum())
    index = np.full(gray.shape, -1, dtype=np.int32)
    index[inside] = np.arange(count, dtype=np.int32)
    sources, targets = [], []
    for offset in angles:
        first, second = shifted(gray.shape, offset)
        same = inside[first] & (gray[first] == gray[second])  # gray is 0 outside the region
        sources.append(index[first][same])
        targets.append(index[second][same])
    source, target = np.concatenate(sources), np.concatenate(targets)
    graph = coo_matrix((np.ones(len(source), dtype=np.int8), (source, target)), shape=(count, count))
    zones, label = connected_components(graph, directed=False)
    size = np.bincount(label, minlength=zones)
    level = np.zeros(zones, dtype=np.int64)
    level[label] = gray[inside]  # every voxel of a zone has the zone's level
    return cells(level, size)


def neighbour_sums(gray: np.ndarray, angles: np.ndarray, alpha: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each region voxel: its neighbours in the region, their summed levels and its dependent neighbours
    (levels within ``alpha``), along ``angles`` and their opposites (values outside the region mean nothing)."""
    gray = gray.astype(np.int32)
    neighbours = np.zeros(gray.shape, dtype=np.int32)
    total = np.zeros(gray.shape, dtype=np.int64)
    dependent = np.zeros(gray.shape, dtype=np.int32)
    for offset in angles:
        first, second = shifted(gray.shape, offset)
        a, b = gray[first], gray[second]
        # A pair is a neighbour of each of its voxels: count it at both ends (opposite offsets). Levels are 0
        # outside the region, so a neighbour outside adds nothing to the sum and is not counted.
        close = np.abs(a - b) <= alpha
        neighbours[first] += b > 0
        neighbours[second] += a > 0
        total[first] += b
        total[second] += a
        dependent[first] += close & (b > 0)
        dependent[second] += close & (a > 0)
    return neighbours, total, dependent
