"""Regions besides the tumor on its own scan: a mask carried onto other grids, peritumoral shells, the body."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ResponsePredictorLib.errors import MaskError
from ResponsePredictorLib.regions import body_mask, carry_mask, peritumoral_shell, shell_reaches_outside
from ResponsePredictorLib.volume import Volume

RADIUS_MM = 12.0


def sphere(spacing: tuple[float, float, float], size: int, centre_mm: tuple[float, float, float],
           origin: tuple[float, float, float] = (0.0, 0.0, 0.0), radius: float = RADIUS_MM) -> Volume:
    """A ball of voxel centres within ``radius`` of ``centre_mm`` on an axis-aligned grid."""
    k, j, i = np.indices((size, size, size))
    x, y, z = (origin[a] + spacing[a] * index for a, index in enumerate((i, j, k)))
    inside = (x - centre_mm[0]) ** 2 + (y - centre_mm[1]) ** 2 + (z - centre_mm[2]) ** 2 <= radius**2
    return Volume(inside.astype(np.uint8), spacing, origin, (1, 0, 0, 0, 1, 0, 0, 0, 1))


def volume_ml(mask: Volume) -> float:
    return float(np.count_nonzero(mask.array)) * float(np.prod(mask.spacing)) / 1000


def centroid_mm(mask: Volume) -> np.ndarray:
    k, j, i = np.nonzero(mask.array)
    return mask.index_to_physical(np.array([i.mean(), j.mean(), k.mean()]))


def grid(spacing: tuple[float, float, float], extent_mm: float, origin: tuple[float, float, float]) -> Volume:
    size = [int(math.ceil(extent_mm / s)) for s in spacing]
    return Volume(np.zeros(size[::-1], np.float32), spacing, origin, (1, 0, 0, 0, 1, 0, 0, 0, 1))


@pytest.mark.parametrize("spacing", [(0.5, 0.5, 0.5), (4.69, 4.69, 3.27), (2.0, 3.0, 5.0)])
def test_carried_mask_keeps_volume_and_centroid(spacing):
    source = sphere((0.98, 0.98, 3.27), 40, (20.0, 19.0, 60.0))
    target = grid(spacing, 80.0, (-7.3, -5.1, 20.2))  # another origin: the grids' voxels do not line up
    carried = carry_mask(source, target)
    assert carried.same_grid(target)
    assert volume_ml(carried) == pytest.approx(volume_ml(source), rel=0.08)
    # Within a voxel of the target's grid, along every axis.
    assert np.all(np.abs(centroid_mm(carried) - centroid_mm(source)) <= np.asarray(spacing))


def test_carried_mask_on_a_coarse_grid_is_closer_than_nearest_neighbour():
    from ResponsePredictorLib.volume import resample_to_grid

    source = sphere((0.98, 0.98, 3.27), 40, (20.0, 19.0, 60.0), radius=7.0)
    target = grid((4.69, 4.69, 3.27), 80.0, (-7.3, -5.1, 20.2))
    coverage_error = abs(volume_ml(carry_mask(source, target)) - volume_ml(source))
    nearest_error = abs(volume_ml(resample_to_grid(source, target)) - volume_ml(source))
    assert coverage_error <= nearest_error


def test_a_tumor_outside_the_other_scan_is_refused():
    source = sphere((1.0, 1.0, 1.0), 40, (20.0, 20.0, 20.0))
    target = grid((1.0, 1.0, 1.0), 25.0, (0.0, 0.0, 0.0))  # ends at 25 mm, the tumor at 32 mm
    with pytest.raises(MaskError, match="reaches outside"):
        carry_mask(source, target, what="the MR")


def test_an_empty_mask_is_not_carried():
    empty = Volume(np.zeros((5, 5, 5), np.uint8), (1, 1, 1), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    with pytest.raises(MaskError, match="empty"):
        carry_mask(empty, empty)


@pytest.mark.parametrize("distance", [3.0, 5.0, 10.0])
def test_shell_surrounds_the_tumor_with_the_expected_volume(distance):
    tumor = sphere((1.0, 1.0, 1.0), 64, (32.0, 32.0, 32.0))
    shell = peritumoral_shell(tumor, distance)
    assert not np.any(shell.array & tumor.array)
    # The shell's thickness, from its volume around a ball of the tumor's volume, is the distance within a
    # quarter voxel: a digital shell is a little thinner where the voxel lattice runs diagonally.
    tumor_radius = (3 * volume_ml(tumor) * 1000 / (4 * math.pi)) ** (1 / 3)
    outer_radius = (3 * volume_ml(shell) * 1000 / (4 * math.pi) + tumor_radius**3) ** (1 / 3)
    assert outer_radius - tumor_radius == pytest.approx(distance, abs=0.25)
    assert not shell_reaches_outside(tumor, distance)


def test_shell_on_anisotropic_voxels_measures_millimetres():
    tumor = sphere((1.0, 1.0, 3.0), 64, (32.0, 32.0, 96.0))
    shell = peritumoral_shell(tumor, 6.0)
    k = np.flatnonzero(shell.array.any(axis=(1, 2)))
    tumor_k = np.flatnonzero(tumor.array.any(axis=(1, 2)))
    assert tumor_k[0] - k[0] == 2  # 6 mm is two 3 mm slices
    assert not np.any(shell.array & tumor.array)


def test_shell_cut_by_the_scan_edge_and_limited_within():
    tumor = sphere((1.0, 1.0, 1.0), 30, (15.0, 15.0, 15.0))
    assert shell_reaches_outside(tumor, 5.0)
    within = np.zeros(tumor.shape, bool)
    within[:, :, :15] = True
    shell = peritumoral_shell(tumor, 2.0, within=within)
    assert not shell.array[:, :, 15:].any() and shell.array.any()


@pytest.mark.parametrize("distance", [0, -1.0, float("nan")])
def test_bad_shell_distances_are_refused(distance):
    tumor = sphere((1.0, 1.0, 1.0), 30, (15.0, 15.0, 15.0), radius=5.0)
    with pytest.raises(MaskError, match="positive number"):
        peritumoral_shell(tumor, distance)


def test_body_keeps_enclosed_air_and_leaves_out_the_outside():
    ct = np.full((10, 60, 60), -1000.0, np.float32)
    k, j, i = np.indices(ct.shape)
    ct[(j - 30) ** 2 + (i - 30) ** 2 <= 25**2] = 40.0  # the body
    ct[(j - 30) ** 2 + (i - 22) ** 2 <= 6**2] = -850.0  # a lung inside it
    ct[:, 58:, :] = 200.0  # the table, apart from the body
    body = body_mask(Volume(ct, (1, 1, 3), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1)))
    assert body[5, 30, 22] and body[5, 30, 30]
    assert not body[5, 2, 2] and not body[5, 59, 30]
