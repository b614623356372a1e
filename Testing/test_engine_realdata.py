"""Our radiomics engine against pyradiomics 3.0.1 on real data: every class, image type and setting.

Whole-tumor features: each case in ``CASES`` runs ``FeatureExtractor(settings, backend="fast")``
and pyradiomics' own ``RadiomicsFeatureExtractor(settings).execute`` on the same image and mask
(with ``correctMask`` the mask on its own grid, as a user hands it over), with every feature of
every class enabled, and asks for the same names in the same order and, for every value,
``|ours - pyradiomics| <= 1e-4 * |pyradiomics| + 1e-6``. The cases are chosen so that every feature
class, image type, setting and preset appears at least once on real data;
``test_the_cases_cover_the_matrix`` checks that against ``REQUIRED``. Voxel maps: a few small real
crops against ``compute_feature_maps(..., backend="pyradiomics")``.

The data are the public cases in ``$RP_DATA_DIR``: pyradiomics' test cases, the IBSI CT and digital
phantoms, the NSCLC crops and a soft-tissue sarcoma's CT, PET and MR. Each test skips when its data
or pyradiomics is absent. Scans are cropped around the tumor (the same crop for both engines) where
pyradiomics' filters would be slow on the whole scan, and pyradiomics' results are computed once per
module, so that the module stays under 90 s on two cores.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from conftest import DATA_DIR, REPO_ROOT, data_path, script_module

from ResponsePredictorLib.errors import MaskError
from ResponsePredictorLib.features import FeatureExtractor, compute_feature_maps, load_settings
from ResponsePredictorLib.features.agreement import agreements
from ResponsePredictorLib.features.names import mappable_features
from ResponsePredictorLib.volume import Volume, read_mask, read_volume

pytestmark = pytest.mark.realdata
radiomics = pytest.importorskip("radiomics")
from radiomics.featureextractor import RadiomicsFeatureExtractor  # noqa: E402  (after the skip)
from radiomics.glcm import RadiomicsGLCM  # noqa: E402

RTOL, ATOL = 1e-4, 1e-6
MAP_TOLERANCE = 1e-4  # largest relative difference per map (ResponsePredictorLib.features.agreement)
CLASSES = ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
ALL_CLASSES: dict[str, Any] = dict.fromkeys(CLASSES)  # null: every (non-deprecated) feature of the class
WITH_SHAPE2D: dict[str, Any] = {**ALL_CLASSES, "shape2D": None}
IBSI_CONFIGS = REPO_ROOT / "Testing" / "Data" / "ibsi"

# What the cases must cover between them (test_the_cases_cover_the_matrix).
REQUIRED = {
    "class": {*CLASSES, "shape2D"},
    "imageType": {"Original", "LoG", "Wavelet", "Square", "SquareRoot", "Logarithm", "Exponential", "Gradient"},
    "setting": {
        "binWidth", "binCount", "resampledPixelSpacing", "interpolator", "padDistance", "preCrop", "normalize",
        "normalizeScale", "removeOutliers", "voxelArrayShift", "resegmentRange", "resegmentMode", "resegmentShape",
        "minimumROIDimensions", "minimumROISize", "correctMask", "label", "distances", "force2D",
        "force2Ddimension", "symmetricalGLCM", "gldm_a", "weightingNorm",
    },
    "interpolator": {"sitkBSpline", "sitkLinear", "sitkNearestNeighbor"},
    "resegmentMode": {"absolute", "relative", "sigma"},
    "weightingNorm": {"manhattan", "euclidean", "infinity", "no_weighting"},
    "force2Ddimension": {0, 1, 2},
    "preset": {"ct", "mr", "pet", "ibsi"},
    "data": {"pyradiomics/lung2", "pyradiomics/brain1", "pyradiomics/breast1", "ibsi/ct_phantom",
             "nsclc_crops", "sts_dev/CT", "sts_dev/PET", "sts_dev/MR_T1"},
}


# --------------------------------------------------------------------------------------------
# Real data, read the way users read it, once per module


@functools.cache
def pyradiomics_case(name: str) -> tuple[Volume, Volume]:
    image = read_volume(data_path("pyradiomics", f"{name}_image.nrrd"))
    return image, read_mask(data_path("pyradiomics", f"{name}_label.nrrd"), image)


@functools.cache
def ibsi_phantom(dataset: str) -> tuple[Volume, Volume]:
    """An IBSI phantom as scripts/ibsi_compliance.py reads it ("A": the CT phantom, "phantom": the digital one)."""
    found = script_module("ibsi_compliance").DATASETS[dataset]
    data_path("ibsi", found.phantom)
    image_path, mask_path = found.image_paths(DATA_DIR)
    image = read_volume(image_path)
    return image, read_mask(mask_path, image)


@functools.cache
def nsclc_case(patient: str) -> tuple[Volume, Volume]:
    """An NSCLC crop read by scripts/nsclc_crops.py (1 mm voxels); crops with an empty mask skip."""
    image, mask = script_module("nsclc_crops").read_crop(data_path("nsclc_crops", "images", f"patient_{patient}.npz"))
    if not mask.array.any():
        pytest.skip(f"patient_{patient}'s crop has an empty mask")
    return image, mask


@functools.cache
def sts_scan(modality: str) -> tuple[Volume, Volume]:
    """STS_001's scan of one modality (CT, PET, MR_T1) with the tumor mask drawn on it."""
    folder = data_path("sts_dev", "nifti", "STS_001")
    image = read_volume(folder / f"{modality}_image.nii.gz")
    return image, read_mask(folder / f"{modality}_mask.nii.gz", image)


@functools.cache
def sts_mask_on_its_own_grid(modality: str) -> Volume:
    """STS_001's tumor mask on its own scan's grid, to be used with another scan (correctMask)."""
    return read_volume(data_path("sts_dev", "nifti", "STS_001", f"{modality}_mask.nii.gz"))


# --------------------------------------------------------------------------------------------
# Cutting real data down (the same input for both engines)


def crop(image: Volume, mask: Volume, margin_mm: float) -> tuple[Volume, Volume]:
    """Image and mask cut to the mask's bounding box plus ``margin_mm`` on each side (within the image)."""
    where = np.argwhere(mask.array > 0)
    margin = np.ceil(margin_mm / np.asarray(image.spacing)[::-1]).astype(int)
    low = np.maximum(where.min(axis=0) - margin, 0)
    high = np.minimum(where.max(axis=0) + margin + 1, image.array.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(low[::-1], high[::-1]))  # SimpleITK's x, y, z order
    return Volume.from_sitk(image.to_sitk()[box]), Volume.from_sitk(mask.to_sitk()[box])


def single_slice(mask: Volume, axis: int) -> Volume:
    """The mask's largest slice across numpy ``axis`` (0: axial, 2: sagittal), every other slice emptied."""
    tumor = mask.array > 0
    index = int(np.argmax(tumor.sum(axis=tuple(a for a in range(3) if a != axis))))
    kept = np.zeros_like(tumor, dtype=np.uint8)
    where = tuple(index if a == axis else slice(None) for a in range(3))
    kept[where] = tumor[where]
    return mask.with_array(kept)


def two_labels(mask: Volume) -> Volume:
    """The tumor split at its middle axial slice: label 1 below, label 2 from there up."""
    array = (mask.array > 0).astype(np.uint8)
    middle = int(np.median(np.flatnonzero(array.any(axis=(1, 2)))))
    array[middle:] *= 2
    return mask.with_array(array)


def surface_cube(image: Volume, mask: Volume, half_mm: float) -> tuple[Volume, Volume]:
    """Image and mask cut to a cube around a tumor voxel beside background: a few hundred voxels of
    real tumor and its border, small enough for pyradiomics' voxel mode; the image keeps a margin."""
    tumor = mask.array > 0
    inner = tumor.copy()
    for axis in range(3):
        inner &= np.roll(tumor, 1, axis) & np.roll(tumor, -1, axis)
    surface = np.argwhere(tumor & ~inner)
    centre = surface[len(surface) // 2]
    half = np.ceil(half_mm / np.asarray(image.spacing)[::-1]).astype(int)
    cut = np.zeros_like(tumor, dtype=np.uint8)
    box = tuple(slice(max(int(c - h), 0), int(c + h + 1)) for c, h in zip(centre, half))
    cut[box] = tumor[box]
    return crop(image, mask.with_array(cut), 2 * half_mm)


# --------------------------------------------------------------------------------------------
# The whole-tumor cases


@dataclass(frozen=True)
class Case:
    """One extraction: real data (image, mask), pyradiomics parameters and the label to extract."""

    data: str  # which data set (REQUIRED["data"])
    inputs: Callable[[], tuple[Volume, Volume]]
    settings: dict[str, Any]
    label: int = 1
    preset: str | None = None
    # Name prefixes pyradiomics must output, so the case covers what it claims (it skips a shape2D
    # class or a LoG sigma it cannot compute, with a warning only).
    expect: tuple[str, ...] = ()


def params(image_types: dict[str, Any] | None = None, features: dict[str, Any] | None = None, **setting: Any) -> dict:
    return {"imageType": image_types or {"Original": {}}, "featureClass": features or ALL_CLASSES, "setting": setting}


def preset(name: str, **setting: Any) -> dict[str, Any]:
    settings = load_settings(preset=name)
    settings["setting"] = {**(settings.get("setting") or {}), **setting}
    return settings


def every_feature() -> dict[str, list[str]]:
    """Every feature of every class named one by one, the deprecated ones included (pyradiomics' list):
    named, pyradiomics computes those it still can (Compactness1, StandardDeviation, ...)."""
    classes = radiomics.getFeatureClasses()
    return {name: list(classes[name].getFeatureNames()) for name in CLASSES}


INTENSITY_FILTERS = {"Square": {}, "SquareRoot": {}, "Logarithm": {}, "Exponential": {}}


def _lung2_axial_slice() -> tuple[Volume, Volume]:
    image, mask = pyradiomics_case("lung2")
    return crop(image, single_slice(mask, 0), 10)


CASES: dict[str, Case] = {
    # The presets. ct: BSpline resampling to 1 mm, padDistance 10, LoG 1-3 mm, shift 1000, binWidth 25.
    "lung2-ct-preset": Case(
        "pyradiomics/lung2", lambda: crop(*pyradiomics_case("lung2"), 15), preset("ct"), preset="ct",
        expect=("log-sigma-3-0-mm-3D_glszm",),
    ),
    "nsclc_005-ct-preset-label-2": Case(
        "nsclc_crops", lambda: (nsclc_case("005")[0], two_labels(nsclc_case("005")[1])), preset("ct"),
        label=2, preset="ct",
    ),
    # mr: normalize (scale 100), binWidth 5, shift 300, LoG 2-4 mm, no resampling.
    "sts_mr-mr-preset": Case(
        "sts_dev/MR_T1", lambda: crop(*sts_scan("MR_T1"), 10), preset("mr"), preset="mr",
        expect=("log-sigma-4-0-mm-3D_ngtdm",),
    ),
    # pet: linear resampling to 4 mm, binWidth 0.25 SUV, LoG 4 and 6 mm.
    "sts_pet-pet-preset": Case(
        "sts_dev/PET", lambda: sts_scan("PET"), preset("pet"), preset="pet", expect=("log-sigma-6-0-mm-3D_gldm",),
    ),
    "ibsi_digital-ibsi-preset": Case("ibsi/digital_phantom", lambda: ibsi_phantom("phantom"), preset("ibsi"),
                                     preset="ibsi"),
    "ibsi_digital-ibsi-preset-force2D": Case(
        "ibsi/digital_phantom", lambda: ibsi_phantom("phantom"), preset("ibsi", force2D=True), preset="ibsi",
    ),
    # The IBSI CT phantom with configurations A-E: A force2D, absolute re-segmentation, binWidth;
    # B in-plane linear resampling (spacing 0), force2D, binCount; C linear 2 mm, absolute range;
    # D linear 2 mm, sigma re-segmentation; E BSpline 2 mm, sigma re-segmentation.
    **{
        f"ibsi_ct-config_{key}": Case(
            "ibsi/ct_phantom", lambda: ibsi_phantom("A"), load_settings(params=IBSI_CONFIGS / f"config_{key}.yaml"),
        )
        for key in "ABCDE"
    },
    # Image types and settings.
    "brain1-wavelet-preCrop-binCount": Case(
        "pyradiomics/brain1", lambda: pyradiomics_case("brain1"),
        params({"Original": {}, "Wavelet": {}}, binCount=32, preCrop=True, padDistance=3),
        expect=("wavelet-HHH_glcm", "wavelet-LLL_ngtdm"),
    ),
    "breast1-intensity-filters-every-feature": Case(
        "pyradiomics/breast1", lambda: pyradiomics_case("breast1"),
        params({"Original": {}, **INTENSITY_FILTERS, "Gradient": {}}, every_feature(),
               binCount=16, minimumROIDimensions=3, minimumROISize=100),
        expect=("original_shape_Compactness1", "original_firstorder_StandardDeviation", "gradient_glrlm",
                "exponential_glszm"),
    ),
    "nsclc_018-normalize-removeOutliers-filters": Case(
        "nsclc_crops", lambda: nsclc_case("018"),
        params({"Original": {}, **INTENSITY_FILTERS, "Gradient": {"gradientUseSpacing": False}},
               normalize=True, normalizeScale=50, removeOutliers=2.5, binWidth=5),
        expect=("squareroot_glcm", "logarithm_gldm"),
    ),
    "sts_ct-nearest-padDistance-distances-asymmetric-gldm_a": Case(
        "sts_dev/CT", lambda: crop(*sts_scan("CT"), 10),
        params({"Original": {}, "LoG": {"sigma": [3.0]}}, resampledPixelSpacing=[3, 3, 3],
               interpolator="sitkNearestNeighbor", padDistance=2, binWidth=25, voxelArrayShift=1000,
               distances=[1, 2, 3], symmetricalGLCM=False, gldm_a=2),
        expect=("log-sigma-3-0-mm-3D_glcm",),
    ),
    # 40 % of SUVmax (a single threshold), the re-segmented mask used for shape too.
    "sts_pet-relative-resegment-shape": Case(
        "sts_dev/PET", lambda: sts_scan("PET"),
        params(resegmentRange=[0.4], resegmentMode="relative", resegmentShape=True, binWidth=0.25),
    ),
    # The CT mask (0.98 x 0.98 x 3.27 mm) put on the PET grid (4.69 mm), and the PET mask on the CT grid.
    "sts_pet-image-ct-mask-correctMask": Case(
        "sts_dev/PET", lambda: (sts_scan("PET")[0], sts_mask_on_its_own_grid("CT")),
        params(correctMask=True, binWidth=0.25),
    ),
    "sts_ct-image-pet-mask-correctMask": Case(
        "sts_dev/CT", lambda: (crop(*sts_scan("CT"), 30)[0], sts_mask_on_its_own_grid("PET")),
        params(correctMask=True, binWidth=25),
    ),
    "sts_pet-image-ct-mask-correctMask-resampled": Case(
        "sts_dev/PET", lambda: (sts_scan("PET")[0], sts_mask_on_its_own_grid("CT")),
        params(correctMask=True, binWidth=0.25, resampledPixelSpacing=[4, 4, 4], interpolator="sitkLinear"),
    ),
    **{
        f"breast1-weightingNorm-{norm}": Case(
            "pyradiomics/breast1", lambda: pyradiomics_case("breast1"),
            params(weightingNorm=norm, distances=[1, 2], binWidth=25),
        )
        for norm in ("manhattan", "euclidean", "infinity", "no_weighting")
    },
    "nsclc_024-force2D-dimension-1": Case(
        "nsclc_crops", lambda: nsclc_case("024"), params(force2D=True, force2Ddimension=1, binWidth=25),
    ),
    # shape2D needs a region one voxel thick along force2Ddimension: the largest axial slice
    # (numpy axis 0) and the largest sagittal slice (numpy axis 2).
    "lung2-axial-slice-shape2D": Case(
        "pyradiomics/lung2", _lung2_axial_slice,
        params(features=WITH_SHAPE2D, force2D=True, force2Ddimension=0, binWidth=25),
        expect=("original_shape2D",),
    ),
    "nsclc_005-sagittal-slice-shape2D": Case(
        "nsclc_crops", lambda: (nsclc_case("005")[0], single_slice(nsclc_case("005")[1], 2)),
        params(features=WITH_SHAPE2D, force2D=True, force2Ddimension=2, binWidth=25),
        expect=("original_shape2D",),
    ),
}

@pytest.fixture(scope="module", autouse=True)
def _release_cached_data():
    """The scans and pyradiomics' results are kept for the module's tests only."""
    yield
    for cached in (pyradiomics_case, ibsi_phantom, nsclc_case, sts_scan, sts_mask_on_its_own_grid, case_inputs,
                   pyradiomics_features):
        cached.cache_clear()


@functools.cache
def case_inputs(case_id: str) -> tuple[Volume, Volume]:
    return CASES[case_id].inputs()


@functools.cache
def pyradiomics_features(case_id: str) -> dict[str, float]:
    """pyradiomics' features of the case (diagnostics left out), in its order; once per module."""
    case = CASES[case_id]
    image, mask = case_inputs(case_id)
    extractor = RadiomicsFeatureExtractor(copy.deepcopy(case.settings))
    result = extractor.execute(image.to_sitk(), mask.to_sitk(), label=case.label)
    return {name: float(value) for name, value in result.items() if not name.startswith("diagnostics_")}


def close(ours: float, reference: float) -> bool:
    if math.isnan(reference) or math.isnan(ours):
        return math.isnan(reference) and math.isnan(ours)
    return abs(ours - reference) <= RTOL * abs(reference) + ATOL


@pytest.mark.parametrize("case_id", list(CASES))
def test_features_match_pyradiomics(case_id: str) -> None:
    case = CASES[case_id]
    reference = pyradiomics_features(case_id)
    image, mask = case_inputs(case_id)
    ours = FeatureExtractor(case.settings, backend="fast", device="cpu").extract(image, mask, case.label).features

    assert list(ours) == list(reference), (
        f"names or order differ: only ours {sorted(set(ours) - set(reference))}, "
        f"only pyradiomics {sorted(set(reference) - set(ours))}"
    )
    off = {name: (ours[name], value) for name, value in reference.items() if not close(ours[name], value)}
    report = "\n".join(f"  {name}: ours {a!r}, pyradiomics {b!r}" for name, (a, b) in off.items())
    assert not off, f"{case_id}: {len(off)} of {len(reference)} values differ:\n{report}"
    missing = [prefix for prefix in case.expect if not any(name.startswith(prefix) for name in reference)]
    assert not missing, f"pyradiomics computed nothing for {missing}: the case does not cover what it claims"


def test_the_cases_cover_the_matrix() -> None:
    """Every class, image type, setting (and its modes), preset and data set is in some case."""
    found: dict[str, set[Any]] = {key: set() for key in REQUIRED}
    for case in CASES.values():
        found["class"] |= set(case.settings.get("featureClass") or ())
        found["imageType"] |= set(case.settings.get("imageType") or ())
        setting = case.settings.get("setting") or {}
        found["setting"] |= set(setting) | ({"label"} if case.label != 1 else set())
        for key in ("interpolator", "resegmentMode", "weightingNorm", "force2Ddimension"):
            if key in setting:
                found[key].add(setting[key])
        found["preset"] |= {case.preset} - {None}
        found["data"].add(case.data)
    missing = {key: REQUIRED[key] - found[key] for key in REQUIRED if REQUIRED[key] - found[key]}
    assert not missing, missing


# --------------------------------------------------------------------------------------------
# Regions that both engines refuse


def _breast1() -> tuple[Volume, Volume]:
    return pyradiomics_case("breast1")  # 143 voxels


REFUSED = {
    # pyradiomics refuses a region of exactly minimumROISize voxels.
    "breast1-minimumROISize": (_breast1, params(minimumROISize=143, binWidth=25)),
    "lung2-slice-minimumROIDimensions-3": (_lung2_axial_slice, params(minimumROIDimensions=3, binWidth=25)),
}


@pytest.mark.parametrize("case_id", REFUSED)
def test_both_refuse_a_region_below_the_minimum(case_id: str) -> None:
    inputs, settings = REFUSED[case_id]
    image, mask = inputs()
    with pytest.raises(ValueError):
        RadiomicsFeatureExtractor(copy.deepcopy(settings)).execute(image.to_sitk(), mask.to_sitk())
    with pytest.raises(MaskError, match="minimumROI"):
        FeatureExtractor(settings, device="cpu").extract(image, mask)


# --------------------------------------------------------------------------------------------
# Voxel maps on small real crops


def all_maps(*image_names: str) -> list[str]:
    """Every mappable feature of every class for each image name; MCC aside (see MAP_CASES)."""
    return [f"{image}_{cls}_{feature}" for image in image_names
            for cls in ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
            for feature in mappable_features(cls) if feature != "MCC"]


# pyradiomics' voxel mode computes all kernels in one batch; where one kernel has no pair along an
# angle its GLCM is NaN and numpy's eigvals refuses the batch, so it gives no MCC map at all (see
# test_featuremaps.py, which compares MCC with one kernel per batch). MCC is left out here.
MAP_CASES: dict[str, tuple[Callable[[], tuple[Volume, Volume]], dict[str, Any], list[str]]] = {
    "nsclc_005-original-log": (
        lambda: surface_cube(*nsclc_case("005"), 4.0),
        {"imageType": {"Original": {}, "LoG": {"sigma": [1.0]}}, "setting": {"binWidth": 25}},
        all_maps("original", "log-sigma-1-0-mm-3D"),
    ),
    "sts_pet-wavelet-resampled-binCount": (
        lambda: surface_cube(*sts_scan("PET"), 10.0),
        {"imageType": {"Wavelet": {}}, "setting": {"binCount": 16, "resampledPixelSpacing": [4, 4, 4],
                                                   "interpolator": "sitkLinear"}},
        all_maps("wavelet-LLH", "wavelet-HLL"),
    ),
    "lung2-gradient-square-force2D-asymmetric": (
        lambda: surface_cube(*pyradiomics_case("lung2"), 5.0),
        {"imageType": {"Gradient": {}, "Square": {}},
         "setting": {"binWidth": 25, "force2D": True, "symmetricalGLCM": False, "distances": [1, 2]}},
        all_maps("gradient", "square"),
    ),
}


# pyradiomics' GLCM Correlation is 1 for an angle whose marginal is a single gray level (sigma_x or
# sigma_y zero: 0/0), but it tests sigma_x * sigma_y == 0 exactly. With an asymmetrical GLCM of a
# small kernel, a marginal of one gray level can get sigma 1e-16 instead of 0, because its
# probabilities (1/2 + 1/3 + 1/6) sum to 0.9999999999999999: the angle then counts as 1e-31 / 1e-16
# = 0 instead of 1 and the voxel's Correlation drops by 1 / (number of angles), e.g. 0.9072 against
# 0.9906 (lung2, gradient image, one of 12 angles). Round-off decides it, so those voxels of the
# Correlation maps are left out: exactly the kernels where pyradiomics itself computed a sigma product
# above 0 but below ROUND_OFF (a real one is at least 1 / pairs in the kernel, far above).
ROUND_OFF = 1e-10


def recording_round_off_kernels(monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray]:
    """Patch pyradiomics to record, per image (e.g. "gradient"), the kernels (as array indices of its
    output maps) where its GLCM Correlation divided by a round-off sigma product; values are unchanged."""
    extractor, glcm = RadiomicsFeatureExtractor, RadiomicsGLCM
    compute_features, correlation = extractor.computeFeatures, glcm.getCorrelationFeatureValue
    recorded: dict[str, np.ndarray] = {}
    current: list[str] = []

    def computing(self, image, mask, imageTypeName, **kwargs):
        current[:] = [imageTypeName]
        return compute_features(self, image, mask, imageTypeName, **kwargs)

    def recording(self):
        i, j = self.coefficients["i"], self.coefficients["j"]
        ux, uy = self.coefficients["ux"], self.coefficients["uy"]
        # pyradiomics' own sigma_x and sigma_y (kernels x 1 x 1 x angles)
        sigx = np.sum(self.P_glcm * ((i[None, :, :, None] - ux) ** 2), (1, 2), keepdims=True) ** 0.5
        sigy = np.sum(self.P_glcm * ((j[None, :, :, None] - uy) ** 2), (1, 2), keepdims=True) ** 0.5
        product = (sigx * sigy).reshape(len(self.P_glcm), -1)
        flagged = np.any((product > 0) & (product < ROUND_OFF), axis=1)
        assert self.voxelBased and self.labelledVoxelCoordinates.shape[1] == len(flagged), "one batch expected"
        recorded[current[0]] = self.labelledVoxelCoordinates[:, flagged]
        return correlation(self)

    monkeypatch.setattr(extractor, "computeFeatures", computing)
    monkeypatch.setattr(glcm, "getCorrelationFeatureValue", recording)
    return recorded


@pytest.mark.parametrize("case_id", MAP_CASES)
def test_feature_maps_match_pyradiomics_voxel_mode(case_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs, settings, names = MAP_CASES[case_id]
    image, mask = inputs()
    round_off = recording_round_off_kernels(monkeypatch)
    reference = compute_feature_maps(image, mask, names, settings, backend="pyradiomics")
    fast = compute_feature_maps(image, mask, names, settings, backend="fast", device="cpu")
    left_out = {}
    for image_type, kernels in round_off.items():
        name = f"{image_type}_glcm_Correlation"
        if name in reference and kernels.size:
            left_out[name] = kernels.shape[1]
            for maps in (reference, fast):  # NaN in both: agreement() compares neither
                array = maps[name].array.copy()
                array[tuple(kernels)] = np.nan
                maps[name] = maps[name].with_array(array)
    results = agreements(fast, reference)
    failed = {name: result for name, result in results.items() if not result.within(MAP_TOLERANCE)}
    assert not failed, failed
    assert all(result.voxels > 50 for result in results.values()), "too few voxels compared"
    many = {name: count for name, count in left_out.items() if count > 0.05 * results[name].voxels}
    assert not many, f"more than a few round-off kernels left out: {many}"
