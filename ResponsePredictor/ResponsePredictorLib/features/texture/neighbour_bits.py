"""Each voxel's neighbours worked out once per volume, so that a kernel reads one number per voxel.

Whether a voxel's neighbour along a step is related to it (in the region with a close enough gray
level, for the GLDM) does not depend on the kernel; whether that neighbour lies inside the kernel
depends only on the voxel's column. So the relations are worked out once over the padded volume and
packed into int32 words (bit s % 31 of word s // 31 for step s); a kernel's voxel keeps the bits of
the steps that stay inside the kernel (one mask per column) and counts them. ``along`` gives the
neighbours along a step for such volume-wide codes (also the runs' codes of ``kernel_matrices``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .angles import shifted

BITS_PER_WORD = 31  # int32 words with the sign bit clear: shifts and bit counts see non-negative numbers


def neighbour_words(
    gray: torch.Tensor, shape: tuple[int, int, int], steps: np.ndarray,
    related: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """(words, voxels) int32 over the flat volume ``gray`` of ``shape``: bit s set where
    ``related(level, neighbour's level along steps[s])``; a neighbour beyond the volume has level 0."""
    volume = gray.view(shape)
    words = torch.zeros((word_count(len(steps)), *shape), dtype=torch.int32, device=gray.device)
    for s, step in enumerate(steps):
        words[s // BITS_PER_WORD] |= related(volume, along(volume, step)).to(torch.int32) << (s % BITS_PER_WORD)
    return words.view(len(words), -1)


def along(volume: torch.Tensor, step: np.ndarray) -> torch.Tensor:
    """Each voxel's neighbour along ``step`` (a tensor of ``volume``'s shape), 0 beyond the volume."""
    neighbour = torch.zeros_like(volume)
    voxels, neighbours = shifted(tuple(volume.shape), step)
    neighbour[voxels] = volume[neighbours]
    return neighbour


def column_words(partner: np.ndarray, outside: int) -> np.ndarray:
    """(words, K) int32: for each kernel column, the bits of the steps whose neighbour is in the kernel
    (``partner``: (steps, K) neighbour columns, ``outside`` where the step leaves the kernel)."""
    words = np.zeros((word_count(len(partner)), partner.shape[1]), dtype=np.int64)
    for s, row in enumerate(partner):
        words[s // BITS_PER_WORD] |= (row != outside).astype(np.int64) << (s % BITS_PER_WORD)
    return words.astype(np.int32)


def word_count(steps: int) -> int:
    return max(1, -(-steps // BITS_PER_WORD))


def bit_count(words: torch.Tensor) -> torch.Tensor:
    """The number of set bits of each non-negative int32 (torch has no popcount): pairwise sums of bit fields."""
    x = words - ((words >> 1) & 0x55555555)
    x = (x & 0x33333333) + ((x >> 2) & 0x33333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F
    x = x + (x >> 8)
    return (x + (x >> 16)) & 0x3F
