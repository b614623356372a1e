"""Shape features (3D ``shape`` and 2D ``shape2D``) of our radiomics engine.

Unit tests check values known in closed form (a box's marching-cubes mesh, a ball); agreement tests
compare every feature with pyradiomics 3.0.1 on random and real masks (skipped without pyradiomics or
the public data).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import data_path
from scipy import ndimage

from ResponsePredictorLib.errors import MaskError, SettingsError
from ResponsePredictorLib.features.names import feature_names
from ResponsePredictorLib.features.shape import shape2d_features, shape_features
from ResponsePredictorLib.features.shape.tables import (
    CUBE_CORNERS,
    CUBE_EDGES,
    CUBE_TRIANGLES,
    SQUARE_EDGES,
    SQUARE_SEGMENTS,
)

SHAPE_FEATURES = tuple(feature_names("shape"))
SHAPE2D_FEATURES = tuple(feature_names("shape2D"))
DEPRECATED = {name for name, deprecated in feature_names("shape").items() if deprecated}
DEPRECATED_2D = {name for name, deprecated in feature_names("shape2D").items() if deprecated}

SPACINGS = [(1.0, 1.0, 1.0), (0.7, 1.3, 2.5)]  # (x, y, z) as SimpleITK gives it


def crop(mask: np.ndarray) -> np.ndarray:
    """The mask cropped to its bounding box, as pyradiomics' computeShape crops it."""
    return mask[ndimage.find_objects(mask.astype(np.uint8))[0]]


def box(nz: int, ny: int, nx: int) -> np.ndarray:
    return np.ones((nz, ny, nx), dtype=bool)


# ---------------------------------------------------------------- closed-form values, no pyradiomics


def box_expectations(n: tuple[int, int, int], s: tuple[float, float, float]) -> dict[str, float]:
    """Marching-cubes mesh of a box of n = (nz, ny, nx) voxels with spacing s = (sz, sy, sx).

    Its surface is the box through the outer voxel faces' centres with chamfered edges and corners: per
    cube of the padded grid, 8 inside corners hold a full cube, 4 a half, 2 (an edge) a prism of 1/8 and
    1 (a corner) a tetrahedron of 1/48 of the cube.
    """
    (a, b, c), (sa, sb, sc) = n, s
    faces = (a - 1) * (b - 1), (a - 1) * (c - 1), (b - 1) * (c - 1)  # cubes per pair of faces (z-y, z-x, y-x)
    volume = (a - 1) * (b - 1) * (c - 1) + sum(faces) + (a + b + c - 3) / 2 + 1 / 6
    area = (2 * (faces[0] * sa * sb + faces[1] * sa * sc + faces[2] * sb * sc)
            + 4 * ((a - 1) * sa * math.hypot(sb, sc) / 2 + (b - 1) * sb * math.hypot(sa, sc) / 2
                   + (c - 1) * sc * math.hypot(sa, sb) / 2)
            + 8 * 0.5 * math.sqrt((sb * sc / 4) ** 2 + (sa * sc / 4) ** 2 + (sa * sb / 4) ** 2))

    def diameter(axes: tuple[int, ...]) -> float:
        # Farthest vertices: centres of opposite outer faces, across one axis, at opposite outer voxels
        # across the others.
        return math.sqrt(max(sum(((n[i] - 1 + (i == k)) * s[i]) ** 2 for i in axes) for k in axes))

    variances = sorted(si * si * (ni * ni - 1) / 12 for ni, si in zip(n, s))
    return {
        "VoxelVolume": a * b * c * sa * sb * sc,
        "MeshVolume": volume * sa * sb * sc,
        "SurfaceArea": area,
        "Maximum3DDiameter": diameter((0, 1, 2)),
        "Maximum2DDiameterSlice": diameter((1, 2)),
        "Maximum2DDiameterColumn": diameter((0, 2)),
        "Maximum2DDiameterRow": diameter((0, 1)),
        "LeastAxisLength": 4 * math.sqrt(variances[0]),
        "MinorAxisLength": 4 * math.sqrt(variances[1]),
        "MajorAxisLength": 4 * math.sqrt(variances[2]),
    }


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("n", [(1, 1, 1), (2, 2, 2), (3, 5, 7), (1, 4, 6), (9, 1, 1)])
def test_box_matches_closed_form(n, spacing):
    expected = box_expectations(n, spacing[::-1])
    got = shape_features(box(*n), spacing, list(expected))
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_ball_approximates_a_sphere():
    r = 15
    grid = np.mgrid[-r:r + 1, -r:r + 1, -r:r + 1]
    f = shape_features((grid ** 2).sum(axis=0) <= r * r, (1.0, 1.0, 1.0), SHAPE_FEATURES)
    assert f["MeshVolume"] == pytest.approx(4 / 3 * math.pi * r ** 3, rel=0.01)
    assert f["VoxelVolume"] == pytest.approx(4 / 3 * math.pi * r ** 3, rel=0.01)
    assert 0.85 < f["Sphericity"] < 1
    assert f["Sphericity"] == pytest.approx(1 / f["SphericalDisproportion"])
    assert f["Compactness2"] == pytest.approx(f["Sphericity"] ** 3)
    assert f["Compactness1"] == pytest.approx(math.sqrt(f["Compactness2"]) / (6 * math.pi))
    for name in ("Maximum3DDiameter", "Maximum2DDiameterSlice", "Maximum2DDiameterColumn", "Maximum2DDiameterRow"):
        assert f[name] == 2 * r + 1  # vertices at the centres of the outermost voxel faces
    for name in ("LeastAxisLength", "MinorAxisLength", "MajorAxisLength"):
        assert f[name] == pytest.approx(4 * r / math.sqrt(5), rel=0.01)  # a solid ball's variance is r^2 / 5
    assert f["Elongation"] == pytest.approx(1) and f["Flatness"] == pytest.approx(1)


def test_transposing_axes_permutes_plane_diameters_only():
    # An ellipsoid: no ambiguous cube faces, whose triangulation (and so area and volume) would depend on
    # the axis order.
    r = 9
    grid = np.mgrid[-r:r + 1, -r:r + 1, -r:r + 1] / np.array([1.0, 0.8, 0.6])[:, None, None, None]
    mask = crop((grid ** 2).sum(axis=0) <= r * r)
    spacing = (0.7, 1.3, 2.5)
    f = shape_features(mask, spacing, SHAPE_FEATURES)
    # Swap the z and x axes: Slice (same z) and Row (same x) diameters trade places.
    g = shape_features(mask.transpose(2, 1, 0), spacing[::-1], SHAPE_FEATURES)
    swapped = {"Maximum2DDiameterSlice": "Maximum2DDiameterRow", "Maximum2DDiameterRow": "Maximum2DDiameterSlice"}
    assert f["Maximum2DDiameterSlice"] != pytest.approx(f["Maximum2DDiameterRow"])
    for name in SHAPE_FEATURES:
        assert g[swapped.get(name, name)] == pytest.approx(f[name], rel=1e-12), name


def test_single_voxel_and_flat_rois_behave_as_pyradiomics():
    single = shape_features(box(1, 1, 1), (1.0, 1.0, 1.0), ["Elongation", "Flatness", "MajorAxisLength"])
    assert math.isnan(single["Elongation"]) and math.isnan(single["Flatness"])  # 0 / 0
    assert single["MajorAxisLength"] == 0
    flat = shape_features(box(1, 4, 6), (0.7, 1.3, 2.5), ["LeastAxisLength", "Flatness", "Elongation"])
    assert flat["LeastAxisLength"] == 0 and flat["Flatness"] == 0 and flat["Elongation"] > 0


def test_names_order_and_errors():
    assert SHAPE_FEATURES == tuple(sorted(SHAPE_FEATURES)) and len(SHAPE_FEATURES) == 17
    assert DEPRECATED == {"Compactness1", "Compactness2", "SphericalDisproportion"} and DEPRECATED < set(SHAPE_FEATURES)
    assert DEPRECATED_2D == {"SphericalDisproportion"} and DEPRECATED_2D < set(SHAPE2D_FEATURES)
    names = ["VoxelVolume", "Maximum3DDiameter", "Compactness1"]
    assert list(shape_features(box(2, 3, 4), (1.0, 1.0, 1.0), names)) == names
    with pytest.raises(MaskError, match="empty"):
        shape_features(np.zeros((2, 2, 2), bool), (1.0, 1.0, 1.0), ["VoxelVolume"])
    with pytest.raises(SettingsError, match="Volume2"):
        shape_features(box(2, 2, 2), (1.0, 1.0, 1.0), ["Volume2"])
    with pytest.raises(MaskError, match="one voxel thick along axis 0"):
        shape2d_features(box(2, 3, 3), (1.0, 1.0, 1.0), 0, ["PixelSurface"])
    with pytest.raises(SettingsError):
        shape2d_features(box(1, 3, 3), (1.0, 1.0, 1.0), 3, ["PixelSurface"])


@pytest.mark.parametrize("dimension", [0, 1, 2])
@pytest.mark.parametrize("spacing", SPACINGS)
def test_rectangle_2d_matches_closed_form(dimension, spacing):
    a, b = 3, 5  # rows, columns of the plane that remains
    shape = [a, b]
    shape.insert(dimension, 1)
    sa, sb = np.delete(np.array(spacing[::-1]), dimension)
    f = shape2d_features(np.ones(shape, bool), spacing, dimension, SHAPE2D_FEATURES)
    # The marching-squares outline is the rectangle through the outer pixel edges' centres, corners cut.
    assert f["PixelSurface"] == pytest.approx(a * b * sa * sb, rel=1e-12)
    assert f["MeshSurface"] == pytest.approx((a * b - 0.5) * sa * sb, rel=1e-12)
    assert f["Perimeter"] == pytest.approx(2 * (a - 1) * sa + 2 * (b - 1) * sb + 2 * math.hypot(sa, sb), rel=1e-12)
    assert f["MaximumDiameter"] == pytest.approx(
        math.sqrt(max((a * sa) ** 2 + ((b - 1) * sb) ** 2, ((a - 1) * sa) ** 2 + (b * sb) ** 2)), rel=1e-12)
    lengths = sorted(4 * math.sqrt(si * si * (ni * ni - 1) / 12) for ni, si in ((a, sa), (b, sb)))
    assert (f["MinorAxisLength"], f["MajorAxisLength"]) == pytest.approx(lengths, rel=1e-12)
    assert f["Sphericity"] == pytest.approx(2 * math.sqrt(math.pi * f["MeshSurface"]) / f["Perimeter"])


# ---------------------------------------------------------------- agreement with pyradiomics 3.0.1


def assert_close(ours: dict[str, float], reference: dict[str, float], where: str) -> None:
    assert set(ours) == set(reference), where
    for name, ref in reference.items():
        if math.isnan(ref):
            assert math.isnan(ours[name]), f"{where}: {name} is {ours[name]}, pyradiomics NaN"
        else:
            assert abs(ours[name] - ref) <= 1e-4 * abs(ref) + 1e-6, f"{where}: {name} {ours[name]!r} vs {ref!r}"


def _sitk_pair(mask: np.ndarray, spacing):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(mask.astype(np.float32))
    label = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.SetSpacing(spacing)
    label.SetSpacing(spacing)
    return image, label


def pyradiomics_shape(mask: np.ndarray, spacing) -> dict[str, float]:
    radiomics = pytest.importorskip("radiomics")
    from radiomics import shape

    radiomics.setVerbosity(40)
    features = shape.RadiomicsShape(*_sitk_pair(mask, spacing))
    assert tuple(features.getFeatureNames()) == SHAPE_FEATURES
    assert {k for k, deprecated in features.getFeatureNames().items() if deprecated} == DEPRECATED
    for name in SHAPE_FEATURES:
        features.enableFeatureByName(name)
    with np.errstate(invalid="ignore"):  # its 0 / 0 for a single voxel's elongation
        return {k: float(v) for k, v in features.execute().items()}


def pyradiomics_shape2d(mask: np.ndarray, spacing, dimension: int) -> dict[str, float]:
    radiomics = pytest.importorskip("radiomics")
    from radiomics import shape2D

    radiomics.setVerbosity(40)
    features = shape2D.RadiomicsShape2D(*_sitk_pair(mask, spacing), force2D=True, force2Ddimension=dimension)
    assert tuple(features.getFeatureNames()) == SHAPE2D_FEATURES
    for name in SHAPE2D_FEATURES:
        features.enableFeatureByName(name)
    with np.errstate(invalid="ignore"):
        return {k: float(v) for k, v in features.execute().items()}


def check_3d_and_slices(mask: np.ndarray, spacing, where: str) -> None:
    """All 3D features, and all 2D features of the middle plane along each axis, against pyradiomics."""
    mask = crop(mask)
    assert_close(shape_features(mask, spacing, SHAPE_FEATURES), pyradiomics_shape(mask, spacing), where)
    for dimension in range(3):
        plane = np.take(mask, [mask.shape[dimension] // 2], axis=dimension)
        if plane.any():
            plane = crop(plane)
            assert_close(shape2d_features(plane, spacing, dimension, SHAPE2D_FEATURES),
                         pyradiomics_shape2d(plane, spacing, dimension), f"{where}, 2D along {dimension}")


def random_mask(rng: np.random.Generator) -> np.ndarray:
    """A blobby (smoothed noise) or ragged (raw noise) mask, sometimes thin along one axis."""
    shape = rng.integers(2, 26, 3)
    if rng.random() < 0.3:
        shape[rng.integers(3)] = rng.integers(1, 3)  # flat: one or two voxels thick
    noise = rng.random(shape)
    if rng.random() < 0.75:
        noise = ndimage.gaussian_filter(noise, rng.uniform(0.7, 3))
        return noise > np.quantile(noise, rng.uniform(0.3, 0.7))
    return noise < 0.5


@pytest.mark.parametrize("seed", range(12))
def test_random_masks_match_pyradiomics(seed):
    rng = np.random.default_rng(seed)
    for case in range(4):
        mask = random_mask(rng)
        if mask.any():
            spacing = tuple(float(s) for s in rng.choice([0.5, 0.78, 1.0, 1.3, 2.5, 5.0], 3))
            check_3d_and_slices(mask, spacing, f"seed {seed} case {case} spacing {spacing}")


@pytest.mark.parametrize("mask", [
    np.ones((1, 1, 7), bool),  # lines and single planes: collinear / coplanar vertex sets
    np.ones((4, 1, 1), bool),
    np.ones((1, 4, 6), bool),
    np.eye(6, dtype=bool)[None],  # a diagonal line of voxels touching at corners
    np.array([[[1, 0], [0, 1]], [[0, 1], [1, 0]]], bool),  # ambiguous marching-cubes faces
], ids=["x-line", "z-line", "plane", "diagonal", "checker"])
@pytest.mark.parametrize("spacing", SPACINGS)
def test_degenerate_masks_match_pyradiomics(mask, spacing):
    check_3d_and_slices(mask, spacing, "degenerate")


# ---------------------------------------------------------------- marching-cubes and -squares tables
#
# ``features/shape/tables.py`` holds Bourke's public-domain marching-cubes table and a marching-squares
# table derived in code. The structural tests below check them without pyradiomics; the agreement tests
# check, on masks where every 2x2x2 (2x2) configuration occurs, that they give pyradiomics' mesh sizes.


def _crossed(case: int, edges) -> set[int]:
    """Edges (indices) whose two corners differ in ``case``."""
    return {k for k, (a, b) in enumerate(edges) if (case >> a & 1) != (case >> b & 1)}


def _shares_a_face(*edges_of_cube: int) -> bool:
    """Whether the given cube edges' midpoints lie on one face of the cube (one coordinate in common)."""
    corners = np.array(CUBE_CORNERS)
    midpoints = np.array([(corners[a] + corners[b]) / 2 for a, b in (CUBE_EDGES[e] for e in edges_of_cube)])
    return bool(np.any(np.all(midpoints == midpoints[0], axis=0) & np.isin(midpoints[0], (0, 1))))


def test_cube_table_is_a_consistent_surface_per_case():
    # Bourke's corner and edge numbering with our (z, y, x) corners: every case's triangles use exactly its
    # crossed edges, their inner edges are shared by two triangles with opposite directions (one
    # orientation), and their outline runs on the cube's faces. A mistyped number breaks one of these.
    assert len(CUBE_TRIANGLES) == 128
    for a, b in CUBE_EDGES:
        assert np.abs(np.subtract(CUBE_CORNERS[a], CUBE_CORNERS[b])).sum() == 1  # edges join neighbours
    for case, triangles in enumerate(CUBE_TRIANGLES):
        assert {e for triangle in triangles for e in triangle} == _crossed(case, CUBE_EDGES), case
        directed: dict[tuple[int, int], int] = {}
        for triangle in triangles:
            assert len(set(triangle)) == 3, case
            for k in range(3):
                side = (triangle[k], triangle[(k + 1) % 3])
                directed[side] = directed.get(side, 0) + 1
        for (a, b), count in directed.items():
            assert count == 1, (case, a, b)  # no side twice in one direction
            if (b, a) not in directed:
                assert _shares_a_face(a, b), (case, a, b)  # outline on the cube's faces


def test_square_table_is_the_marching_squares_outline():
    assert SQUARE_SEGMENTS[0] == SQUARE_SEGMENTS[15] == ()
    for case, segments in enumerate(SQUARE_SEGMENTS):
        assert sorted(e for segment in segments for e in segment) == sorted(_crossed(case, SQUARE_EDGES)), case
        for entry, leave in segments:
            # The entry edge ends at an inside corner, the exit edge starts at one.
            assert case >> SQUARE_EDGES[entry][1] & 1 and case >> SQUARE_EDGES[leave][0] & 1, case
    # The saddles: diagonal corners are cut off one by one.
    assert SQUARE_SEGMENTS[0b0101] == ((1, 2), (3, 0)) and SQUARE_SEGMENTS[0b1010] == ((0, 1), (2, 3))


def configuration(pattern: int, ndim: int) -> np.ndarray:
    """A 2x2x2 (ndim 3) or 2x2 (ndim 2) block whose offset k (in ``np.ndindex`` order) is inside when bit k
    of ``pattern`` is set."""
    return np.array([bool(pattern >> bit & 1) for bit in range(2 ** ndim)]).reshape((2,) * ndim)


def all_configurations(ndim: int, seed: int | None = None) -> np.ndarray:
    """A mask in which every 2x2x2 (ndim 3) or 2x2 (ndim 2) pattern of inside voxels occurs: each pattern
    as a block, the blocks one empty voxel apart on a grid, in pattern order or (with a seed) shuffled.

    In pattern order each pattern and its complement sit at mirrored places, where the volume terms of a
    wrong table row can cancel (a reversed triangle in case 30 did); shuffled, they do not."""
    side = 4 if ndim == 2 else 16  # blocks per row (and column) of the layout
    patterns = np.arange(2 ** 2 ** ndim)
    if seed is not None:
        patterns = np.random.default_rng(seed).permutation(patterns)
    mask = np.zeros((2,) * (ndim - 2) + (3 * (len(patterns) // side) - 1, 3 * side - 1), bool)
    for place, pattern in enumerate(patterns):
        y, x = 3 * (place // side), 3 * (place % side)
        mask[..., y:y + 2, x:x + 2] = configuration(int(pattern), ndim)
    return mask


def configurations(mask: np.ndarray) -> set[int]:
    """The 2x2x2 (2x2) patterns of the mask padded by one empty voxel, as the marching cells see them,
    numbered as in ``all_configurations`` (independently of the tables' corner numbering)."""
    padded = np.pad(mask, 1).astype(np.int64)
    cells = tuple(n - 1 for n in padded.shape)
    codes = np.zeros(cells, np.int64)
    for bit, offset in enumerate(np.ndindex(*(2,) * mask.ndim)):
        codes |= padded[tuple(slice(o, o + n) for o, n in zip(offset, cells))] << bit
    return set(np.unique(codes).tolist())


TABLE_SEEDS = range(6)
MASKS_PER_SEED = 50  # 300 random 3D masks and 300 random planes


def table_masks(seed: int) -> list[tuple[np.ndarray, tuple[float, float, float]]]:
    """Random small 3D masks (2-5 voxels a side, any fill) with random anisotropic spacings."""
    rng = np.random.default_rng(1000 + seed)
    masks = []
    for _ in range(MASKS_PER_SEED):
        mask = rng.random(rng.integers(2, 6, 3)) < rng.uniform(0.15, 0.85)
        mask[tuple(rng.integers(0, n) for n in mask.shape)] = True
        masks.append((mask, tuple(float(s) for s in rng.uniform(0.3, 3.0, 3))))
    return masks


def table_planes(seed: int) -> list[tuple[np.ndarray, tuple[float, float, float], int]]:
    """Random small planes (one voxel thick along a random axis) with random anisotropic spacings."""
    rng = np.random.default_rng(2000 + seed)
    planes = []
    for _ in range(MASKS_PER_SEED):
        dimension = int(rng.integers(3))
        shape = list(rng.integers(2, 8, 2))
        shape.insert(dimension, 1)
        plane = rng.random(shape) < rng.uniform(0.15, 0.85)
        plane[tuple(rng.integers(0, n) for n in plane.shape)] = True
        planes.append((plane, tuple(float(s) for s in rng.uniform(0.3, 3.0, 3)), dimension))
    return planes


def test_table_masks_hold_every_configuration():
    assert configurations(all_configurations(3)) == set(range(256))
    assert configurations(all_configurations(2)) == set(range(16))
    # The random masks alone hold them all too.
    seen = set().union(*(configurations(mask) for seed in TABLE_SEEDS for mask, _ in table_masks(seed)))
    assert seen == set(range(256))
    seen = set().union(*(configurations(np.squeeze(plane, dimension))
                         for seed in TABLE_SEEDS for plane, _, dimension in table_planes(seed)))
    assert seen == set(range(16))


MESH_3D = ("MeshVolume", "SurfaceArea")
MESH_2D = ("MeshSurface", "Perimeter")


def pyradiomics_mesh(mask: np.ndarray, spacing, names, dimension: int | None = None) -> dict[str, float]:
    """pyradiomics' shape (dimension None) or shape2D features ``names`` of the mask."""
    radiomics = pytest.importorskip("radiomics")
    from radiomics import shape, shape2D

    radiomics.setVerbosity(40)
    if dimension is None:
        features = shape.RadiomicsShape(*_sitk_pair(mask, spacing))
    else:
        features = shape2D.RadiomicsShape2D(*_sitk_pair(mask, spacing), force2D=True, force2Ddimension=dimension)
    for name in names:
        features.enableFeatureByName(name)
    return {k: float(v) for k, v in features.execute().items()}


def assert_mesh_equal(ours: dict[str, float], reference: dict[str, float], where: str) -> None:
    assert set(ours) == set(reference), where
    for name, ref in reference.items():
        assert ours[name] == pytest.approx(ref, rel=1e-12, abs=1e-12), f"{where}: {name} {ours[name]!r} vs {ref!r}"


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("seed", [None, 0, 1])
def test_every_configuration_matches_pyradiomics(seed, spacing):
    mask = crop(all_configurations(3, seed))
    assert_mesh_equal(shape_features(mask, spacing, MESH_3D), pyradiomics_mesh(mask, spacing, MESH_3D),
                      "all 2x2x2 configurations")
    inverse = crop(~mask)  # every configuration also beside full cubes
    assert_mesh_equal(shape_features(inverse, spacing, MESH_3D), pyradiomics_mesh(inverse, spacing, MESH_3D),
                      "all 2x2x2 configurations, inverted")
    plane = all_configurations(2, seed)
    for dimension in range(3):
        oriented = crop(np.expand_dims(plane, dimension))
        assert_mesh_equal(shape2d_features(oriented, spacing, dimension, MESH_2D),
                          pyradiomics_mesh(oriented, spacing, MESH_2D, dimension),
                          f"all 2x2 configurations along {dimension}")


def test_each_configuration_alone_matches_pyradiomics():
    # One block per mask: a table row that differs from pyradiomics' in area or volume shows up by itself.
    spacing = (0.7, 1.3, 2.5)
    for pattern in range(1, 256):
        block = crop(configuration(pattern, 3))
        assert_mesh_equal(shape_features(block, spacing, MESH_3D), pyradiomics_mesh(block, spacing, MESH_3D),
                          f"2x2x2 pattern {pattern}")
    for pattern in range(1, 16):
        for dimension in range(3):
            block = crop(np.expand_dims(configuration(pattern, 2), dimension))
            assert_mesh_equal(shape2d_features(block, spacing, dimension, MESH_2D),
                              pyradiomics_mesh(block, spacing, MESH_2D, dimension),
                              f"2x2 pattern {pattern} along {dimension}")


@pytest.mark.parametrize("seed", TABLE_SEEDS)
def test_random_small_masks_match_pyradiomics_meshes(seed):
    for k, (mask, spacing) in enumerate(table_masks(seed)):
        mask = crop(mask)
        assert_mesh_equal(shape_features(mask, spacing, MESH_3D), pyradiomics_mesh(mask, spacing, MESH_3D),
                          f"seed {seed} mask {k} spacing {spacing}")
    for k, (plane, spacing, dimension) in enumerate(table_planes(seed)):
        plane = crop(plane)
        assert_mesh_equal(shape2d_features(plane, spacing, dimension, MESH_2D),
                          pyradiomics_mesh(plane, spacing, MESH_2D, dimension),
                          f"seed {seed} plane {k} along {dimension} spacing {spacing}")


# ---------------------------------------------------------------- real data


def _label_mask(path) -> tuple[np.ndarray, tuple[float, float, float]]:
    import SimpleITK as sitk

    label = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(label) > 0, label.GetSpacing()


@pytest.mark.realdata
@pytest.mark.parametrize("case", ["lung2", "brain1"])
def test_pyradiomics_cases_match(case):
    mask, spacing = _label_mask(data_path("pyradiomics", f"{case}_label.nrrd"))
    mask = crop(mask)
    assert_close(shape_features(mask, spacing, SHAPE_FEATURES), pyradiomics_shape(mask, spacing), case)
    # The largest axial slice as a 2D ROI.
    slice_ = crop(mask[[int(np.argmax(mask.sum(axis=(1, 2))))]])
    assert_close(shape2d_features(slice_, spacing, 0, SHAPE2D_FEATURES),
                 pyradiomics_shape2d(slice_, spacing, 0), f"{case} slice")


@pytest.mark.realdata
@pytest.mark.parametrize("patient", ["002", "003", "005", "011"])
def test_nsclc_crops_match(patient):
    mask = np.load(data_path("nsclc_crops", "images", f"patient_{patient}.npz"))["mask"] > 0
    if not mask.any():
        pytest.skip(f"patient_{patient} has an empty mask")
    mask = crop(mask)
    assert_close(shape_features(mask, (1.0, 1.0, 1.0), SHAPE_FEATURES),
                 pyradiomics_shape(mask, (1.0, 1.0, 1.0)), f"patient_{patient}")


@pytest.mark.realdata
def test_sts_ct_matches():
    mask, spacing = _label_mask(data_path("sts_dev", "nifti", "STS_001", "CT_mask.nii.gz"))
    mask = crop(mask)
    assert_close(shape_features(mask, spacing, SHAPE_FEATURES), pyradiomics_shape(mask, spacing), "STS_001 CT")
