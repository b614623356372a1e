"""Feature extraction on small synthetic volumes: settings handling, labels and bad input.

Values are checked against numbers computed here from the arrays themselves, never pasted in.
"""

from __future__ import annotations

import numpy as np
import pytest

from ResponsePredictorLib.errors import (
    GeometryMismatchError,
    ImageContentError,
    MaskError,
    SettingsError,
)
from ResponsePredictorLib.features import (
    FeatureExtractor,
    available_presets,
    extract_features,
    load_settings,
    mask_labels,
)
from ResponsePredictorLib.volume import Volume

IDENTITY = (1, 0, 0, 0, 1, 0, 0, 0, 1)
FIRST_ORDER = {"imageType": {"Original": {}}, "featureClass": {"firstorder": [], "shape": []}, "setting": {"binWidth": 25}}


def make_case(shape=(20, 24, 28), spacing=(0.8, 0.9, 2.0), seed=0):
    rng = np.random.default_rng(seed)
    image = Volume(rng.normal(40, 30, shape).astype(np.int16), spacing, (-10.0, 5.0, 3.0), IDENTITY)
    mask = np.zeros(shape, np.uint8)
    mask[4:12, 6:14, 8:16] = 1
    mask[14:18, 16:22, 18:26] = 2
    return image, image.with_array(mask)


def test_presets_are_pyradiomics_parameter_files():
    assert {"ct", "mr", "pet", "ibsi"} <= set(available_presets())
    for name in available_presets():
        FeatureExtractor.from_preset(name)  # pyradiomics validates each against its schema


def test_first_order_mean_and_volume_match_the_array():
    image, mask = make_case()
    result = FeatureExtractor(FIRST_ORDER).extract(image, mask, label=2)
    region = image.array[mask.array == 2].astype(float)
    assert result.label == 2
    assert result.features["original_firstorder_Mean"] == pytest.approx(region.mean(), rel=1e-12)
    voxel_volume = np.prod(image.spacing)
    assert result.features["original_shape_VoxelVolume"] == pytest.approx(region.size * voxel_volume, rel=1e-12)


def test_diagnostics_are_kept_apart_from_features():
    image, mask = make_case()
    result = FeatureExtractor(FIRST_ORDER).extract(image, mask, label=1)
    assert result.diagnostics and all(name.startswith("diagnostics_") for name in result.diagnostics)
    assert result.features and not any(name.startswith("diagnostics_") for name in result.features)
    assert all(isinstance(value, float) for value in result.features.values())


def test_every_label_of_a_mask():
    image, mask = make_case()
    assert mask_labels(mask) == [1, 2]
    results = FeatureExtractor(FIRST_ORDER).extract_labels(image, mask)
    assert [r.label for r in results] == [1, 2]
    assert results[0].features["original_shape_VoxelVolume"] != results[1].features["original_shape_VoxelVolume"]
    assert [r.label for r in FeatureExtractor(FIRST_ORDER).extract_labels(image, mask, [2])] == [2]
    assert FeatureExtractor(FIRST_ORDER).extract_labels(image, mask, []) == []  # none asked: none, not all


def test_several_labels_need_a_choice():
    image, mask = make_case()
    with pytest.raises(MaskError, match="several labels \\(1, 2\\)"):
        FeatureExtractor(FIRST_ORDER).extract(image, mask)


def test_absent_label():
    image, mask = make_case()
    with pytest.raises(MaskError, match="Label 3 is not in the mask; labels present: 1, 2"):
        FeatureExtractor(FIRST_ORDER).extract(image, mask, label=3)


def test_empty_mask():
    image, mask = make_case()
    with pytest.raises(MaskError, match="empty"):
        FeatureExtractor(FIRST_ORDER).extract(image, mask.with_array(np.zeros_like(mask.array)))


def test_one_voxel_mask():
    image, mask = make_case()
    one = np.zeros_like(mask.array)
    one[5, 5, 5] = 1
    with pytest.raises(MaskError, match="single voxel"):
        FeatureExtractor(FIRST_ORDER).extract(image, mask.with_array(one))


def test_line_mask_is_too_thin_for_the_settings():
    image, mask = make_case()
    line = np.zeros_like(mask.array)
    line[5, 5, 3:9] = 1
    with pytest.raises(MaskError, match="extends along 1 axis"):
        FeatureExtractor(FIRST_ORDER).extract(image, mask.with_array(line))


def test_nan_voxels():
    image, mask = make_case()
    values = image.array.astype(np.float32)
    values[0, 0, :3] = np.nan
    with pytest.raises(ImageContentError, match="3 voxels that are NaN or infinite"):
        FeatureExtractor(FIRST_ORDER).extract(image.with_array(values), mask, label=1)


def test_mask_on_another_grid():
    image, mask = make_case()
    shifted = Volume(mask.array, mask.spacing, (0.0, 0.0, 0.0), mask.direction)
    with pytest.raises(GeometryMismatchError, match="origin"):
        FeatureExtractor(FIRST_ORDER).extract(image, shifted, label=1)


def test_non_integer_mask():
    image, mask = make_case()
    with pytest.raises(MaskError, match="non-integer"):
        FeatureExtractor(FIRST_ORDER).extract(image, mask.with_array(mask.array * 0.5), label=1)


def test_settings_errors(tmp_path):
    with pytest.raises(SettingsError, match="Unknown preset 'nope'; available: ct"):
        load_settings(preset="nope")
    with pytest.raises(SettingsError, match="not found"):
        load_settings(params=tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("setting: [unclosed")
    with pytest.raises(SettingsError, match="not a valid YAML"):
        load_settings(params=broken)
    with pytest.raises(SettingsError, match="unknown key 'binWidht' \\(did you mean 'binWidth'"):
        FeatureExtractor({"setting": {"binWidht": 25}})
    with pytest.raises(SettingsError, match="either a preset name or a parameter file"):
        load_settings(preset="ct", params=broken)


def test_parameter_file_gives_the_same_result_as_the_same_settings(tmp_path):
    image, mask = make_case()
    params = tmp_path / "params.yaml"
    params.write_text("imageType: {Original: {}}\nfeatureClass: {firstorder: [], shape: []}\nsetting: {binWidth: 25}\n")
    from_file = extract_features(image, mask, params=params, label=1)
    from_dict = FeatureExtractor(FIRST_ORDER).extract(image, mask, label=1)
    assert from_file.features == from_dict.features


def test_mask_within_grid_tolerance_is_put_on_the_image_grid():
    # pyradiomics compares grids more tightly than we do; a mask that we accept must reach it on
    # the image's exact grid.
    image, mask = make_case()
    nudged = Volume(mask.array, mask.spacing, tuple(o + 5e-5 for o in mask.origin), mask.direction)
    result = FeatureExtractor(FIRST_ORDER).extract(image, nudged, label=1)
    assert result.features == FeatureExtractor(FIRST_ORDER).extract(image, mask, label=1).features


def test_correct_mask_setting_resamples_a_mask_on_another_grid():
    image, mask = make_case()
    # The same labels on a grid twice as fine in-plane: nearest neighbour gives back the original.
    fine = np.repeat(np.repeat(mask.array, 2, axis=1), 2, axis=2)
    spacing = (image.spacing[0] / 2, image.spacing[1] / 2, image.spacing[2])
    origin = (image.origin[0] - spacing[0] / 2, image.origin[1] - spacing[1] / 2, image.origin[2])
    fine_mask = Volume(fine, spacing, origin, IDENTITY)
    with pytest.raises(GeometryMismatchError):
        FeatureExtractor(FIRST_ORDER).extract(image, fine_mask, label=1)
    settings = {**FIRST_ORDER, "setting": {**FIRST_ORDER["setting"], "correctMask": True}}
    resampled = FeatureExtractor(settings).extract(image, fine_mask, label=1)
    assert resampled.features == FeatureExtractor(FIRST_ORDER).extract(image, mask, label=1).features


NO_PYRADIOMICS = """
import sys
from importlib.abc import MetaPathFinder


class Refuse(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "radiomics" or name.startswith("radiomics."):
            raise AssertionError(f"the engine imported {name}")


sys.meta_path.insert(0, Refuse())
import numpy as np
from ResponsePredictorLib.features import FeatureExtractor, compute_feature_maps, load_settings
from ResponsePredictorLib.volume import Volume

rng = np.random.default_rng(0)
image = Volume(rng.normal(0, 100, (12, 14, 16)), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
mask = image.with_array((rng.random((12, 14, 16)) < 0.5).astype("uint8"))
for preset in ("ct", "mr", "pet", "ibsi"):
    FeatureExtractor(load_settings(preset=preset), device="cpu").extract(image, mask)
compute_feature_maps(image, mask, ["wavelet-LLH_glcm_Contrast", "original_ngtdm_Busyness"],
                     {"imageType": {"Wavelet": {}, "Original": {}}}, device="cpu")
print("ok")
"""


def test_the_engine_never_imports_pyradiomics():
    """Every preset's whole-tumor features and a map, in a Python where importing pyradiomics fails the run."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", NO_PYRADIOMICS], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
