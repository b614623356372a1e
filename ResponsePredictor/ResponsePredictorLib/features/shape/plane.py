"""2D shape features (pyradiomics' ``shape2D`` class with ``force2D``), with pyradiomics 3.0.1's values and names.

The mask must be one voxel thick along ``dimension`` (pyradiomics' ``force2Ddimension``, a numpy axis:
0 = slices); pyradiomics raises a ValueError otherwise and so does this module (a MaskError).
Its one deprecated feature, SphericalDisproportion, is computed when asked for, as pyradiomics does.

Note for callers that mimic pyradiomics' feature extractor: in 3.0.1 ``computeShape`` only runs shape2D
when the ROI's bounding box is larger than one voxel along the *SimpleITK* axis ``force2Ddimension``
(x for 0), and skips it with a warning otherwise; that choice belongs to the caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np

from ...errors import MaskError, SettingsError
from .volume import check_mask, check_names
from .diameter import max_distance
from .mesh import crossing_vertices, mesh_perimeter_surface, pad
from .moments import axis_length, axis_ratio, principal_moments


class _Shape2D:
    """The pieces of one 2D ROI's shape that features share, computed on first use."""

    def __init__(self, mask: np.ndarray, spacing: np.ndarray):
        self.mask = mask
        self.spacing = spacing  # array (row, column) order

    @cached_property
    def padded(self) -> np.ndarray:
        return pad(self.mask)

    @cached_property
    def perimeter_surface(self) -> tuple[float, float]:
        return mesh_perimeter_surface(self.padded, self.spacing)

    @property
    def perimeter(self) -> float:
        return self.perimeter_surface[0]

    @property
    def surface(self) -> float:
        return self.perimeter_surface[1]

    @cached_property
    def eigenvalues(self) -> np.ndarray:
        return principal_moments(self.mask, self.spacing)

    @property
    def sphericity(self) -> float:
        return (2 * math.sqrt(math.pi * self.surface)) / self.perimeter


# Formulas written as pyradiomics writes them, so that round-off matches too.
_FEATURES: dict[str, Callable[[_Shape2D], float]] = {
    "Elongation": lambda s: axis_ratio(s.eigenvalues[0], s.eigenvalues[1]),
    "MajorAxisLength": lambda s: axis_length(s.eigenvalues[1]),
    "MaximumDiameter": lambda s: max_distance(crossing_vertices(s.padded), s.spacing),
    "MeshSurface": lambda s: s.surface,
    "MinorAxisLength": lambda s: axis_length(s.eigenvalues[0]),
    "Perimeter": lambda s: s.perimeter,
    "PerimeterSurfaceRatio": lambda s: s.perimeter / s.surface,
    "PixelSurface": lambda s: int(np.count_nonzero(s.mask)) * (s.spacing[1] * s.spacing[0]),
    "SphericalDisproportion": lambda s: 1.0 / s.sphericity,
    "Sphericity": lambda s: s.sphericity,
}

def shape2d_features(mask: np.ndarray, spacing: tuple[float, float, float], dimension: int,
                     names: Sequence[str]) -> dict[str, float]:
    """pyradiomics' 2D shape features of a mask that is one voxel thick along numpy axis ``dimension``.

    ``mask``: bool [z, y, x] array cropped to the ROI's bounding box; ``spacing``: (x, y, z) in mm as SimpleITK
    gives it. Returns ``names`` (in that order) with their values.
    """
    check_names(names, _FEATURES, "shape2D")
    if dimension not in (0, 1, 2):
        raise SettingsError(f"force2Ddimension must be 0, 1 or 2; got {dimension!r}.")
    mask = check_mask(mask, 3)
    if mask.shape[dimension] > 1:
        raise MaskError(f"2D shape features need an ROI one voxel thick along axis {dimension} "
                        f"(force2Ddimension); this one spans {mask.shape[dimension]} voxels.")
    plane_spacing = np.delete(np.array(spacing[::-1], dtype=float), dimension)
    shape = _Shape2D(np.squeeze(mask, axis=dimension), plane_spacing)
    return {name: float(_FEATURES[name](shape)) for name in names}
