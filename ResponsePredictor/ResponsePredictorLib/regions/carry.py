"""A tumor mask carried from the scan it was drawn on onto another scan's grid, in physical space.

How: each voxel of the other scan is in the tumor when the mask covers at least half of its volume.
The covered fraction is measured by sampling the mask (nearest neighbour) at a regular lattice of
points inside each target voxel, as many per axis as it takes for the lattice to be no coarser than
the mask's own voxels, and averaging each target voxel's points.

Why: nearest neighbour at the target voxels' centres (the usual choice for labels) decides a coarse
voxel (a 4.7 mm PET voxel under a 1 mm CT mask) by the one mask voxel under its centre, so the
boundary moves by up to half a target voxel and thin parts of the tumor appear or vanish by chance;
linear interpolation at the centre has the same one-sample defect. Half coverage is the
partial-volume rule: the carried tumor keeps its volume and centroid on coarser and finer grids alike.
Only the tumor's bounding box is sampled, so a whole-body target costs no more than the tumor.
"""

from __future__ import annotations

import math

import numpy as np
import SimpleITK as sitk

from ..errors import MaskError
from ..volume import Volume, as_label_map

# Lattice points per target voxel and axis at most: beyond this the coverage is fine enough (1/8 voxel).
MAX_SUBSAMPLES = 8
COVERED = 0.5


def carry_mask(mask: Volume, target: Volume, *, what: str = "the other scan") -> Volume:
    """The tumor of ``mask`` (its voxels above 0) as a 0/1 uint8 mask on ``target``'s grid.

    Raises ``MaskError`` when the tumor reaches outside ``target``'s extent (the scan does not show it
    all) or covers no voxel of ``target`` by half.
    """
    tumor = as_label_map(mask, source="The mask").array > 0
    if not tumor.any():
        raise MaskError("The mask to carry is empty: there is no tumor to carry onto " + what + ".")
    corners = _tumor_corners(mask, tumor)
    inside = np.array([target.physical_to_index(mask.index_to_physical(corner)) for corner in corners])
    low, high = inside.min(0), inside.max(0)
    size = np.asarray(target.size, float)
    if np.any(low < -0.5 - 1e-6) or np.any(high > size - 0.5 + 1e-6):
        beyond = np.maximum(-0.5 - low, high - (size - 0.5)).clip(min=0) * np.asarray(target.spacing)
        raise MaskError(
            f"The tumor reaches outside {what} (by up to {beyond.max():.1f} mm): that scan does not show the whole "
            "tumor. Give that scan with its own mask, or a scan that covers the tumor."
        )
    start = np.clip(np.floor(low + 0.5).astype(int), 0, None)  # the target voxels the tumor touches
    stop = np.minimum(np.floor(high + 0.5).astype(int) + 1, np.asarray(target.size))
    factors = [min(MAX_SUBSAMPLES, max(1, math.ceil(t / min(mask.spacing) - 1e-9))) for t in target.spacing]
    covered = _coverage(mask.with_array(tumor.astype(np.uint8)), target, start, stop, factors)
    carried = np.zeros(target.shape, np.uint8)
    carried[start[2]:stop[2], start[1]:stop[1], start[0]:stop[0]] = covered >= COVERED
    if not carried.any():
        raise MaskError(f"The tumor is smaller than half a voxel of {what}: carried onto its grid, it covers no voxel.")
    return target.with_array(carried)


def _tumor_corners(mask: Volume, tumor: np.ndarray) -> list[tuple[float, float, float]]:
    """The 8 corners (continuous i, j, k) of the box around the tumor voxels, voxel edges included."""
    k, j, i = (np.flatnonzero(tumor.any(axis=axes)) for axes in ((1, 2), (0, 2), (0, 1)))
    bounds = [(i[0] - 0.5, i[-1] + 0.5), (j[0] - 0.5, j[-1] + 0.5), (k[0] - 0.5, k[-1] + 0.5)]
    return [(a, b, c) for a in bounds[0] for b in bounds[1] for c in bounds[2]]


def _coverage(tumor: Volume, target: Volume, start: np.ndarray, stop: np.ndarray, factors: list[int]) -> np.ndarray:
    """Fraction of each target voxel in [start, stop) (i, j, k) that the tumor covers, as a (k, j, i) array."""
    count = stop - start
    fine_spacing = np.asarray(target.spacing) / factors
    # The lattice's first point: a half fine step inside the first voxel's lower corner.
    first = target.index_to_physical(start - 0.5 + 0.5 / np.asarray(factors))
    reference = sitk.Image([int(n * f) for n, f in zip(count, factors)], sitk.sitkUInt8)
    reference.SetSpacing(tuple(float(s) for s in fine_spacing))
    reference.SetOrigin(tuple(float(c) for c in first))
    reference.SetDirection(target.direction)
    sampled = sitk.GetArrayFromImage(  # a copy: a view would not keep the resampled image alive
        sitk.Resample(tumor.to_sitk(), reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    )
    fi, fj, fk = factors
    blocks = sampled.reshape(count[2], fk, count[1], fj, count[0], fi)
    return blocks.mean(axis=(1, 3, 5))
