"""The NGTDM of a batch of rows: per row and gray level, its voxel count and summed neighbourhood difference."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True, eq=False)
class LevelTable:
    """(rows, slots) tensors; a slot holds one gray level of the row (count 0: an unused slot)."""

    level: torch.Tensor  # float64 gray level i
    count: torch.Tensor  # float64 number of region voxels of level i (n_i)
    difference: torch.Tensor  # float64 s_i: sum over those voxels of |i - mean of the neighbours' levels|

    @classmethod
    def gather(cls, slot: torch.Tensor, level: torch.Tensor, difference: torch.Tensor, inside: torch.Tensor, slots: int) -> LevelTable:
        """Sum per-voxel values (rows, voxels) into ``slots`` slots per row (``slot``: each voxel's slot)."""
        rows = slot.shape[0]
        index = torch.where(inside, slot, slots)  # voxels outside the region go to an extra, dropped slot

        def total(values: torch.Tensor) -> torch.Tensor:
            sums = torch.zeros(rows, slots + 1, dtype=torch.float64, device=slot.device)
            return sums.scatter_add_(1, index, values)[:, :slots]

        count = total(torch.ones_like(difference))
        levels = total(level.to(torch.float64)) / count.clamp(min=1)  # every voxel of a slot has its level
        return cls(levels, count, total(difference))
