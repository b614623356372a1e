"""Cleaning a predicted mask: one connected tumor, without holes."""

from __future__ import annotations

import numpy as np
import torch
from monai.transforms import FillHoles
from scipy import ndimage


def keep_component(mask: np.ndarray, seed_index: np.ndarray | None) -> np.ndarray:
    """The connected component of ``mask`` at the seed, else the one nearest to it; the largest without a seed.

    A click names one lesion: a larger lesion elsewhere in the region must not replace it.
    """
    if not mask.any():
        return mask
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    if seed_index is None:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        return labels == int(np.argmax(sizes))
    index = tuple(np.clip(np.round(seed_index).astype(int), 0, np.array(mask.shape) - 1))
    chosen = labels[index]
    if chosen == 0:
        # The seed fell just outside the prediction: take the component whose voxel is nearest.
        _, nearest = ndimage.distance_transform_edt(labels == 0, return_indices=True)
        chosen = labels[tuple(n[index] for n in nearest)]
    return labels == chosen


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with enclosed background (necrotic cores, air bronchograms) filled, in 3D."""
    filled = FillHoles(applied_labels=[1])(torch.from_numpy(mask[None].astype(np.uint8)))
    return np.asarray(filled[0], dtype=bool)


def clean_mask(mask: np.ndarray, seed_index: np.ndarray | None) -> np.ndarray:
    return fill_holes(keep_component(mask, seed_index))
