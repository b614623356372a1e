"""3D shape features (pyradiomics' ``shape`` class), with pyradiomics 3.0.1's values and names.

Only what the requested features need is computed: the mesh (surface area, mesh volume), the mesh
vertices (diameters) and the principal moments (axis lengths) are each computed once, on first use.
All deprecated features of this class are computed when asked for, as pyradiomics does (none of them
raises a DeprecationWarning instead of a value). Values that pyradiomics makes NaN (axis lengths of a
negative eigenvalue, elongation/flatness of a single voxel) are NaN here too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property

import numpy as np

from ...errors import MaskError, SettingsError
from .diameter import max_distance, max_in_plane_distance
from .mesh import crossing_vertices, mesh_area_volume, pad
from .moments import axis_length, axis_ratio, principal_moments


class _Shape:
    """The pieces of one ROI's shape that features share, computed on first use."""

    def __init__(self, mask: np.ndarray, spacing: tuple[float, float, float]):
        self.mask = mask
        self.spacing = np.array(spacing[::-1], dtype=float)  # array (z, y, x) order

    @cached_property
    def padded(self) -> np.ndarray:
        return pad(self.mask)

    @cached_property
    def area_volume(self) -> tuple[float, float]:
        return mesh_area_volume(self.padded, self.spacing)

    @property
    def area(self) -> float:
        return self.area_volume[0]

    @property
    def volume(self) -> float:
        return self.area_volume[1]

    @cached_property
    def vertices(self) -> np.ndarray:
        return crossing_vertices(self.padded)

    def plane_diameter(self, axis: int) -> float:
        return max_in_plane_distance(self.vertices, self.spacing, axis)

    @cached_property
    def eigenvalues(self) -> np.ndarray:
        return principal_moments(self.mask, self.spacing)


# Formulas written as pyradiomics writes them, so that round-off matches too.
_FEATURES: dict[str, Callable[[_Shape], float]] = {
    "Compactness1": lambda s: s.volume / (s.area ** (3.0 / 2.0) * math.sqrt(math.pi)),
    "Compactness2": lambda s: (36.0 * math.pi) * (s.volume ** 2.0) / (s.area ** 3.0),
    "Elongation": lambda s: axis_ratio(s.eigenvalues[1], s.eigenvalues[2]),
    "Flatness": lambda s: axis_ratio(s.eigenvalues[0], s.eigenvalues[2]),
    "LeastAxisLength": lambda s: axis_length(s.eigenvalues[0]),
    "MajorAxisLength": lambda s: axis_length(s.eigenvalues[2]),
    "Maximum2DDiameterColumn": lambda s: s.plane_diameter(1),
    "Maximum2DDiameterRow": lambda s: s.plane_diameter(2),
    "Maximum2DDiameterSlice": lambda s: s.plane_diameter(0),
    "Maximum3DDiameter": lambda s: max_distance(s.vertices, s.spacing),
    "MeshVolume": lambda s: s.volume,
    "MinorAxisLength": lambda s: axis_length(s.eigenvalues[1]),
    "SphericalDisproportion": lambda s: s.area / (36 * math.pi * s.volume ** 2) ** (1.0 / 3.0),
    "Sphericity": lambda s: (36 * math.pi * s.volume ** 2) ** (1.0 / 3.0) / s.area,
    "SurfaceArea": lambda s: s.area,
    "SurfaceVolumeRatio": lambda s: s.area / s.volume,
    "VoxelVolume": lambda s: int(np.count_nonzero(s.mask)) * (s.spacing[0] * s.spacing[2] * s.spacing[1]),
}

def check_names(names: Sequence[str], known: Mapping[str, object], group: str) -> None:
    """Raise SettingsError for a feature name that the class does not have (pyradiomics raises LookupError)."""
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SettingsError(f"Unknown {group} feature(s) {', '.join(map(repr, unknown))}; "
                            f"known: {', '.join(sorted(known))}.")


def check_mask(mask: np.ndarray, ndim: int) -> np.ndarray:
    """The mask as a boolean array of ``ndim`` dimensions with at least one voxel, else MaskError."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != ndim:
        raise MaskError(f"Shape features need a {ndim}D mask; got an array of shape {mask.shape}.")
    if not mask.any():
        raise MaskError("The mask is empty: there is no ROI to compute shape features of.")
    return mask


def shape_features(mask: np.ndarray, spacing: tuple[float, float, float], names: Sequence[str]) -> dict[str, float]:
    """pyradiomics' 3D shape features of a mask.

    ``mask``: bool [z, y, x] array cropped to the ROI's bounding box (as pyradiomics' computeShape crops it);
    ``spacing``: (x, y, z) in mm as SimpleITK gives it. Returns ``names`` (in that order) with their values.
    """
    check_names(names, _FEATURES, "shape")
    shape = _Shape(check_mask(mask, 3), spacing)
    return {name: float(_FEATURES[name](shape)) for name in names}
