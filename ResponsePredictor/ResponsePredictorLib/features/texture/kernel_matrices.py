"""The texture matrices of a batch of kernels, as element lists (one element per pair, run, zone or voxel)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from .elements import Elements
from .ngtdm_table import LevelTable
from .neighbour_bits import along, bit_count, column_words, neighbour_words
from .pairs import Pairs

if TYPE_CHECKING:
    from .kernels import Kernels, KernelVolume


def take(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """``rows[:, columns]`` for a (B, C) tensor and an index tensor of any shape: (B, *columns.shape).

    A gather with the index broadcast over the rows is several times faster than index_select or
    advanced indexing along the second axis for these small, repeated look-ups.
    """
    index = columns.reshape(1, -1).expand(rows.shape[0], -1)
    return torch.gather(rows, 1, index).view(rows.shape[0], *columns.shape)


def pairs(kernels: Kernels, symmetric: bool) -> list[Pairs]:
    """Each kernel voxel with its neighbour along each angle (both in the kernel's region): weight 1.

    The angles come in groups of equal pair counts (a 3x3x3 kernel has 18, 12 or 8 pairs along an
    angle), so that no angle's pairs are padded to another's count.
    """
    angles = kernels.angles(bidirectional=False)
    outside = kernels.volume.width  # the extra column, always outside the region

    def layout(partner: np.ndarray) -> list[np.ndarray]:
        # per group: the angles' indices, then the columns with a partner inside the kernel and that partner
        # (an angle longer than the kernel has no pair in it: one pair of outside columns, weight 0)
        counts = (partner != outside).sum(1)
        groups = []
        for count in np.unique(counts)[::-1]:
            members = np.flatnonzero(counts == count)
            first = np.full((len(members), max(int(count), 1)), outside)
            second = first.copy()
            for row, a in enumerate(members):
                columns = np.flatnonzero(partner[a] != outside)
                first[row, : len(columns)], second[row, : len(columns)] = columns, partner[a, columns]
            groups.append(np.concatenate([members[:, None], first, second], 1))
        return groups

    # partner: (angles, K) the partner column or K (outside); read back from the device once, on first use
    groups = kernels.volume.table(("pairs", angles.tobytes()), lambda: layout(kernels.columns(angles).cpu().numpy()))
    result = []
    for group in groups:
        width = (group.shape[1] - 1) // 2
        x, y = take(kernels.gray, group[:, 1 : 1 + width]), take(kernels.gray, group[:, 1 + width :])
        weight = (torch.minimum(x, y) > 0).to(torch.int32)
        result.append(Pairs(x, y, weight, kernels.rank_table, angles[group[:, 0].cpu().numpy()], symmetric))
    return result


def runs(kernels: Kernels) -> Elements:
    """(B, angles, K): the run starting at each kernel column along each angle (weight 1 where one starts).

    A run starts at a region voxel whose predecessor along the angle is outside the kernel, outside the
    region or of another gray level; it goes on while the next voxels are in the kernel's region with
    the same level. As in pyradiomics' C code, an angle along which no line of the kernel holds two
    region voxels counts no runs (the region is flat in that direction). What depends on the image
    alone is one code per voxel and angle (``_run_codes``); the kernel keeps the bits of each column
    that apply inside it and caps the run's length at the kernel's side (``_run_bounds``).
    """
    volume = kernels.volume
    bits = _RunBits(volume.radius)
    angles = kernels.angles(bidirectional=False, distances=[1])
    codes = volume.table(("run codes", angles.tobytes()), lambda: _run_codes(volume, angles, bits))
    keep, longest = volume.table(("run bounds", angles.tobytes()), lambda: _run_bounds(kernels, angles, bits))
    gathered = codes.index_select(0, kernels.rows.flatten()).view(-1, volume.width, len(angles)).transpose(1, 2)
    kept = torch.empty(gathered.shape, dtype=codes.dtype, device=codes.device)
    torch.bitwise_and(gathered, keep, out=kept)  # written (rows, angles, K): each angle's columns side by side
    several = kept.amax(2, keepdim=True) >= bits.paired  # two region voxels on a line of the kernel along the angle
    start = ((kept & bits.starts) != 0) & several
    level = kernels.gray[:, None, :-1]
    return Elements(level.expand_as(start), torch.minimum(kept & bits.ahead, longest), start.to(torch.int32),
                    (kernels.max_gray_level + 1, 2 * volume.radius + 2))


class _RunBits:
    """The layout of a voxel's run code along an angle, for kernels of radius r.

    The lowest bits hold the length of the same-level run ahead of the voxel (itself included, up to the
    kernel's side 2r + 1); then whether it is a region voxel, and whether it is one its predecessor does
    not continue into (a run starts there when the predecessor is in the kernel, and at every region
    voxel whose predecessor is not); then, for each distance t = 1 ... 2r, whether the voxel t steps
    ahead is a region voxel too.
    """

    def __init__(self, radius: int) -> None:
        self.reach = 2 * radius
        self.ahead = (1 << (self.reach + 1).bit_length()) - 1
        self.inside = self.ahead + 1
        self.not_continued = self.inside << 1
        self.starts = self.inside | self.not_continued
        self.paired = self.inside << 2
        top = self.paired << self.reach
        # int16 codes move half of int32's memory through the gathers
        self.dtype = torch.int16 if top <= 2**15 else torch.int32 if top <= 2**31 else torch.int64


def _run_codes(volume: KernelVolume, angles: np.ndarray, bits: _RunBits) -> torch.Tensor:
    """(voxels, angles) run codes of every voxel of the padded volume (kernel bounds aside)."""
    gray = volume.gray.view(volume.shape)
    inside = gray > 0
    work = torch.int64 if bits.dtype == torch.int64 else torch.int32
    codes = []
    for step in angles:
        chain = inside.clone()  # every voxel from this one to t steps ahead has its level
        code = inside.to(work) * (1 + bits.inside)
        for t in range(1, bits.reach + 1):
            ahead = along(gray, t * step)
            chain &= ahead == gray
            code += chain + ((ahead > 0) & inside).to(work) * (bits.paired << (t - 1))
        code += ((along(gray, -step) != gray) & inside).to(work) * bits.not_continued
        codes.append(code.to(bits.dtype))  # one small code volume per angle: memory stays ~2 bytes per voxel and angle
    return torch.stack(codes, -1).view(-1, len(angles))


def _run_bounds(kernels: Kernels, angles: np.ndarray, bits: _RunBits) -> list[torch.Tensor]:
    """(angles, K) per column: the code bits that apply inside the kernel, and the longest run from it."""
    outside = kernels.volume.width
    keep = np.full((len(angles), outside), bits.ahead)
    longest = np.ones((len(angles), outside), dtype=np.int64)
    for a, step in enumerate(angles):
        predecessor_inside = kernels.columns(-step[None])[0].cpu().numpy() != outside
        keep[a] |= np.where(predecessor_inside, bits.not_continued, bits.inside)
        for t in range(1, bits.reach + 1):
            inside = kernels.columns(t * step[None])[0].cpu().numpy() != outside
            keep[a] |= np.where(inside, bits.paired << (t - 1), 0)
            longest[a] += inside
    return [torch.as_tensor(table).to(bits.dtype) for table in (keep, longest)]


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
    # one-step links along the angles at distance 1, and each column with itself
    link = kernels.volume.table("zone links", lambda: (kernels.links(kernels.angles(bidirectional=True, distances=[1]))
                                                        + torch.eye(width, dtype=torch.float64, device=gray.device) > 0)
                                .to(torch.float32))
    # Columns outside the region get levels of their own (below 0), so that they join no zone but their own.
    own = -1 - torch.arange(width, dtype=gray.dtype, device=gray.device)
    levels = torch.where(inside, gray, own)
    reach = torch.empty((gray.shape[0], width, width), dtype=torch.float32, device=gray.device)
    torch.eq(levels[:, :, None], levels[:, None, :], out=reach).mul_(link)
    for product in range(math.ceil(math.log2(max(width - 1, 1)))):
        wider = (reach @ reach).clamp_(max=1)  # counts of paths, at most K: exact in float32
        # The first product joins some kernel's voxels two steps apart in any real batch: not worth a check.
        if product > 0 and torch.equal(wider, reach):
            break
        reach = wider
    # Running counts along each row: the last is the zone's size; a column is its zone's root (its lowest
    # column) when no column before it is in its zone.
    running = reach.cumsum(-1)
    before = torch.cat([torch.zeros_like(running[:, :1, 0]), running.diagonal(-1, 1, 2)], 1)
    return Elements(gray, running[:, :, -1].to(torch.int32), (inside & (before == 0)).to(torch.int32),
                    (kernels.max_gray_level + 1, width + 1))


def dependences(kernels: Kernels) -> Elements:
    """(B, K): each region voxel of the kernel with its gray level and dependence count + 1.

    A voxel's dependent neighbours (in the region, level within ``gldm_a``) are bits worked out once per
    volume; the kernel keeps those along steps that stay inside it and counts them.
    """
    volume = kernels.volume
    steps = kernels.angles(bidirectional=True)
    alpha = int(kernels.settings.get("gldm_a", 0))

    def dependent(level: torch.Tensor, neighbour: torch.Tensor) -> torch.Tensor:
        return (neighbour > 0) & ((neighbour - level).abs() <= alpha)

    words = volume.table(("dependent", alpha, steps.tobytes()),
                         lambda: neighbour_words(volume.gray, volume.shape, steps, dependent))
    inside_kernel = volume.table(("steps inside", steps.tobytes()),
                                 lambda: column_words(kernels.columns(steps).cpu().numpy(), volume.width))
    kept = take(words, kernels.rows) & inside_kernel[:, None, :]
    level = kernels.gray[:, :-1]
    return Elements(level, bit_count(kept).sum(0) + 1, (level > 0).to(torch.int32),
                    (kernels.max_gray_level + 1, len(steps) + 2))


def neighbourhood(kernels: Kernels) -> LevelTable:
    """Per kernel and present level: voxel count and summed |level - mean of the neighbours' levels|.

    The neighbours' count and level sum of every column are one product with the kernel's links.
    """
    level = kernels.gray[:, :-1]
    inside = level > 0
    links = kernels.links(kernels.angles(bidirectional=True))
    count = inside.to(torch.float64) @ links
    total = level.to(torch.float64) @ links  # levels are 0 outside the region
    value = level.to(torch.float64)
    # pyradiomics: a voxel without neighbours in the region differs by 0.
    difference = torch.where(count > 0, (value - total / count.clamp(min=1)).abs(), 0.0)
    local = kernels.rank_table.gather(1, level.long())
    return LevelTable.gather(local, level, difference, inside, int(local.max()) + 1)
