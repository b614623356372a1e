"""GLSZM feature maps: 26-connected zones of equal gray level inside each kernel's region (pyradiomics' definitions)."""

from __future__ import annotations

import torch

from .kernels import Kernels, take
from .zone_features import Elements, common_features

FEATURES = {
    **common_features(size="Zone", non_uniformity="SizeZone", gray_emphasis="Zone", large="LargeArea", small="SmallArea"),
    # pyradiomics' Np: the voxels in zones, i.e. the kernel's region voxels.
    "ZonePercentage": lambda e: e.count / (e.s * e.weight).sum(-1),
}


def zones(kernels: Kernels) -> Elements:
    """(B, K): the zone rooted at each kernel column (its lowest column), with its level and size."""
    gray = kernels.gray
    level = gray[:, :-1]
    inside = level > 0
    rows, width = level.shape
    neighbours = kernels.columns(kernels.volume.angles(bidirectional=True, distances=[1]))  # (26, K)
    connected = inside[:, None, :] & (take(gray, neighbours) == level[:, None, :])  # (B, 26, K)
    position = torch.arange(width, device=gray.device).expand(rows, -1)
    label = torch.where(inside, position, width)
    active = torch.arange(rows, device=gray.device)  # kernels whose labels may still change
    while active.numel():
        # Each voxel takes the lowest label among itself and its same-level neighbours, then jumps to
        # its label's label; labels only decrease, so this stops at one label (the lowest column) per zone.
        current = label[active]
        padded = torch.cat([current, current.new_full((len(active), 1), width)], 1)
        lowest = torch.where(connected[active], take(padded, neighbours), width).amin(1)
        updated = torch.minimum(current, lowest)
        updated = torch.where(inside[active], updated.gather(1, updated.clamp(max=width - 1)), width)
        changed = (updated != current).any(1)
        label[active] = updated
        active = active[changed]
    sizes = torch.zeros(rows, width + 1, dtype=torch.int64, device=gray.device)
    sizes.scatter_add_(1, label, torch.ones_like(label))
    root = inside & (label == position)
    return Elements(level, sizes[:, :width], root)


def compute(kernels: Kernels, features: list[str]) -> dict[str, torch.Tensor]:
    elements = zones(kernels)
    return {name: FEATURES[name](elements) for name in features}
