"""Kernels as rows: the (2r+1)^3 neighbourhood of each region voxel, gathered into a batch of flat rows.

pyradiomics' voxel mode computes a kernel's features from the voxels of the cube of radius r around
the centre voxel (clipped to the image) that belong to the region (``maskedKernel``). Padding the
image by r voxels outside the region gives every kernel a full cube, and a clipped voxel is then
simply a voxel outside the region, which no feature counts. Each row holds one extra column, always
outside the region, that neighbour look-ups leaving the cube point to.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from .preprocess import PreparedImage


def cube_offsets(radius: int) -> np.ndarray:
    """The (2r+1)^3 offsets (dk, dj, di) of a kernel, in C order (the row's column order)."""
    axis = np.arange(-radius, radius + 1)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)


def neighbour_columns(radius: int, step: np.ndarray) -> np.ndarray:
    """For each kernel column, the column of the voxel ``step`` away, or K (the outside column) off the cube."""
    offsets = cube_offsets(radius)
    moved = offsets + np.asarray(step)
    inside = np.all(np.abs(moved) <= radius, axis=1)
    side = 2 * radius + 1
    columns = ((moved[:, 0] + radius) * side + moved[:, 1] + radius) * side + moved[:, 2] + radius
    return np.where(inside, columns, len(offsets))


def take(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """``rows[:, columns]`` for a (B, C) tensor and an index tensor of any shape: (B, *columns.shape).

    index_select is several times faster than advanced indexing for these small, repeated gathers.
    """
    return rows.index_select(1, columns.flatten()).view(rows.shape[0], *columns.shape)


@dataclass(frozen=True)
class KernelVolume:
    """One prepared image on the device, padded by the kernel radius, ready to gather kernels from."""

    image: PreparedImage
    radius: int
    values: torch.Tensor  # float64, flat padded volume, NaN outside the region
    gray: torch.Tensor  # int64, flat padded volume, 0 outside the region
    first_order_gray: torch.Tensor
    centres: torch.Tensor  # int64 flat padded indices of the region's voxels, C order (pyradiomics' order)
    offsets: torch.Tensor  # int64 flat padded index offset of each kernel column

    @classmethod
    def build(cls, image: PreparedImage, radius: int, device: torch.device) -> KernelVolume:
        pad = [(radius, radius)] * 3
        roi = np.pad(image.roi, pad)
        values = np.pad(np.where(image.roi, image.values, np.nan), pad, constant_values=np.nan)
        gray = np.pad(np.where(image.roi, image.gray, 0), pad)
        first_order_gray = np.pad(np.where(image.roi, image.first_order_gray, 0), pad)
        strides = np.array([roi.shape[1] * roi.shape[2], roi.shape[2], 1])
        centres = np.flatnonzero(roi.ravel())
        offsets = cube_offsets(radius) @ strides

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(array).ravel(), device=device)

        return cls(image, radius, tensor(values), tensor(gray), tensor(first_order_gray), tensor(centres), tensor(offsets))

    @property
    def count(self) -> int:
        return int(self.centres.numel())

    def angles(self, bidirectional: bool, distances: list[int] | None = None) -> np.ndarray:
        """pyradiomics' neighbour offsets (dk, dj, di) for this image's cropped size.

        ``distances`` defaults to the ``distances`` setting (GLCM, GLDM, NGTDM use it; pyradiomics'
        GLRLM and GLSZM always use distance 1).
        """
        from radiomics import cMatrices

        distances = np.array(distances if distances is not None else self.image.settings.get("distances", [1]))
        size = np.array(self.image.roi.shape)
        return cMatrices.generate_angles(size, distances, bidirectional, False, 0)

    def batch(self, start: int, stop: int) -> Kernels:
        rows = self.centres[start:stop, None] + self.offsets[None, :]
        return Kernels(self, rows)


@dataclass(frozen=True, eq=False)
class Kernels:
    """A batch of kernels: row b holds the kernel of region voxel ``start + b``."""

    volume: KernelVolume
    rows: torch.Tensor  # (B, K) flat padded indices

    def _with_outside_column(self, values: torch.Tensor, fill: float | int) -> torch.Tensor:
        gathered = values[self.rows]
        return torch.cat([gathered, gathered.new_full((gathered.shape[0], 1), fill)], dim=1)

    @cached_property
    def gray(self) -> torch.Tensor:
        """(B, K + 1) int64 gray levels, 0 outside the region and in the outside column."""
        return self._with_outside_column(self.volume.gray, 0)

    @cached_property
    def inside(self) -> torch.Tensor:
        """(B, K + 1) bool: the voxel belongs to the region (the kernel's masked voxels)."""
        return self.gray > 0

    @cached_property
    def local_level(self) -> torch.Tensor:
        """(B, K + 1) rank of each voxel's gray level among the levels present in its kernel (0 outside).

        Cells of a kernel's matrices then have keys below (levels in the kernel)^2, small enough to count
        with a histogram per row.
        """
        gray = self.gray
        present = torch.zeros(gray.shape[0], int(gray.max()) + 1, dtype=torch.bool, device=gray.device)
        present.scatter_(1, gray, True)
        present[:, 0] = False
        return torch.cumsum(present, 1).gather(1, gray)

    @cached_property
    def values(self) -> torch.Tensor:
        """(B, K) float64 voxel values, NaN outside the region."""
        return self.volume.values[self.rows]

    @cached_property
    def first_order_gray(self) -> torch.Tensor:
        """(B, K) int64 gray levels as the first-order class discretises them, 0 outside."""
        return self.volume.first_order_gray[self.rows]

    def columns(self, steps: np.ndarray) -> torch.Tensor:
        """(len(steps), K) neighbour columns (see ``neighbour_columns``) on this batch's device."""
        table = np.stack([neighbour_columns(self.volume.radius, step) for step in steps])
        return torch.as_tensor(table, device=self.rows.device)
