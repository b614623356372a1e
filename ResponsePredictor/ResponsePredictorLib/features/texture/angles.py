"""The neighbour offsets (pyradiomics' "angles") along which the texture matrices are built.

An angle is an offset (dk, dj, di) whose largest component (the infinity norm) is one of the
requested distances. pyradiomics enumerates offsets from (+d, +d, +d) down to (-d, -d, -d), the first
axis slowest, and leaves out offsets that reach as far as the image's size along an axis or that
move along the force2D axis; one-directional matrices (GLCM, GLRLM) keep the first half of that
list, which holds one of each pair of opposite offsets. The order matters: a matrix's angles are
averaged, but which of two opposite offsets is kept decides where runs start.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def angles(
    size: Sequence[int], distances: Sequence[int], *, bidirectional: bool, force2d_dimension: int | None = None
) -> np.ndarray:
    """(angles, 3) int64 offsets for an image of ``size`` (k, j, i), in pyradiomics' order."""
    distances = sorted({int(d) for d in distances})
    largest = max(distances)
    steps = range(largest, -largest - 1, -1)
    offsets = []
    for offset in itertools.product(steps, repeat=len(size)):
        if any(abs(o) >= n for o, n in zip(offset, size)):
            continue
        if force2d_dimension is not None and offset[force2d_dimension] != 0:
            continue
        if max(abs(o) for o in offset) in distances:
            offsets.append(offset)
    table = np.array(offsets, dtype=np.int64).reshape(-1, len(size))
    # Opposite offsets sit symmetrically in the enumeration, so the first half holds one of each pair.
    return table if bidirectional else table[: len(table) // 2]


def shifted(shape: tuple[int, ...], offset: np.ndarray) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Slices of the voxels p and of their neighbours p + offset, both inside an array of ``shape``."""
    first = tuple(slice(max(0, -o), n - max(0, o)) for o, n in zip(offset, shape))
    second = tuple(slice(max(0, o), n - max(0, -o)) for o, n in zip(offset, shape))
    return first, second
