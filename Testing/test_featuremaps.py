"""Voxel-wise feature maps on tiny synthetic volumes: the fast backend against pyradiomics' voxel mode.

No shared data: each test builds its own small image and irregular mask, so pyradiomics' (slow)
voxel mode stays fast enough to be the reference for every feature of every class.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ResponsePredictorLib.errors import InputError, MaskError, SettingsError
from ResponsePredictorLib.features import MAPPABLE_CLASSES, UnmappableFeatureError, compute_feature_maps, mappable
from ResponsePredictorLib.features.agreement import agreements
from ResponsePredictorLib.features.names import mappable_features
from ResponsePredictorLib.volume import Volume

TOLERANCE = 1e-4
SETTINGS = {"setting": {"binWidth": 25}}
# pyradiomics' default voxel mode computes all kernels in one batch; a kernel without pairs along an
# angle then puts NaN into its GLCM and numpy.linalg.eigvals refuses the whole batch, so MCC has no
# map at all. With one kernel per batch that angle is dropped instead, which is what the fast backend does.
ONE_KERNEL_PER_BATCH = {"setting": {"binWidth": 25}, "voxelSetting": {"voxelBatch": 1}}


def synthetic_case(seed: int = 0, shape: tuple[int, int, int] = (8, 9, 10), fill: float = 0.6) -> tuple[Volume, Volume]:
    """A noisy image and a ragged mask (holes, thin parts, a border-touching face) on an anisotropic grid."""
    rng = np.random.default_rng(seed)
    image = rng.normal(0, 60, shape).round()
    mask = (rng.random(shape) < fill).astype(np.uint8)
    mask[:, 0] = 0  # a face without region: kernels there are clipped by the region, not by the image
    geometry = dict(spacing=(0.8, 1.1, 2.0), origin=(-3.0, 4.0, 10.0), direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    return Volume(image, **geometry), Volume(mask, **geometry)


def assert_agree(fast: dict[str, Volume], reference: dict[str, Volume]) -> None:
    failed = {name: result for name, result in agreements(fast, reference).items() if not result.within(TOLERANCE)}
    assert not failed, failed


@pytest.mark.parametrize("feature_class", MAPPABLE_CLASSES)
def test_every_feature_of_each_class_matches_pyradiomics(feature_class: str, pyradiomics) -> None:
    image, mask = synthetic_case()
    names = [f"original_{feature_class}_{feature}" for feature in mappable_features(feature_class) if feature != "MCC"]
    reference = compute_feature_maps(image, mask, names, SETTINGS, backend="pyradiomics")
    fast = compute_feature_maps(image, mask, names, SETTINGS, backend="fast", device="cpu")
    assert_agree(fast, reference)
    assert all(volume.array.dtype == np.float32 for volume in fast.values())


def test_mcc_matches_pyradiomics_one_kernel_per_batch(pyradiomics) -> None:
    image, mask = synthetic_case(seed=3)
    reference = compute_feature_maps(image, mask, ["original_glcm_MCC"], ONE_KERNEL_PER_BATCH, backend="pyradiomics")
    fast = compute_feature_maps(image, mask, ["original_glcm_MCC"], SETTINGS, device="cpu")
    assert_agree(fast, reference)


def test_larger_radius_and_region_touching_the_image_border(pyradiomics) -> None:
    image, mask = synthetic_case(seed=1, shape=(7, 8, 9), fill=0.75)
    names = [
        "original_firstorder_Median",
        "original_glcm_Imc1",
        "original_glcm_JointAverage",
        "original_glrlm_RunEntropy",
        "original_glszm_ZoneEntropy",
        "original_gldm_DependenceVariance",
        "original_ngtdm_Busyness",
    ]
    reference = compute_feature_maps(image, mask, names, SETTINGS, radius=2, backend="pyradiomics")
    fast = compute_feature_maps(image, mask, names, SETTINGS, radius=2, device="cpu")
    assert_agree(fast, reference)


def test_resampling_log_filter_and_shift_are_pyradiomics_own(pyradiomics) -> None:
    """The ct-like preprocessing (BSpline resampling, LoG images, padDistance, voxelArrayShift, a bin width)."""
    image, mask = synthetic_case(seed=2, shape=(10, 12, 12), fill=0.8)
    settings = {
        "imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.0]}},
        "setting": {
            "binWidth": 10,
            "resampledPixelSpacing": [1, 1, 1],
            "interpolator": "sitkBSpline",
            "padDistance": 10,
            "voxelArrayShift": 1000,
        },
    }
    names = [
        "original_firstorder_Energy",
        "original_glcm_Correlation",
        "log-sigma-1-0-mm-3D_glcm_Imc1",
        "log-sigma-1-0-mm-3D_gldm_DependenceVariance",
        "log-sigma-2-0-mm-3D_glrlm_RunEntropy",
        "log-sigma-2-0-mm-3D_glszm_GrayLevelNonUniformity",
        "log-sigma-2-0-mm-3D_firstorder_Kurtosis",
    ]
    reference = compute_feature_maps(image, mask, names, settings, backend="pyradiomics")
    fast = compute_feature_maps(image, mask, names, settings, device="cpu")
    assert_agree(fast, reference)
    grid = fast["original_firstorder_Energy"]
    assert grid.spacing == pytest.approx((1.0, 1.0, 1.0))


# Each pyradiomics setting and image type the maps honour, against pyradiomics' voxel mode.
SETTING_VARIANTS = {
    "force2D": ({"binWidth": 25, "force2D": True, "force2Ddimension": 0}, {}),
    "force2D along another axis": ({"binWidth": 25, "force2D": True, "force2Ddimension": 2}, {}),
    "weightingNorm": ({"binWidth": 25, "weightingNorm": "euclidean"}, {}),
    "asymmetrical GLCM": ({"binWidth": 25, "symmetricalGLCM": False}, {}),
    "distances and gldm_a": ({"binWidth": 25, "distances": [1, 2], "gldm_a": 1}, {}),
    "binCount": ({"binCount": 8}, {}),
    "unmasked kernels": ({"binWidth": 25}, {"maskedKernel": False}),
    "a distance longer than the kernel": ({"binWidth": 25, "distances": [1, 3]}, {}),
}
VARIANT_NAMES = [
    "original_firstorder_Entropy",
    "original_glcm_JointAverage",
    "original_glcm_Correlation",
    "original_glcm_Imc2",
    "original_glrlm_RunPercentage",
    "original_glszm_ZoneVariance",
    "original_gldm_DependenceEntropy",
    "original_ngtdm_Complexity",
]


# With an asymmetrical GLCM a kernel's angle can have pairs whose first voxels all share one level:
# sigma_x is then 0 and pyradiomics' rule gives Correlation 1, but its dense sums leave sigma_x at
# ~1e-15 instead, so its value for that angle is round-off (0/0). Ours keeps the rule; see below.
ROUND_OFF_IN_PYRADIOMICS = {"asymmetrical GLCM": {"original_glcm_Correlation"}}


@pytest.mark.parametrize("variant", SETTING_VARIANTS)
def test_settings_match_pyradiomics(variant: str, pyradiomics) -> None:
    setting, voxel = SETTING_VARIANTS[variant]
    image, mask = synthetic_case(seed=5)
    settings = {"setting": setting, "voxelSetting": voxel}
    names = [name for name in VARIANT_NAMES if name not in ROUND_OFF_IN_PYRADIOMICS.get(variant, ())]
    reference = compute_feature_maps(image, mask, names, settings, backend="pyradiomics")
    fast = compute_feature_maps(image, mask, names, settings, device="cpu")
    assert_agree(fast, reference)


def test_a_distance_longer_than_the_kernel_adds_no_pairs() -> None:
    """Angles at distance 3 exist in the image but not in a 3x3x3 kernel: the kernels' GLCMs along them are
    empty, left out of the mean over angles, so the maps are those of distance 1 alone."""
    image, mask = synthetic_case(seed=2)
    names = [f"original_glcm_{feature}" for feature in ("Contrast", "JointEntropy", "Imc1", "SumEntropy", "Idm")]
    longer = compute_feature_maps(image, mask, names, {"setting": {"binWidth": 25, "distances": [1, 3]}}, device="cpu")
    nearest = compute_feature_maps(image, mask, names, {"setting": {"binWidth": 25, "distances": [1]}}, device="cpu")
    for name in names:
        np.testing.assert_allclose(longer[name].array, nearest[name].array, rtol=1e-6, equal_nan=True)


def test_a_flat_marginal_correlates_perfectly() -> None:
    """Two rows of voxels, the first of one level: along the row-to-row angles every pair starts at that level."""
    image = np.zeros((1, 4, 5))
    image[0, 1:3, 1:4] = [[10.0, 10.0, 10.0], [20.0, 40.0, 60.0]]  # gray levels 1 1 1 / 2 4 6 (bin width 10)
    mask = (image > 0).astype(np.uint8)
    geometry = dict(spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    settings = {"setting": {"binWidth": 10, "symmetricalGLCM": False, "force2D": True}}
    maps = compute_feature_maps(Volume(image, **geometry), Volume(mask, **geometry), ["original_glcm_Correlation"],
                                settings, radius=2, device="cpu")
    # Every kernel (radius 2) holds the whole region. Angles (0, 1, 0) and (0, 1, +-1): every pair starts at
    # level 1, so each correlates perfectly (1). Along (0, 0, 1) the pairs are 1-1, 1-1, 2-4, 4-6: covariance
    # 2.5, variances 1.5 and 4.5. The mean over the four angles is the same at every voxel.
    expected = (3 + 2.5 / np.sqrt(1.5 * 4.5)) / 4
    values = maps["original_glcm_Correlation"].array
    assert values[mask > 0] == pytest.approx(expected, rel=1e-6)  # maps are float32


IMAGE_TYPE_NAMES = [
    "wavelet-LHL_glcm_Contrast",
    "wavelet-HHH_firstorder_Mean",
    "square_glrlm_RunEntropy",
    "squareroot_gldm_DependenceVariance",
    "logarithm_glszm_ZoneEntropy",
    "exponential_firstorder_Kurtosis",
    "gradient_ngtdm_Busyness",
]


def test_every_image_type_matches_pyradiomics(pyradiomics) -> None:
    image, mask = synthetic_case(seed=6, shape=(9, 10, 11), fill=0.7)
    settings = {
        "imageType": {"Wavelet": {}, "Square": {}, "SquareRoot": {}, "Logarithm": {}, "Exponential": {}, "Gradient": {}},
        "setting": {"binWidth": 10},
    }
    reference = compute_feature_maps(image, mask, IMAGE_TYPE_NAMES, settings, backend="pyradiomics")
    fast = compute_feature_maps(image, mask, IMAGE_TYPE_NAMES, settings, device="cpu")
    assert_agree(fast, reference)


def test_maps_are_nan_outside_the_mask_and_on_the_cropped_grid() -> None:
    image, mask = synthetic_case(seed=4)
    volume = compute_feature_maps(image, mask, ["original_firstorder_Mean"], SETTINGS, device="cpu")["original_firstorder_Mean"]
    box = np.argwhere(mask.array)
    low, high = np.maximum(box.min(0) - 1, 0), np.minimum(box.max(0) + 1, np.array(mask.shape) - 1)
    region = mask.array[tuple(slice(a, b + 1) for a, b in zip(low, high))].astype(bool)
    assert volume.shape == region.shape
    assert np.isnan(volume.array[~region]).all() and not np.isnan(volume.array[region]).any()
    assert np.allclose(volume.origin, image.index_to_physical(low[::-1]))


def test_mappable_names() -> None:
    assert mappable("original_glcm_Contrast")
    assert mappable("log-sigma-3-0-mm-3D_firstorder_Kurtosis")
    assert mappable("log-sigma-1-mm-3D_gldm_DependenceVariance")
    assert not mappable("original_shape_LeastAxisLength")
    assert mappable("wavelet-LLH_glcm_Contrast")
    assert mappable("gradient_ngtdm_Busyness")
    assert not mappable("lbp-2D_glcm_Contrast")
    assert not mappable("original_glcm_SumVariance")  # deprecated in pyradiomics: never computed
    assert not mappable("original_glcm_NoSuchFeature")
    assert not mappable("Histology=adenocarcinoma")


def test_unmappable_names_are_refused_with_the_mappable_list() -> None:
    image, mask = synthetic_case()
    with pytest.raises(UnmappableFeatureError, match="original_shape_LeastAxisLength.*Mappable names.*glcm: .*Contrast"):
        compute_feature_maps(image, mask, ["original_glcm_Contrast", "original_shape_LeastAxisLength"], SETTINGS)
    with pytest.raises(UnmappableFeatureError):
        compute_feature_maps(image, mask, [], SETTINGS)


def test_bad_input_is_an_input_error() -> None:
    image, mask = synthetic_case()
    empty = mask.with_array(np.zeros_like(mask.array))
    with pytest.raises(MaskError, match="empty"):
        compute_feature_maps(image, empty, ["original_firstorder_Mean"], SETTINGS)
    with pytest.raises(SettingsError, match="backend"):
        compute_feature_maps(image, mask, ["original_firstorder_Mean"], SETTINGS, backend="slow")
    with pytest.raises(SettingsError, match="radius"):
        compute_feature_maps(image, mask, ["original_firstorder_Mean"], SETTINGS, radius=0)
    with pytest.raises(InputError, match="device"):
        compute_feature_maps(image, mask, ["original_firstorder_Mean"], SETTINGS, device="tpu")
    # Bad settings are named before the mask is looked at (here an empty one).
    with pytest.raises(SettingsError, match="setting.binWidth = 0"):
        compute_feature_maps(image, empty, ["original_firstorder_Mean"], {"setting": {"binWidth": 0}})
    assert issubclass(UnmappableFeatureError, InputError)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given when no GPU is present")
def test_asking_for_cuda_without_a_gpu_says_so() -> None:
    image, mask = synthetic_case()
    with pytest.raises(InputError, match="sees no GPU"):
        compute_feature_maps(image, mask, ["original_firstorder_Mean"], SETTINGS, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_gives_the_cpu_values() -> None:
    image, mask = synthetic_case()
    names = ["original_glcm_Imc1", "original_glszm_ZoneEntropy", "original_firstorder_Median"]
    on_cpu = compute_feature_maps(image, mask, names, SETTINGS, device="cpu")
    on_gpu = compute_feature_maps(image, mask, names, SETTINGS, device="cuda")
    assert_agree(on_gpu, on_cpu)


def test_command_writes_one_nrrd_per_feature(tmp_path) -> None:
    from ResponsePredictorLib.cli import main
    from ResponsePredictorLib.volume import read_volume, write_volume

    image, mask = synthetic_case()
    write_volume(image, tmp_path / "image.nrrd")
    write_volume(mask, tmp_path / "mask.nrrd")
    params = tmp_path / "params.yaml"
    params.write_text("setting:\n  binWidth: 25\n")
    out = tmp_path / "maps"
    names = ["original_glcm_Contrast", "original_firstorder_Mean"]
    code = main([
        "featuremap", str(tmp_path / "image.nrrd"), str(tmp_path / "mask.nrrd"), "--features", ",".join(names),
        "--params", str(params), "--device", "cpu", "-o", str(out),
    ])
    assert code == 0
    assert sorted(path.name for path in out.iterdir()) == sorted(f"{name}.nrrd" for name in names)
    expected = compute_feature_maps(image, mask, names, SETTINGS, device="cpu")
    for name in names:
        written = read_volume(out / f"{name}.nrrd")
        assert written.same_grid(expected[name])
        np.testing.assert_array_equal(written.array, expected[name].array)


@pytest.mark.parametrize(
    "change", [["--features", "original_shape_Volume"], ["--features", "original_glcm_Contrast", "--label", "7"]]
)
def test_command_refuses_bad_input_with_exit_code_3(tmp_path, change, capsys) -> None:
    from ResponsePredictorLib.cli import main
    from ResponsePredictorLib.volume import write_volume

    image, mask = synthetic_case()
    write_volume(image, tmp_path / "image.nrrd")
    write_volume(mask, tmp_path / "mask.nrrd")
    out = tmp_path / "maps"
    code = main(["featuremap", str(tmp_path / "image.nrrd"), str(tmp_path / "mask.nrrd"), *change, "-o", str(out)])
    assert code == 3
    assert "error:" in capsys.readouterr().err
    assert not out.exists()
