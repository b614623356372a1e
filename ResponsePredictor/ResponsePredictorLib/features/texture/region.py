"""The whole-tumor mode's single row: the whole region of one discretised image.

The matrices are counted on the CPU (``region_matrices``: whole-array operations over the region's
box, milliseconds) and handed to the formulas as the list of their non-zero cells with the cells'
counts as weights; the formulas then run on ``device``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from . import region_matrices
from .elements import Elements
from .ngtdm_table import LevelTable
from .pairs import Pairs
from .rows import DiscretisedImage, TextureRows


@dataclass(frozen=True, eq=False)
class WholeRegion(TextureRows):
    image: DiscretisedImage  # type: ignore[misc]
    device: torch.device

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(array), device=self.device)

    @cached_property
    def _gray(self) -> np.ndarray:
        """The gray levels, 0 outside the region, in the smallest unsigned type that holds them."""
        gray = np.where(self.image.roi, self.image.gray, 0)
        return gray.astype(np.min_scalar_type(int(gray.max())))

    @cached_property
    def _local(self) -> np.ndarray:
        """Look-up table: a gray level's rank among the region's levels (1 ...)."""
        table = np.zeros(self.max_gray_level + 1, dtype=np.int64)
        table[self.image.levels_present] = np.arange(1, len(self.image.levels_present) + 1)
        return table

    @cached_property
    def values(self) -> torch.Tensor:
        return self._tensor(self.image.values[self.image.roi][None, :])

    @cached_property
    def first_order_gray(self) -> torch.Tensor:
        return self._tensor(self.image.first_order_gray[self.image.roi].astype(np.int64)[None, :])

    def _stack(self, per_angle: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, ...]:
        """Per-angle cell lists padded to one length: (1, angles, cells) tensors of both keys and the weights."""
        per_angle = list(per_angle)
        width = max([len(weights) for _, _, weights in per_angle] + [1])
        first = np.zeros((len(per_angle), width), dtype=np.int64)
        second = np.zeros_like(first)
        weight = np.zeros((len(per_angle), width))
        for a, (x, y, w) in enumerate(per_angle):
            first[a, : len(w)], second[a, : len(w)], weight[a, : len(w)] = x, y, w
        return self._tensor(first[None]), self._tensor(second[None]), self._tensor(weight[None])

    def pairs(self, symmetric: bool) -> list[Pairs]:
        angles = self.angles(bidirectional=False)
        x, y, weight = self._stack(region_matrices.pair_cells(self._gray, angles))
        return [Pairs(x, y, weight, self._tensor(self._local[None]), angles, symmetric)]

    def runs(self) -> Elements:
        angles = self.angles(bidirectional=False, distances=[1])
        return Elements(*self._stack(region_matrices.run_cells(self._gray, angles)))

    def zones(self) -> Elements:
        angles = self.angles(bidirectional=False, distances=[1])
        level, size, count = region_matrices.zone_cells(self._gray, angles)
        return Elements(self._tensor(level[None]), self._tensor(size[None]), self._tensor(count[None]))

    @cached_property
    def _neighbour_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        alpha = int(self.settings.get("gldm_a", 0))
        return region_matrices.neighbour_sums(self._gray, self.angles(bidirectional=False), alpha)

    def dependences(self) -> Elements:
        _, _, dependent = self._neighbour_sums
        roi = self.image.roi
        levels, sizes, counts = region_matrices.cells(self._gray[roi], dependent[roi] + 1)
        return Elements(self._tensor(levels[None]), self._tensor(sizes[None]), self._tensor(counts[None]))

    def neighbourhood(self) -> LevelTable:
        neighbours, total, _ = self._neighbour_sums
        roi = self.image.roi
        levels = self._gray[roi].astype(np.int64)
        count, summed = neighbours[roi], total[roi]
        # pyradiomics: |level - neighbours' mean| in double precision, 0 without neighbours; summed in voxel order.
        difference = np.where(count > 0, np.abs(levels - summed / np.maximum(count, 1)), 0.0)
        present = self.image.levels_present
        voxels = np.bincount(levels, minlength=self.max_gray_level + 1)[present].astype(np.float64)
        differences = np.bincount(levels, weights=difference, minlength=self.max_gray_level + 1)[present]
        return LevelTable(*(self._tensor(array[None]) for array in (present.astype(np.float64), voxels, differences)))
