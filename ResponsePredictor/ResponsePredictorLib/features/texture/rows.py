"""What the feature formulas read: rows of a discretised image, each row a kernel or a whole region.

The voxel mode (``kernels.Kernels``) makes one row per region voxel, its kernel; the whole-tumor
mode (``region.WholeRegion``) makes one row of the whole region. Both offer the same matrices as
element lists (``pairs``, ``runs``, ``zones``, ``dependences``, ``neighbourhood``), so every class's
formulas are written once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import SimpleITK as sitk
import torch

from .angles import angles, shifted
from .elements import Elements
from .ngtdm_table import LevelTable
from .pairs import Pairs


@dataclass(frozen=True, eq=False)
class DiscretisedImage:
    """One (filtered) image cropped around the region, with the region and its gray levels."""

    image_type: str  # pyradiomics' image type name: 'original', 'log-sigma-1-0-mm-3D', 'wavelet-LLH', ...
    grid: sitk.Image  # the cropped image (its geometry is the voxel maps' grid)
    values: np.ndarray  # float64 [k, j, i] voxel values (the first-order features' input)
    roi: np.ndarray  # bool [k, j, i]: the region's voxels
    # bool [k, j, i]: the voxels a voxel-mode kernel may hold: the region, or with ``maskedKernel: false``
    # the whole cropped image (pyradiomics then also bins and counts gray levels over all of it)
    kernel_region: np.ndarray
    gray: np.ndarray  # int64 [k, j, i] gray levels of the texture classes (1...Ng inside the region, 0 outside)
    first_order_gray: np.ndarray  # the same, discretised as the first-order class does it (from float64 values)
    settings: Mapping[str, Any]  # the settings the feature classes get for this image type

    @cached_property
    def levels_present(self) -> np.ndarray:
        """The gray levels that occur in the region (the kernel region in the voxel mode), ascending."""
        return np.unique(self.gray[self.kernel_region])

    @property
    def max_gray_level(self) -> int:
        """pyradiomics' Ng: the highest gray level in the region (not the number of levels present)."""
        return int(self.levels_present[-1])

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self.grid.GetSpacing()

    @property
    def force2d_dimension(self) -> int | None:
        """The axis that neither angles nor kernels move along (force2D), or None."""
        return int(self.settings.get("force2Ddimension", 0)) if self.settings.get("force2D", False) else None


class TextureRows(ABC):
    """A batch of rows of one discretised image and the texture matrices of every row."""

    image: DiscretisedImage

    @property
    def settings(self) -> Mapping[str, Any]:
        return self.image.settings

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self.image.spacing

    @property
    def max_gray_level(self) -> int:
        return self.image.max_gray_level

    @property
    def gray_levels_in_region(self) -> int:
        return len(self.image.levels_present)

    def angles(self, bidirectional: bool, distances: list[int] | None = None) -> np.ndarray:
        """pyradiomics' neighbour offsets (dk, dj, di) for this image's cropped size.

        ``distances`` defaults to the ``distances`` setting (GLCM, GLDM, NGTDM use it; pyradiomics'
        GLRLM and GLSZM always use distance 1).
        """
        distances = distances if distances is not None else list(self.settings.get("distances", [1]))
        return angles(self.image.roi.shape, distances, bidirectional=bidirectional, force2d_dimension=self.image.force2d_dimension)

    def angles_with_pairs(self, offsets: np.ndarray) -> list[int]:
        """The indices of the offsets pyradiomics keeps for Joint Average: along which two region voxels lie
        anywhere in the region (the voxel mode's kernels narrow it)."""
        return [a for a, step in enumerate(offsets) if _region_has_pairs(self.image.kernel_region, step)]

    @property
    @abstractmethod
    def values(self) -> torch.Tensor:
        """(rows, K) float64 voxel values of each row, NaN where a row has no voxel."""

    @property
    @abstractmethod
    def first_order_gray(self) -> torch.Tensor:
        """(rows, K) int64 gray levels as the first-order class discretises them, 0 where no voxel."""

    @abstractmethod
    def pairs(self, symmetric: bool) -> list[Pairs]:
        """GLCM elements per row and angle (one-directional angles at the ``distances`` setting), in groups
        of angles (each group's angles in ``Pairs.angles``)."""

    @abstractmethod
    def runs(self) -> Elements:
        """GLRLM elements per row and angle (one-directional angles at distance 1)."""

    @abstractmethod
    def zones(self) -> Elements:
        """GLSZM elements per row (zones connected along all angles at distance 1)."""

    @abstractmethod
    def dependences(self) -> Elements:
        """GLDM elements per row: voxels with their count of dependent neighbours + 1."""

    @abstractmethod
    def neighbourhood(self) -> LevelTable:
        """NGTDM per row: for each gray level its voxel count and summed difference from the neighbours' mean."""


def _region_has_pairs(roi: np.ndarray, step: np.ndarray) -> bool:
    if np.any(np.abs(step) >= np.array(roi.shape)):
        return False
    first, second = shifted(roi.shape, step)
    return bool(np.any(roi[first] & roi[second]))
