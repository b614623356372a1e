"""From a ``Volume`` to the network's input, with MONAI transforms, and back.

The same functions serve training and inference, so the network always sees what it was trained on:
the image as a MONAI ``MetaTensor`` (channel first, spatial axes i, j, k, RAS affine as MONAI
expects), oriented to RAS, resampled to the model's spacing, windowed to [0, 1], and, for guided
models, a second channel marking the tumor clicks with Gaussians, for box-guided ones a third marking
the box, and for models that take corrections a last one marking the "not tumor" clicks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Orientation, ScaleIntensityRange, Spacing

from ..volume import Volume
from .spec import ModelSpec

# MONAI keeps affines in RAS; our volumes (like SimpleITK and DICOM) are in LPS.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def affine_lps(volume: Volume) -> np.ndarray:
    """4x4 matrix taking voxel indices (i, j, k, 1) to LPS millimetres."""
    affine = np.eye(4)
    affine[:3, :3] = np.reshape(volume.direction, (3, 3)) * np.asarray(volume.spacing)[None, :]
    affine[:3, 3] = volume.origin
    return affine


def to_metatensor(volume: Volume, dtype: torch.dtype = torch.float32) -> MetaTensor:
    """``volume`` as a one-channel MetaTensor (1, i, j, k) with its RAS affine."""
    data = torch.from_numpy(np.ascontiguousarray(volume.array.transpose(2, 1, 0))).to(dtype)[None]
    return MetaTensor(data, affine=torch.as_tensor(LPS_TO_RAS @ affine_lps(volume), dtype=torch.float64))


def geometry_transforms(spec: ModelSpec, mode: str = "bilinear") -> list:
    """Orientation to RAS and resampling to the model's spacing (``nearest`` for masks)."""
    return [
        Orientation(axcodes="RAS", labels=None),  # labels from the MetaTensor's space (RAS)
        Spacing(pixdim=spec.spacing, mode=mode, padding_mode="border"),
    ]


def image_transforms(spec: ModelSpec) -> Compose:
    """Geometry and intensity window of ``spec``; invertible (except the window) with MONAI."""
    low, high = spec.intensity_window
    return Compose([
        *geometry_transforms(spec),
        # Clipping makes everything outside the window (metal, air beyond -1000 HU) look the same.
        ScaleIntensityRange(a_min=low, a_max=high, b_min=0.0, b_max=1.0, clip=True),
    ])


def mask_transforms(spec: ModelSpec) -> Compose:
    """The geometry of ``image_transforms`` for a mask: it stays voxel-aligned with its image."""
    return Compose(geometry_transforms(spec, mode="nearest"))


def voxel_of(image: MetaTensor, point_lps: np.ndarray) -> np.ndarray:
    """Continuous voxel coordinates in ``image`` of a point given in LPS millimetres."""
    point_ras = LPS_TO_RAS @ np.append(np.asarray(point_lps, float), 1.0)
    return (np.linalg.inv(image.affine.numpy()) @ point_ras)[:3]


def click_channel(image: MetaTensor, voxels: Sequence[np.ndarray], sigma_mm: float) -> torch.Tensor:
    """A (1, i, j, k) map of clicks at ``voxels`` (continuous voxel coordinates of ``image``): 1 at each
    click, falling off as a Gaussian of ``sigma_mm``, the largest where several overlap; 0 for none."""
    spacing = np.linalg.norm(image.affine.numpy()[:3, :3], axis=0)
    return clicks_on_grid(tuple(image.shape[1:]), spacing, voxels, sigma_mm)


def clicks_on_grid(shape: tuple[int, int, int], spacing: Sequence[float], voxels: Sequence[np.ndarray],
                   sigma_mm: float) -> torch.Tensor:
    """``click_channel`` on a grid given by its shape and voxel spacing (mm)."""
    channel = torch.zeros((1, *shape), dtype=torch.float32)
    for voxel in voxels:
        axes = [
            torch.exp(-0.5 * ((torch.arange(n, dtype=torch.float32) - float(c)) * float(s) / sigma_mm) ** 2)
            for n, c, s in zip(shape, voxel, spacing)
        ]
        # The 3D Gaussian is separable: an outer product of three 1D profiles.
        torch.maximum(channel[0], axes[0][:, None, None] * axes[1][None, :, None] * axes[2][None, None, :],
                      out=channel[0])
    return channel


def box_channel(shape: tuple[int, int, int], low_voxel: np.ndarray, high_voxel: np.ndarray) -> torch.Tensor:
    """A (1, i, j, k) map, 1 at the voxels whose centres lie in the box ``low_voxel``..``high_voxel``
    (continuous voxel coordinates, both ends included) and 0 elsewhere."""
    channel = torch.zeros((1, *shape), dtype=torch.float32)
    first = np.clip(np.ceil(np.asarray(low_voxel, float) - 1e-6).astype(int), 0, shape)
    last = np.clip(np.floor(np.asarray(high_voxel, float) + 1e-6).astype(int) + 1, 0, shape)
    channel[0, first[0]:last[0], first[1]:last[1], first[2]:last[2]] = 1.0
    return channel
