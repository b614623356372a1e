"""GLRLM feature maps: runs of equal gray level along each angle inside each kernel (pyradiomics' definitions).

A run starts at a region voxel whose predecessor along the angle is outside the kernel, outside the
region or of another gray level; it goes on while the next voxels are in the kernel's region with
the same level. As in pyradiomics' C code, an angle along which no line of the kernel holds two
region voxels counts no runs (the region is flat in that direction), and the features are averaged
over the angles with runs.
"""

from __future__ import annotations

import numpy as np
import torch

from .kernels import Kernels, take
from .zone_features import Elements, common_features

FEATURES = {
    **common_features(size="Run", non_uniformity="RunLength", gray_emphasis="Run", large="LongRun", small="ShortRun"),
    "RunPercentage": lambda e: e.count / (e.s * e.weight).sum(-1),
}


def runs(kernels: Kernels) -> Elements:
    """(B, angles, K): the run starting at each kernel column along each angle (valid where one starts)."""
    angles = kernels.volume.angles(bidirectional=False, distances=[1])
    radius = kernels.volume.radius
    # For each angle: the column one step back, then the columns 1 ... 2r steps ahead.
    steps = np.stack([[-step] + [t * step for t in range(1, 2 * radius + 1)] for step in angles])
    columns = kernels.columns(steps.reshape(-1, 3)).view(len(angles), 2 * radius + 1, -1)
    gray = kernels.gray
    level = gray[:, None, :-1]  # (B, 1, K)
    inside = level > 0
    along = take(gray, columns)  # (B, angles, 2r + 1, K)
    start = inside & (along[:, :, 0] != level)
    ahead = along[:, :, 1:]
    # A run goes on while every voxel so far has the start's level (outside voxels have level 0).
    length = 1 + torch.cumprod((ahead == level[:, :, None]).to(torch.int64), dim=2).sum(2)
    # No line with two region voxels: pyradiomics drops the angle's (length-1) runs for this kernel.
    several = (inside[:, :, None] & (ahead > 0)).flatten(2).any(2, keepdim=True)
    return Elements(level.expand_as(start), length, start & several)


def compute(kernels: Kernels, features: list[str]) -> dict[str, torch.Tensor]:
    elements = runs(kernels)
    return {name: torch.nanmean(FEATURES[name](elements), 1) for name in features}
