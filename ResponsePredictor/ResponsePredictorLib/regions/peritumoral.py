"""Peritumoral shells: the tissue around the tumor out to a distance (voxel centre to voxel centre).

A voxel is in the shell of ``distance_mm`` when it is not tumor and its centre lies within
``distance_mm`` of the centre of a tumor voxel, measured in millimetres (an exact Euclidean distance
transform with the scan's spacing, so an anisotropic CT's 3 mm slices count as 3 mm). The shell only
holds voxels of the scan: where the scan ends before the distance does, the shell is cut there
(``shell_reaches_outside`` says when). ``within`` limits it further (the body, for a CT).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import MaskError
from ..volume import Volume


def peritumoral_shell(mask: Volume, distance_mm: float, *, within: np.ndarray | None = None) -> Volume:
    """The shell of ``distance_mm`` around the tumor (mask > 0) as a 0/1 uint8 mask on the mask's grid."""
    from scipy import ndimage  # scipy: only for cases with shells

    if not (isinstance(distance_mm, (int, float)) and math.isfinite(distance_mm) and distance_mm > 0):
        raise MaskError(f"A peritumoral distance must be a positive number of millimetres; got {distance_mm!r}.")
    tumor = np.asarray(mask.array) > 0
    if not tumor.any():
        raise MaskError("The mask is empty: a peritumoral shell needs a tumor to surround.")
    box = _box_with_margin(tumor, distance_mm, mask.spacing)
    # Distances to the nearest tumor voxel, in mm; only the tumor's box grown by the distance is needed.
    distance = ndimage.distance_transform_edt(~tumor[box], sampling=tuple(reversed(mask.spacing)))
    shell = np.zeros(tumor.shape, np.uint8)
    shell[box] = (distance > 0) & (distance <= distance_mm)
    if within is not None:
        shell &= np.asarray(within, bool)
    if not shell.any():
        raise MaskError(f"The {distance_mm:g} mm peritumoral shell holds no voxel of the scan (the tumor fills it, "
                        "or the body limit leaves nothing).")
    return mask.with_array(shell)


def shell_reaches_outside(mask: Volume, distance_mm: float) -> bool:
    """Whether the shell of ``distance_mm`` would reach past the scan's edge (and is cut there)."""
    tumor = np.asarray(mask.array) > 0
    return any(first - reach < 0 or last + reach >= size
               for (first, last), reach, size in zip(_extents(tumor), _margin_voxels(distance_mm, mask.spacing), tumor.shape))


def _margin_voxels(distance_mm: float, spacing: tuple[float, float, float]) -> list[int]:
    """Voxels per array axis (k, j, i) that ``distance_mm`` spans."""
    return [int(math.floor(distance_mm / s + 1e-9)) for s in reversed(spacing)]


def _extents(tumor: np.ndarray) -> list[tuple[int, int]]:
    """The first and last index of the tumor along each array axis."""
    extents = []
    for axis in range(3):
        present = np.flatnonzero(tumor.any(axis=tuple(a for a in range(3) if a != axis)))
        extents.append((int(present[0]), int(present[-1])))
    return extents


def _box_with_margin(tumor: np.ndarray, distance_mm: float, spacing: tuple[float, float, float]) -> tuple[slice, ...]:
    return tuple(slice(max(first - reach - 1, 0), min(last + reach + 2, size))
                 for (first, last), reach, size in zip(_extents(tumor), _margin_voxels(distance_mm, spacing), tumor.shape))
