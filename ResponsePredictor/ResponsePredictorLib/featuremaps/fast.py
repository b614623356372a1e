"""The fast backend: every kernel of a batch at once, with torch on the CPU or a CUDA GPU."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from ..errors import MaskError, SettingsError
from ..volume import Volume
from . import firstorder, glcm, gldm, glrlm, glszm, ngtdm
from .kernels import Kernels, KernelVolume
from .names import FeatureName
from .preprocess import prepared_images

CLASSES: dict[str, Callable[[Kernels, list[str]], dict[str, torch.Tensor]]] = {
    "firstorder": firstorder.compute,
    "glcm": glcm.compute,
    "glrlm": glrlm.compute,
    "glszm": glszm.compute,
    "gldm": gldm.compute,
    "ngtdm": ngtdm.compute,
}

# Kernel elements (kernels x columns x 16) per batch: small enough for the CPU's caches (measured:
# larger batches are slower there), large enough to keep a GPU busy; memory stays in the 100 MB range.
ELEMENTS_PER_BATCH = {"cpu": 2**20, "cuda": 2**24}


def choose_device(device: str) -> torch.device:
    """'auto' takes CUDA when present, else the CPU; 'cpu' and 'cuda' (or 'cuda:N') are taken as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise SettingsError(f"Device {device!r} was asked for, but no CUDA GPU is available; use 'cpu' or 'auto'.")
        return torch.device(device)
    raise SettingsError(f"Unknown device {device!r}; use 'auto', 'cpu' or 'cuda'.")


def _check_supported(settings: Mapping[str, Any]) -> None:
    """Settings whose voxel-wise effect the fast backend does not reproduce: refuse rather than differ."""
    section = {**(settings.get("setting") or {}), **(settings.get("voxelSetting") or {})}
    unsupported = {
        "force2D": section.get("force2D", False),
        "weightingNorm": section.get("weightingNorm") is not None,
        "symmetricalGLCM": section.get("symmetricalGLCM", True) is False,
        "maskedKernel": section.get("maskedKernel", True) is False,
    }
    used = [name for name, on in unsupported.items() if on]
    if used:
        raise SettingsError(
            f"The fast feature-map backend does not implement the setting(s) {', '.join(used)}; "
            "remove them or use backend='pyradiomics'."
        )


def fast_feature_maps(
    image: Volume, mask: Volume, names: list[FeatureName], settings: Mapping[str, Any], radius: int, label: int, device: str
) -> dict[str, Volume]:
    _check_supported(settings)
    torch_device = choose_device(device)
    wanted: dict[str, dict[str, list[str]]] = {}
    for name in names:
        wanted.setdefault(name.image_type, {}).setdefault(name.feature_class, []).append(name.feature)
    maps: dict[str, Volume] = {}
    with torch.inference_mode():
        for prepared in prepared_images(image, mask, names, settings, radius, label):
            classes = wanted.get(prepared.image_type)
            if not classes:
                continue
            volume = KernelVolume.build(prepared, radius, torch_device)
            values = _kernel_values(volume, classes)
            grid = prepared.grid
            for (feature_class, feature), column in values.items():
                array = np.full(prepared.roi.shape, np.nan, dtype=np.float32)
                array[prepared.roi] = column  # the kernels are in the region's C order
                name = f"{prepared.image_type}_{feature_class}_{feature}"
                maps[name] = Volume(array, grid.GetSpacing(), grid.GetOrigin(), grid.GetDirection())
    missing = [name.name for name in names if name.name not in maps]
    if missing:
        # pyradiomics skips a LoG sigma when the cropped image is smaller than the filter.
        raise MaskError(f"No map for {', '.join(missing)}: the region is too small for its filter.")
    return {name.name: maps[name.name] for name in names}


def _kernel_values(volume: KernelVolume, classes: dict[str, list[str]]) -> dict[tuple[str, str], np.ndarray]:
    """Each requested feature's value for every kernel of ``volume``, batch by batch."""
    kernel_size = (2 * volume.radius + 1) ** 3
    batch = max(64, ELEMENTS_PER_BATCH[volume.centres.device.type] // (kernel_size * 16))
    parts: dict[tuple[str, str], list[np.ndarray]] = {}
    for start in range(0, volume.count, batch):
        kernels = volume.batch(start, min(start + batch, volume.count))
        for feature_class, features in classes.items():
            for feature, result in CLASSES[feature_class](kernels, features).items():
                parts.setdefault((feature_class, feature), []).append(result.double().cpu().numpy())
    return {key: np.concatenate(chunks) for key, chunks in parts.items()}
