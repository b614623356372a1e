"""The voxel mode's rows: the neighbourhood of each region voxel, gathered into a batch of flat rows.

pyradiomics' voxel mode computes a kernel's features from the voxels of the cube of radius r around
each region voxel (a square in the image plane with force2D; clipped to the image) that belong to
the region (or, with ``maskedKernel: false``, to the cropped image). Padding the image by r voxels
of neither gives every kernel a full cube, and a clipped voxel is then simply a voxel outside, which
no feature counts. Each row holds one extra column, always outside the region, that neighbour look-ups
leaving the kernel point to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import torch

from . import kernel_matrices
from .elements import Elements
from .neighbour_bits import along
from .ngtdm_table import LevelTable
from .pairs import Pairs
from .rows import DiscretisedImage, TextureRows


def kernel_offsets(radius: int, force2d_dimension: int | None = None) -> np.ndarray:
    """The offsets (dk, dj, di) of a kernel, in C order (the row's column order)."""
    axis = np.arange(-radius, radius + 1)
    offsets = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    return offsets if force2d_dimension is None else offsets[offsets[:, force2d_dimension] == 0]


def neighbour_columns(offsets: np.ndarray, step: np.ndarray) -> np.ndarray:
    """For each kernel column, the column of the voxel ``step`` away, or K (the outside column) off the kernel."""
    column = {tuple(offset): index for index, offset in enumerate(offsets.tolist())}
    moved = (offsets + np.asarray(step)).tolist()
    return np.array([column.get(tuple(point), len(offsets)) for point in moved])


@dataclass(frozen=True)
class KernelVolume:
    """One discretised image on the device, padded by the kernel radius, ready to gather kernels from."""

    image: DiscretisedImage
    radius: int
    offsets_table: np.ndarray  # (K, 3) kernel offsets
    values: torch.Tensor  # float64, flat padded volume, NaN outside the kernel region
    gray: torch.Tensor  # int16 (int32 beyond 32767 levels), flat padded volume, 0 outside the kernel region
    first_order_gray: torch.Tensor
    centres: torch.Tensor  # int64 flat padded indices of the region's voxels, C order (pyradiomics' order)
    offsets: torch.Tensor  # int64 flat padded index offset of each kernel column
    shape: tuple[int, int, int]  # the padded volume's shape
    # Tables that every batch of this volume shares (neighbour look-ups per column, codes per voxel), made once.
    tables: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def table(self, key: Any, make: Callable[[], Any]) -> Any:
        """The table named ``key`` (of columns or voxels; an array or a list of them), made by ``make`` on
        first use and kept on the device."""
        if key not in self.tables:
            made = make()
            device = self.centres.device
            self.tables[key] = ([torch.as_tensor(part, device=device) for part in made] if isinstance(made, list)
                                else torch.as_tensor(made, device=device))
        return self.tables[key]

    @classmethod
    def build(cls, image: DiscretisedImage, radius: int, device: torch.device) -> KernelVolume:
        table = kernel_offsets(radius, image.force2d_dimension)
        pad = [(radius, radius)] * 3
        member = image.kernel_region
        values = np.pad(np.where(member, image.values, np.nan), pad, constant_values=np.nan)
        gray = np.pad(np.where(member, image.gray, 0), pad)
        first_order_gray = np.pad(np.where(member, image.first_order_gray, 0), pad)
        roi = np.pad(image.roi, pad)
        strides = np.array([roi.shape[1] * roi.shape[2], roi.shape[2], 1])
        centres = np.flatnonzero(roi.ravel())

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(array).ravel(), device=device)

        # Kernels gather their gray levels many times over: a small integer type moves a quarter of the memory.
        gray = gray.astype(np.int16 if image.max_gray_level < 2**15 else np.int32)

        return cls(image, radius, table, tensor(values), tensor(gray), tensor(first_order_gray), tensor(centres),
                   tensor(table @ strides), roi.shape)

    @property
    def count(self) -> int:
        return int(self.centres.numel())

    @property
    def width(self) -> int:
        """Columns per kernel (without the outside column)."""
        return len(self.offsets_table)

    def batch(self, start: int, stop: int) -> Kernels:
        rows = self.centres[start:stop, None] + self.offsets[None, :]
        return Kernels(self, rows)


@dataclass(frozen=True, eq=False)
class Kernels(TextureRows):
    """A batch of kernels: row b holds the kernel of region voxel ``start + b``."""

    volume: KernelVolume
    rows: torch.Tensor  # (B, K) flat padded indices

    @property
    def image(self) -> DiscretisedImage:  # type: ignore[override]
        return self.volume.image

    def _with_outside_column(self, values: torch.Tensor, fill: float | int) -> torch.Tensor:
        gathered = values[self.rows]
        return torch.cat([gathered, gathered.new_full((gathered.shape[0], 1), fill)], dim=1)

    @cached_property
    def gray(self) -> torch.Tensor:
        """(B, K + 1) gray levels (a small integer type), 0 outside the region and in the outside column."""
        return self._with_outside_column(self.volume.gray, 0)

    @cached_property
    def rank_table(self) -> torch.Tensor:
        """(B, Ng + 1) each gray level's rank among the levels present in the kernel (1 ...), 0 for absent ones.

        Cells of a kernel's matrices named by ranks have keys below (levels in the kernel)^2, small enough
        to count with a histogram per row.
        """
        gray = self.gray
        present = torch.zeros(gray.shape[0], self.max_gray_level + 1, dtype=torch.bool, device=gray.device)
        present.scatter_(1, gray.long(), True)
        present[:, 0] = False
        return torch.cumsum(present, 1)

    @cached_property
    def values(self) -> torch.Tensor:
        return self.volume.values[self.rows]

    @cached_property
    def first_order_gray(self) -> torch.Tensor:
        return self.volume.first_order_gray[self.rows]

    def columns(self, steps: np.ndarray) -> torch.Tensor:
        """(len(steps), K) neighbour columns (see ``neighbour_columns``) on this batch's device."""
        offsets = self.volume.offsets_table
        return self.volume.table(("columns", steps.tobytes()), lambda: np.stack([neighbour_columns(offsets, s) for s in steps]))

    def links(self, steps: np.ndarray) -> torch.Tensor:
        """(K, K) float64: entry (u, v) is 1 where column u is column v's neighbour along one of ``steps``."""

        def make() -> np.ndarray:
            partner = self.columns(steps).cpu().numpy()
            links = np.zeros((self.volume.width + 1, self.volume.width))
            for row in partner:
                links[row, np.arange(self.volume.width)] = 1
            return links[:-1]  # the outside column links nothing

        return self.volume.table(("links", steps.tobytes()), make)

    def angles_with_pairs(self, offsets: np.ndarray) -> list[int]:
        """The indices of the offsets along which some kernel of the volume holds two region voxels.

        pyradiomics' voxel mode drops the angles along which no kernel has a pair (with its default single
        batch), also those the region has pairs along: two voxels farther apart than the kernel, or whose
        kernels' centres lie outside the region.
        """

        def find() -> np.ndarray:
            volume = self.volume
            region = volume.gray.view(volume.shape) > 0
            centre = torch.zeros(region.numel(), dtype=torch.bool, device=region.device)
            centre[volume.centres] = True
            centre = centre.view(volume.shape)
            inside = {tuple(offset) for offset in volume.offsets_table.tolist()}
            found = []
            for a, step in enumerate(offsets):
                pair = region & along(region, step)  # a pair starts at this voxel
                # the kernel centred at v holds the pair starting at w when w - v and w + step - v are both its offsets
                holders = [offset for offset in volume.offsets_table if tuple((offset + step).tolist()) in inside]
                if any(bool((pair & along(centre, -offset)).any()) for offset in holders):
                    found.append(a)
            return np.array(found, dtype=np.int64)

        return self.volume.table(("angles with pairs", offsets.tobytes()), find).tolist()

    def pairs(self, symmetric: bool) -> list[Pairs]:
        return kernel_matrices.pairs(self, symmetric)

    def runs(self) -> Elements:
        return kernel_matrices.runs(self)

    def zones(self) -> Elements:
        return kernel_matrices.zones(self)

    def dependences(self) -> Elements:
        return kernel_matrices.dependences(self)

    def neighbourhood(self) -> LevelTable:
        return kernel_matrices.neighbourhood(self)
