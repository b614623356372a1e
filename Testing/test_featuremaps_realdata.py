"""Feature maps on real tumors (pyradiomics' cases, NSCLC crops) against pyradiomics' voxel mode.

pyradiomics' voxel mode takes minutes on a whole tumor, so each case is cut down to a cube of about
10 mm around a point on the tumor's surface (the mask inside the cube, so kernels meet the real
tumor border); benchmarks/bench_featuremaps.py compares whole tumors.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import REPO_ROOT, data_path

from ResponsePredictorLib.features import compute_feature_maps
from ResponsePredictorLib.features.agreement import agreements
from ResponsePredictorLib.features import load_settings
from ResponsePredictorLib.volume import Volume, read_mask, read_volume

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from map_sets import CT_MODEL_MAPS  # noqa: E402

pytestmark = pytest.mark.realdata
pytest.importorskip("radiomics")  # every test here compares with pyradiomics' voxel mode

TOLERANCE = 1e-4
CROP_GEOMETRY = dict(spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))


def surface_cube(image: Volume, mask: Volume, half_mm: float = 5.0) -> Volume:
    """The mask restricted to a cube centred on a tumor voxel that has background beside it."""
    tumor = mask.array > 0
    inner = tumor.copy()
    for axis in range(3):
        inner &= np.roll(tumor, 1, axis) & np.roll(tumor, -1, axis)
    surface = np.argwhere(tumor & ~inner)
    centre = surface[len(surface) // 2]
    half = np.ceil(half_mm / np.asarray(image.spacing)[::-1]).astype(int)
    box = tuple(slice(max(c - h, 0), c + h + 1) for c, h in zip(centre, half))
    cut = np.zeros_like(mask.array, dtype=np.uint8)
    cut[box] = tumor[box]
    return mask.with_array(cut)


def pyradiomics_case(name: str) -> tuple[Volume, Volume]:
    image = read_volume(data_path("pyradiomics", f"{name}_image.nrrd"))
    return image, read_mask(data_path("pyradiomics", f"{name}_label.nrrd"), image)


def nsclc_case(name: str) -> tuple[Volume, Volume]:
    crop = np.load(data_path("nsclc_crops", "images", f"{name}.npz"), allow_pickle=False)
    return Volume(crop["scan"], **CROP_GEOMETRY), Volume((crop["mask"] > 0).astype(np.uint8), **CROP_GEOMETRY)


CASES = {
    "brain1": lambda: pyradiomics_case("brain1"),
    "lung2": lambda: pyradiomics_case("lung2"),
    "nsclc_002": lambda: nsclc_case("patient_002"),
    "nsclc_005": lambda: nsclc_case("patient_005"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_radiomics_models_maps_match_pyradiomics_with_the_ct_preset(case: str) -> None:
    image, mask = CASES[case]()
    mask = surface_cube(image, mask)
    names = CT_MODEL_MAPS  # the maps bench_featuremaps.py times
    settings = load_settings(preset="ct")
    mcc = [name for name in names if name.endswith("_MCC")]
    reference = compute_feature_maps(image, mask, [n for n in names if n not in mcc], settings, backend="pyradiomics")
    # MCC: one kernel per pyradiomics batch, else it has no map (see test_featuremaps.py).
    one_kernel = {**settings, "voxelSetting": {"voxelBatch": 1}}
    reference.update(compute_feature_maps(image, mask, mcc, one_kernel, backend="pyradiomics"))
    fast = compute_feature_maps(image, mask, names, settings, device="cpu")
    results = agreements(fast, reference)
    failed = {name: result for name, result in results.items() if not result.within(TOLERANCE)}
    assert not failed, failed
    assert all(result.voxels > 50 for result in results.values())


def test_issue_benchmark_features_on_lung2_without_resampling() -> None:
    image, mask = pyradiomics_case("lung2")
    mask = surface_cube(image, mask, half_mm=10.0)
    names = ["original_firstorder_Mean", "original_firstorder_Entropy", "original_glcm_Contrast", "original_glcm_JointEntropy"]
    settings = {"setting": {"binWidth": 25}}
    reference = compute_feature_maps(image, mask, names, settings, backend="pyradiomics")
    fast = compute_feature_maps(image, mask, names, settings, device="cpu")
    failed = {name: result for name, result in agreements(fast, reference).items() if not result.within(TOLERANCE)}
    assert not failed, failed
