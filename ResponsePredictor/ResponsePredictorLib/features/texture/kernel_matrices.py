"""The texture matrices of a batch of kernels, as element lists (one element per pair, run, zone or voxel)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from .elements import Elements
from .ngtdm_table import LevelTable
from .pairs import Pairs

if TYPE_CHECKING:
    from .kernels import Kernels


def take(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """``rows[:, columns]`` for a (B, C) tensor and an index tensor of any shape: (B, *columns.shape).

    index_select is several times faster than advanced indexing for these small, repeated gathers.
    """
    return rows.index_select(1, columns.flatten()).view(rows.shape[0], *columns.shape)


def pairs(kernels: Kernels, symmetric: bool) -> Pairs:
    """Each kernel voxel with its neighbour along each angle (both in the kernel's region): weight 1."""
    angles = kernels.angles(bidirectional=False)
    outside = kernels.volume.width  # the extra column, always outside the region

    def layout(partner: np.ndarray) -> np.ndarray:
        # Per angle, the columns that have a partner inside the kernel, padded to a common length.
        first = np.full((len(angles), max(int((partner != outside).sum(1).max()), 1)), outside)
        second = first.copy()
        for a, row in enumerate(partner):
            keep = np.flatnonzero(row != outside)
            first[a, : len(keep)], second[a, : len(keep)] = keep, row[keep]
        return np.stack([first, second])

    # partner: (angles, K) the partner column or K (outside); read back from the device once, on first use
    first, second = kernels.volume.table(("pairs", angles.tobytes()), lambda: layout(kernels.columns(angles).cpu().numpy()))
    x, y = take(kernels.gray, first), take(kernels.gray, second)
    weight = ((x > 0) & (y > 0)).to(torch.int32)
    return Pairs(x, y, weight, kernels.rank_table, angles, symmetric)


def runs(kernels: Kernels) -> Elements:
    """(B, angles, K): the run starting at each kernel column along each angle (weight 1 where one starts).

    A run starts at a region voxel whose predecessor along the angle is outside the kernel, outside the
    region or of another gray level; it goes on while the next voxels are in the kernel's region with
    the same level. As in pyradiomics' C code, an angle along which no line of the kernel holds two
    region voxels counts no runs (the region is flat in that direction).
    """
    angles = kernels.angles(bidirectional=False, distances=[1])
    reach = 2 * kernels.volume.radius
    # For each angle: the column one step back, then the columns 1 ... 2r steps ahead.
    steps = np.stack([[-step] + [t * step for t in range(1, reach + 1)] for step in angles])
    columns = kernels.columns(steps.reshape(-1, 3)).view(len(angles), reach + 1, -1)
    gray = kernels.gray
    level = gray[:, None, :-1]  # (B, 1, K)
    inside = level > 0
    along = take(gray, columns)  # (B, angles, 2r + 1, K)
    start = inside & (along[:, :, 0] != level)
    ahead = along[:, :, 1:]
    # A run goes on while every voxel so far has the start's level (outside voxels have level 0).
    going = torch.ones_like(start)
    length = torch.ones(start.shape, dtype=torch.int16, device=start.device)
    for step in range(reach):
        going = going & (ahead[:, :, step] == level)
        length += going
    several = (inside[:, :, None] & (ahead > 0)).flatten(2).any(2, keepdim=True)
    return Elements(level.expand_as(start), length, (start & several).to(torch.int32))


def zones(kernels: Kernels) -> Elements:
    """(B, K): the zone rooted at each kernel column (its lowest column), with its level and size.

    Two columns are in one zone when a path of same-level neighbours (along the angles at distance 1)
    joins them inside the kernel's region. Squaring the kernels' (K x K) matrices of one-step links, a
    batched matrix product each, doubles the path length they cover, so at most log2(K) products give
    every zone: a few small products per kernel, far less work than propagating labels voxel by voxel.
    """
    gray = kernels.gray[:, :-1]
    inside = gray > 0
    width = gray.shape[1]
    link = kernels.volume.table(("zone links", kernels.image.force2d_dimension), lambda: _links(kernels))
    reach = ((gray[:, :, None] == gray[:, None, :]) & inside[:, :, None] & inside[:, None, :] & link).to(torch.float32)
    for _ in range(math.ceil(math.log2(max(width - 1, 1)))):
        wider = (reach @ reach).clamp_(max=1)  # counts of paths, at most K: exact in float32
        if torch.equal(wider, reach):
            break
        reach = wider
    joined = reach > 0
    position = torch.arange(width, device=gray.device)
    root = inside & (joined.to(torch.uint8).argmax(-1) == position)  # the lowest column of its zone
    return Elements(gray, joined.sum(-1), root.to(torch.int32))


def _links(kernels: Kernels) -> np.ndarray:
    """(K, K) bool: the kernel columns one step apart along an angle at distance 1, or the same column."""
    offsets = kernels.volume.offsets_table
    steps = {tuple(step) for step in kernels.angles(bidirectional=True, distances=[1]).tolist()} | {(0, 0, 0)}
    return np.array([[tuple(u - v) in steps for u in offsets] for v in offsets])


def _neighbour_levels(kernels: Kernels) -> tuple[torch.Tensor, torch.Tensor]:
    """Each kernel voxel's level (B, K) and its neighbours' levels along every angle (B, angles, K); 0 outside."""
    gray = kernels.gray
    return gray[:, :-1], take(gray, kernels.columns(kernels.angles(bidirectional=True)))


def dependences(kernels: Kernels) -> Elements:
    """(B, K): each region voxel of the kernel with its gray level and dependence count + 1."""
    level, neighbours = _neighbour_levels(kernels)
    alpha = int(kernels.settings.get("gldm_a", 0))
    dependent = (neighbours > 0) & ((neighbours - level[:, None, :]).abs() <= alpha)
    return Elements(level, dependent.sum(1) + 1, (level > 0).to(torch.int32))


def neighbourhood(kernels: Kernels) -> LevelTable:
    """Per kernel and present level: voxel count and summed |level - mean of the neighbours' levels|."""
    level, neighbours = _neighbour_levels(kernels)
    inside = level > 0
    present = neighbours > 0
    count = present.sum(1).to(torch.float64)
    total = torch.where(present, neighbours, 0).sum(1).to(torch.float64)
    value = level.to(torch.float64)
    # pyradiomics: a voxel without neighbours in the region differs by 0.
    difference = torch.where(count > 0, (value - total / count.clamp(min=1)).abs(), 0.0)
    local = kernels.rank_table.gather(1, level.long())
    return LevelTable.gather(local, level, difference, inside, int(local.max()) + 1)
