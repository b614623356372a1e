"""Voxel-wise feature maps: each feature's value in a small kernel around every tumor voxel.

``compute_feature_maps(image, mask, names, settings, radius=1, backend="fast")`` gives the values of
pyradiomics' voxel-based mode (``voxelBased=True``, ``kernelRadius=radius``): the preprocessing is
pyradiomics' own sequence (``preprocessing.prepare_case``), the kernels are rows of
``texture.kernels.Kernels`` computed in batches with torch on the CPU or a CUDA GPU, by the same
formulas as the whole-tumor features. ``backend="pyradiomics"`` runs pyradiomics' voxel mode itself
(the reference, much slower; only where pyradiomics is installed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import MaskError, SettingsError
from ..volume import Volume
from .checks import checked_region
from ..devices import resolve_device
from .names import FeatureName, parse_feature_names
from .preprocessing import prepare_case
from .settings import check_backend, parse_settings
from .texture import CLASSES
from .texture.kernels import KernelVolume
from .voxel_settings import voxel_settings
from .whole_tumor import discretised

# Kernel elements (kernels x columns x the class's elements per column) per batch: small enough to stay in
# the CPU's caches, large enough to keep a GPU busy; memory stays in the 100 MB range.
ELEMENTS_PER_BATCH = {"cpu": 2**20, "cuda": 2**24}
# About what a class holds per kernel column (pairs or runs along 13 angles, the zones' K x K reach;
# measured on 2 cores): the texture matrices fill a batch with fewer kernels, the light classes take more
# kernels per batch, so that the fixed cost of each tensor operation is paid fewer times.
ELEMENTS_PER_COLUMN = {"firstorder": 4, "gldm": 4, "ngtdm": 8, "glcm": 12, "glrlm": 16, "glszm": 32}


def compute_feature_maps(
    image: Volume,
    mask: Volume,
    names: Sequence[str],
    settings: Mapping[str, Any],
    *,
    radius: int = 1,
    label: int | None = None,
    device: str = "auto",
    backend: str = "fast",
) -> dict[str, Volume]:
    """The value of each feature in ``names`` in the kernel (a cube of side 2 * radius + 1) around every voxel.

    ``settings`` are pyradiomics parameters (as ``features.load_settings`` returns them). Each map is
    a float32 Volume on the grid pyradiomics' voxel mode uses (the settings' resampled grid, cropped
    to the mask's bounding box plus ``radius``), NaN outside the mask. ``device`` ("auto", "cpu",
    "cuda") is used by the fast backend; "auto" takes CUDA when present.
    """
    check_backend(backend)
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
        raise SettingsError(f"The kernel radius must be a whole number of voxels, 1 or more; got {radius!r}.")
    parsed = parse_feature_names(list(names))
    mask, label = checked_region(image, mask, parse_settings(settings), label)  # the settings are checked first
    if backend == "pyradiomics":
        from .pyradiomics_backend import pyradiomics_feature_maps

        return pyradiomics_feature_maps(image, mask, parsed, settings, radius, label)
    return _fast_feature_maps(image, mask, parsed, settings, radius, label, resolve_device(device))


def _fast_feature_maps(
    image: Volume, mask: Volume, names: list[FeatureName], settings: Mapping[str, Any], radius: int, label: int,
    device: torch.device,
) -> dict[str, Volume]:
    run = parse_settings(voxel_settings(settings, names, radius, label))
    case = prepare_case(image.to_sitk(), mask.to_sitk(), run.general, run.image_types, voxel_based=True)
    wanted: dict[str, dict[str, list[str]]] = {}
    for name in names:
        wanted.setdefault(name.image_type, {}).setdefault(name.feature_class, []).append(name.feature)
    maps: dict[str, Volume] = {}
    with torch.inference_mode():
        for filtered in case.filtered_images():
            classes = wanted.get(filtered.image_type)
            if not classes:
                continue  # a lower wavelet level or another band, made on the way to the one asked for
            volume = KernelVolume.build(discretised(filtered), radius, device)
            grid = filtered.image
            for (feature_class, feature), column in _kernel_values(volume, classes).items():
                array = np.full(filtered.roi.shape, np.nan, dtype=np.float32)
                array[filtered.roi] = column  # the kernels are in the region's C order
                maps[f"{filtered.image_type}_{feature_class}_{feature}"] = Volume(
                    array, grid.GetSpacing(), grid.GetOrigin(), grid.GetDirection()
                )
    missing = [name.name for name in names if name.name not in maps]
    if missing:
        # pyradiomics skips a LoG sigma when the cropped image is smaller than the filter.
        raise MaskError(f"No map for {', '.join(missing)}: the region is too small for its filter.")
    return {name.name: maps[name.name] for name in names}


def _kernel_values(volume: KernelVolume, classes: dict[str, list[str]]) -> dict[tuple[str, str], np.ndarray]:
    """Each requested feature's value for every kernel of ``volume``, batch by batch."""
    parts: dict[tuple[str, str], list[np.ndarray]] = {}
    # One class over all the batches, then the next: each class's tables of the volume stay in the caches.
    for feature_class, features in classes.items():
        elements = volume.width * ELEMENTS_PER_COLUMN[feature_class]
        batch = max(64, ELEMENTS_PER_BATCH[volume.centres.device.type] // elements)
        for start in range(0, volume.count, batch):
            kernels = volume.batch(start, min(start + batch, volume.count))
            for feature, result in CLASSES[feature_class](kernels, features).items():
                parts.setdefault((feature_class, feature), []).append(result.double().cpu().numpy())
    return {key: np.concatenate(chunks) for key, chunks in parts.items()}
