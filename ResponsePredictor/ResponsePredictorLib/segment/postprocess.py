"""Cleaning a predicted mask: one connected tumor, without holes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.transforms import FillHoles
from scipy import ndimage


def keep_component(mask: np.ndarray, seed_indices: Sequence[np.ndarray] | np.ndarray | None) -> np.ndarray:
    """The connected components of ``mask`` at the clicks (voxel indices, one or several), for each click
    the one nearest to it when it falls outside the mask; the largest component without a click.

    A click names one lesion: a larger lesion elsewhere in the region must not replace it.
    """
    if not mask.any():
        return mask
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    if seed_indices is None:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        return labels == int(np.argmax(sizes))
    indices = _voxels(seed_indices, mask.shape)
    chosen = labels[tuple(indices.T)]
    if (chosen == 0).any():
        # A click fell just outside the prediction: take the component whose voxel is nearest.
        _, nearest = ndimage.distance_transform_edt(labels == 0, return_indices=True)
        chosen = np.array([labels[tuple(n[tuple(index)] for n in nearest)] for index in indices])
    return np.isin(labels, chosen)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with enclosed background (necrotic cores, air bronchograms) filled, in 3D."""
    filled = FillHoles(applied_labels=[1])(torch.from_numpy(mask[None].astype(np.uint8)))
    return np.asarray(filled[0], dtype=bool)


def clean_mask(mask: np.ndarray, seed_indices: Sequence[np.ndarray] | np.ndarray | None,
               negative_indices: Sequence[np.ndarray] = ()) -> np.ndarray:
    """The clicked components, their holes filled except a hole at a not-tumor click (voxel indices): a
    user who clicks "not tumor" inside a lesion (a cavity, a vessel it wraps) means it to stay open."""
    kept = keep_component(mask, seed_indices)
    filled = fill_holes(kept)
    if len(negative_indices) and (filled != kept).any():
        holes, _ = ndimage.label(filled & ~kept, structure=np.ones((3, 3, 3)))
        indices = _voxels(negative_indices, mask.shape)
        opened = np.setdiff1d(holes[tuple(indices.T)], [0])
        filled &= ~np.isin(holes, opened)
    return filled


def _voxels(indices: Sequence[np.ndarray] | np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Continuous voxel indices (one or several) as the nearest voxels inside an array of ``shape``, (n, 3)."""
    return np.clip(np.round(np.atleast_2d(np.asarray(indices, float))).astype(int), 0, np.array(shape) - 1)
