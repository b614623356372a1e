"""From the grid the features are computed on back to the input image's grid, and the input checks
every heatmap method shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import SimpleITK as sitk

from ..errors import MaskError
from ..features import mask_labels
from ..volume import Volume, conform_mask, crop_padded, nonzero_box

# Below this interpolated share of valid (in-mask) feature-grid voxels a voxel of the input mask is
# left at 0: it lies outside every map voxel, so a value there would be an extrapolation.
MIN_SUPPORT = 1e-3


def tumor_mask(image: Volume, mask: Volume, settings: Mapping[str, Any] | None = None) -> tuple[Volume, int]:
    """The mask on the image's grid and the label analysed (the settings' ``label``, else the only one).

    A mask on another grid is refused, as in feature extraction (``conform_mask``).
    """
    mask = conform_mask(mask, image, source="The mask")
    present = mask_labels(mask)
    if not present:
        raise MaskError("The mask is empty: it has no voxel with a label above 0. Segment the tumor first.")
    wanted = (settings or {}).get("setting", {}).get("label")
    if wanted is None:
        if len(present) > 1:
            raise MaskError(f"The mask holds several labels ({', '.join(map(str, present))}); give one label map per tumor.")
        wanted = present[0]
    if int(wanted) not in present:
        raise MaskError(f"Label {wanted} (the model's feature settings) is not in the mask; labels present: "
                        f"{', '.join(map(str, present))}.")
    return mask, int(wanted)


def to_input_grid(feature_map: Volume, image: Volume, region: np.ndarray) -> tuple[np.ndarray, int]:
    """``feature_map`` (NaN outside its mask) resampled linearly onto ``image``'s grid inside ``region``.

    Returns the full-size float32 array (0 outside ``region``) and the number of region voxels no map
    voxel reaches (left at 0). The NaNs are not interpolated: the map and its valid-voxel indicator
    are resampled separately and divided (normalised interpolation), so border voxels are not pulled
    towards 0.
    """
    box = nonzero_box(region)
    start = tuple(s.start for s in reversed(box))  # type: ignore[union-attr]
    stop = tuple(s.stop for s in reversed(box))  # type: ignore[union-attr]
    reference = crop_padded(image.with_array(region.astype(np.uint8)), start, stop, 0)
    valid = np.isfinite(feature_map.array)
    values = _resample(feature_map.with_array(np.where(valid, feature_map.array, 0).astype(np.float32)), reference)
    support = _resample(feature_map.with_array(valid.astype(np.float32)), reference)
    inside = reference.array > 0
    reached = inside & (support > MIN_SUPPORT)
    out = np.zeros(region.shape, np.float32)
    out[box] = np.where(reached, values / np.maximum(support, MIN_SUPPORT), 0)
    return out, int(np.count_nonzero(inside & ~reached))


def _resample(moving: Volume, reference: Volume) -> np.ndarray:
    image = sitk.Resample(moving.to_sitk(), reference.to_sitk(), sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.GetArrayViewFromImage(image).copy()
