"""``compute_feature_maps``: voxel-wise radiomic feature maps of one tumor, by either backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import SettingsError
from ..features import checked_region
from ..volume import Volume
from .names import parse_feature_names
from .reference import pyradiomics_feature_maps

BACKENDS = ("fast", "pyradiomics")


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

    ``settings`` are pyradiomics parameters (as ``features.load_settings`` returns them); the
    preprocessing (resampling, LoG filtering, discretisation over the whole region) is
    pyradiomics' own, so a map's values are those of pyradiomics' voxel-based mode
    (``voxelBased=True``, ``kernelRadius=radius``, masked kernels). Each map is a float32 Volume on
    the grid pyradiomics' voxel mode uses (the settings' resampled grid, cropped to the mask's
    bounding box plus ``radius``), NaN outside the mask. ``device`` ("auto", "cpu", "cuda") is
    used by the fast backend; "auto" takes CUDA when present.
    """
    if backend not in BACKENDS:
        raise SettingsError(f"Unknown feature-map backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
        raise SettingsError(f"The kernel radius must be a whole number of voxels, 1 or more; got {radius!r}.")
    parsed = parse_feature_names(list(names))
    mask, label = checked_region(image, mask, settings, label)
    if backend == "pyradiomics":
        return pyradiomics_feature_maps(image, mask, parsed, settings, radius, label)
    from .fast import fast_feature_maps  # torch is imported only when the fast backend is used

    return fast_feature_maps(image, mask, parsed, settings, radius, label, device)
