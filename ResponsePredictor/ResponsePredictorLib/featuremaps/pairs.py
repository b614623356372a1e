"""Neighbour pairs inside kernels: the elements of the co-occurrence matrices (GLCM) of a batch."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from .grouping import count_equal
from .kernels import Kernels, take


def region_has_pairs(roi: np.ndarray, step: np.ndarray) -> bool:
    """Whether two region voxels lie ``step`` apart anywhere (else pyradiomics drops the angle altogether)."""
    shape = np.array(roi.shape)
    if np.any(np.abs(step) >= shape):
        return False
    first = tuple(slice(max(0, -s), n - max(0, s)) for s, n in zip(step, shape))
    second = tuple(slice(max(0, s), n - max(0, -s)) for s, n in zip(step, shape))
    return bool(np.any(roi[first] & roi[second]))


@dataclass(frozen=True, eq=False)
class KernelPairs:
    """The unordered neighbour pairs (one per voxel and angle) of each kernel, as (B, angles, pairs) tensors.

    pyradiomics' GLCM is symmetrical: each pair counts once as (x, y) and once as (y, x), so a pair
    list of n elements stands for a matrix of 2n counts.
    """

    x: torch.Tensor  # int64 gray level of the first voxel
    y: torch.Tensor  # int64 gray level of the second voxel
    valid: torch.Tensor  # both voxels in the kernel's region
    angles: np.ndarray  # (angles, 3) offsets
    first: torch.Tensor  # (angles, pairs) kernel column of each pair's first voxel (K: no pair)
    second: torch.Tensor  # (angles, pairs) kernel column of each pair's second voxel
    kernels: Kernels

    @classmethod
    def of(cls, kernels: Kernels) -> KernelPairs:
        angles = kernels.volume.angles(bidirectional=False)
        columns = kernels.columns(angles)  # (angles, K): partner column or K (outside)
        outside = kernels.gray.shape[1] - 1
        # Keep, per angle, only the columns that have a partner inside the cube; pad to a common length.
        counts = (columns != outside).sum(1)
        width = max(int(counts.max()), 1)
        first = torch.full((len(angles), width), outside, device=columns.device)
        second = torch.full_like(first, outside)
        for a in range(len(angles)):
            keep = torch.nonzero(columns[a] != outside).flatten()
            first[a, : len(keep)] = keep
            second[a, : len(keep)] = columns[a, keep]
        gray = kernels.gray
        x = take(gray, first)
        y = take(gray, second)
        return cls(x, y, (x > 0) & (y > 0), angles, first, second, kernels)

    @cached_property
    def weight(self) -> torch.Tensor:
        return self.valid.to(torch.float64)

    @cached_property
    def count(self) -> torch.Tensor:
        """(B, angles) number of unordered pairs; NaN for an angle without pairs (pyradiomics' empty angle)."""
        n = self.weight.sum(-1)
        return torch.where(n > 0, n, torch.nan)

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Mean of a per-pair quantity over the valid pairs of each kernel and angle."""
        # Invalid pairs hold level 0, so every per-pair quantity is finite there and the weight zeroes it.
        return (values * self.weight).sum(-1) / self.count

    @cached_property
    def xf(self) -> torch.Tensor:
        return self.x.to(torch.float64)

    @cached_property
    def yf(self) -> torch.Tensor:
        return self.y.to(torch.float64)

    @cached_property
    def difference(self) -> torch.Tensor:
        return (self.x - self.y).abs()

    @cached_property
    def local_x(self) -> torch.Tensor:
        """The first voxels' levels as ranks within their kernel (see ``Kernels.local_level``)."""
        return take(self.kernels.local_level, self.first)

    @cached_property
    def local_y(self) -> torch.Tensor:
        return take(self.kernels.local_level, self.second)

    @cached_property
    def endpoint_counts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """How often each pair's x and y levels occur among all 2n endpoints (the marginal counts)."""
        levels = torch.cat([self.local_x, self.local_y], -1)
        counts = count_equal(levels, torch.cat([self.valid, self.valid], -1))
        width = self.x.shape[-1]
        return counts[..., :width], counts[..., width:]

    @cached_property
    def flat(self) -> torch.Tensor:
        """(B, angles) whether all pairs of the angle have one and the same gray level."""
        x_counts, _ = self.endpoint_counts
        pairs = self.weight.sum(-1, keepdim=True)
        return ((x_counts == 2 * pairs) & (pairs > 0)).any(-1)
