"""Explanation heatmaps on synthetic cases: files, geometry, direction, and bad input.

The models here are fitted in the test (seconds): logistic models whose learnt weights are checked
before the maps are, so that a map is compared with a model whose direction is known.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ResponsePredictorLib.cli import main
from ResponsePredictorLib.errors import GeometryMismatchError, ImageReadError, InputError, MaskError
from ResponsePredictorLib.explain import (
    Heatmap, NotExplainableError, contribution_map, occlusion_map, read_heatmap, write_heatmap,
)
from ResponsePredictorLib.explain.model_inputs import restricted_settings
from ResponsePredictorLib.features import FeatureExtractor, load_settings
from ResponsePredictorLib.predict import BinaryModel, BinaryOutcome, SavedModel, save_model
from ResponsePredictorLib.prediction_text import BASELINE
from ResponsePredictorLib.volume import Volume, write_volume

MEAN = "original_firstorder_Mean"


def oblique_direction() -> tuple[float, ...]:
    a, b = 0.35, -0.25
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    rz = np.array([[math.cos(b), -math.sin(b), 0], [math.sin(b), math.cos(b), 0], [0, 0, 1]])
    return tuple((rz @ rx).ravel())


def two_halves_case(seed: int = 0, oblique: bool = True) -> tuple[Volume, Volume, np.ndarray]:
    """A CT-like image on an anisotropic (and oblique) grid with an ellipsoid tumor whose i >= centre
    half is 200 HU brighter; returns image, mask and the bright half as a boolean array."""
    rng = np.random.default_rng(seed)
    shape = (14, 30, 34)  # k, j, i
    spacing = (0.8, 0.9, 2.0)
    k, j, i = np.indices(shape)
    tumor = ((i - 17) / 9.5) ** 2 + ((j - 15) / 8.5) ** 2 + ((k - 7) / 3.8) ** 2 <= 1
    bright = tumor & (i >= 17)
    array = rng.normal(-800, 30, shape) + tumor * 800 + bright * 200 + rng.normal(0, 25, shape) * tumor
    direction = oblique_direction() if oblique else (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0)
    image = Volume(array.astype(np.int16), spacing, (-40.0, 12.5, 101.0), direction)
    return image, image.with_array(tumor.astype(np.uint8)), bright


def saved_linear_model(table: pd.DataFrame, y: np.ndarray, settings: dict | None) -> SavedModel:
    """A logistic model fitted on ``table`` as training fits it (tuned by inner CV), no bootstrap refits."""
    model = BinaryModel(learner="logistic", n_bootstrap=0, inner_folds=3).fit(table, y)
    return SavedModel(model, BinaryOutcome("responder"), {}, "test", Path("test-model"), settings)


def ranking(values: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> float:
    """AUC: the probability that a voxel of ``positive`` has a higher value than one of ``negative``."""
    a, b = values[positive], values[negative]
    ranks = pd.Series(np.concatenate([a, b])).rank().to_numpy()
    return float((ranks[: len(a)].sum() - len(a) * (len(a) + 1) / 2) / (len(a) * len(b)))


def settings_1mm() -> dict:
    settings = load_settings(preset="ct")
    settings["setting"] = {**settings["setting"], "voxelArrayShift": 0}
    return settings


@pytest.fixture(scope="module")
def mean_model() -> SavedModel:
    """Probability of response rises with the tumor's mean HU; age also matters; a shape feature does too."""
    rng = np.random.default_rng(3)
    n = 60
    table = pd.DataFrame({MEAN: rng.normal(50, 60, n), "original_shape_VoxelVolume": rng.normal(3000, 500, n),
                          "age": rng.normal(65, 8, n)})
    logit = (table[MEAN] - 50) / 20 + (table["age"] - 65) / 10
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    saved = saved_linear_model(table, y, settings_1mm())
    coef = dict(zip(saved.model.pipeline_.encoder.columns_, saved.model.pipeline_.head.learner.coef_))
    assert coef[MEAN] > 0.5  # the direction the maps below must show
    return saved


def test_contribution_map_is_on_the_input_grid_and_higher_where_the_tumor_is_brighter(mean_model: SavedModel) -> None:
    image, mask, bright = two_halves_case()
    timings: dict[str, float] = {}
    heatmap = contribution_map(mean_model, image, mask, {"age": 70}, timings=timings)
    volume = heatmap.volume
    assert volume.same_grid(image) and volume.shape == image.shape and volume.array.dtype == np.float32
    assert np.all(volume.array[mask.array == 0] == 0)
    inside = volume.array[mask.array > 0]
    assert np.count_nonzero(inside) > 0.9 * inside.size
    assert np.median(volume.array[bright]) > np.median(volume.array[(mask.array > 0) & ~bright]) + 0.5
    assert heatmap.colormap == "signed" and heatmap.method == "contribution"
    assert heatmap.value_range[0] == -heatmap.value_range[1] and heatmap.value_range[1] >= np.abs(inside).max() - 1e-6
    assert "probability of responder = 1" in heatmap.description
    assert any("original_shape_VoxelVolume" in note and "age" in note for note in heatmap.notes)
    assert set(timings) == {"case features", "feature maps", "model contributions", "to input grid"}


def test_contribution_map_is_anchored_on_the_case_own_contribution(mean_model: SavedModel) -> None:
    # On a 1 mm grid the features' grid is the input grid, so the map's mean over the tumor must be
    # the contribution the whole-tumor Mean makes to this case's score (the anchor), not the kernels' level.
    image, mask, _ = two_halves_case(oblique=False)
    image = Volume(image.array, (1.0, 1.0, 1.0), image.origin, image.direction)
    mask = image.with_array(mask.array)
    heatmap = contribution_map(mean_model, image, mask, {"age": 70})
    whole = FeatureExtractor(restricted_settings([MEAN], mean_model.feature_settings)).extract(image, mask).features[MEAN]
    row = pd.DataFrame([{MEAN: whole, "original_shape_VoxelVolume": 3000.0, "age": 70.0}])
    expected = mean_model.model.contributions(row)[MEAN].iloc[0]
    assert heatmap.volume.array[mask.array > 0].mean() == pytest.approx(expected, abs=1e-4)
    assert any(f"{expected:+.3g}" in note for note in heatmap.notes)


def test_occlusion_map_signs_follow_the_model(mean_model: SavedModel) -> None:
    image, mask, bright = two_halves_case(oblique=False)
    heatmap = occlusion_map(mean_model, image, mask, {"age": 70}, blocks=2)
    values = heatmap.volume.array
    assert heatmap.volume.same_grid(image) and np.all(values[mask.array == 0] == 0)
    # Removing bright voxels lowers the mean, hence the predicted probability: positive there, negative elsewhere.
    assert np.mean(values[bright]) > 0 > np.mean(values[(mask.array > 0) & ~bright])


def test_heatmap_files_round_trip(tmp_path: Path) -> None:
    image, mask, _ = two_halves_case()
    values = np.where(mask.array > 0, np.linspace(-1, 2, mask.array.size).reshape(mask.shape), 0).astype(np.float32)
    heatmap = Heatmap(image.with_array(values), "signed", "contribution", "test map", (-2.0, 2.0), ["a note"], "log-odds")
    path = write_heatmap(heatmap, tmp_path / "out" / "heatmap.nrrd")
    assert sorted(p.name for p in path.parent.iterdir()) == ["heatmap.json", "heatmap.nrrd"]
    back = read_heatmap(path)
    assert back.volume.same_grid(image) and np.array_equal(back.volume.array, values)
    assert (back.colormap, back.method, back.description, back.value_range, back.notes, back.units) == (
        "signed", "contribution", "test map", (-2.0, 2.0), ["a note"], "log-odds")
    assert json.loads((tmp_path / "out" / "heatmap.json").read_text())["colormap"] == "signed"


def test_heatmap_files_refuse_bad_input(tmp_path: Path) -> None:
    image, _, _ = two_halves_case()
    heatmap = Heatmap(image.with_array(np.zeros(image.shape, np.float32)), "positive", "m", "d", (0.0, 1.0))
    with pytest.raises(InputError, match=".nrrd"):
        write_heatmap(heatmap, tmp_path / "heatmap.nii.gz")
    write_volume(heatmap.volume, tmp_path / "alone.nrrd")
    with pytest.raises(ImageReadError, match="alone.json"):
        read_heatmap(tmp_path / "alone.nrrd")
    write_heatmap(heatmap, tmp_path / "h.nrrd")
    (tmp_path / "h.json").write_text('{"format": "something else"}')
    with pytest.raises(ImageReadError, match="not a valid heatmap"):
        read_heatmap(tmp_path / "h.nrrd")
    with pytest.raises(InputError, match="colour map"):
        Heatmap(heatmap.volume, "rainbow", "m", "d", (0.0, 1.0))


def test_bad_input_is_refused_with_clear_errors(mean_model: SavedModel) -> None:
    image, mask, _ = two_halves_case()
    with pytest.raises(MaskError, match="empty"):
        contribution_map(mean_model, image, mask.with_array(np.zeros(mask.shape, np.uint8)))
    shifted = Volume(mask.array, mask.spacing, (0.0, 0.0, 0.0), mask.direction)
    with pytest.raises(GeometryMismatchError, match="not on the image's voxel grid"):
        contribution_map(mean_model, image, shifted)
    with pytest.raises(GeometryMismatchError):
        occlusion_map(mean_model, image, shifted)
    without_settings = SavedModel(mean_model.model, mean_model.outcome, {}, "x", Path("m"), None)
    with pytest.raises(NotExplainableError, match="does not record the pyradiomics settings"):
        contribution_map(without_settings, image, mask)


def test_a_model_without_mappable_features_is_refused() -> None:
    rng = np.random.default_rng(1)
    table = pd.DataFrame({"original_shape_Sphericity": rng.random(40), "age": rng.normal(60, 5, 40)})
    y = (table["original_shape_Sphericity"] + rng.normal(0, 0.2, 40) > 0.5).astype(int).to_numpy()
    saved = saved_linear_model(table, y, settings_1mm())
    image, mask, _ = two_halves_case()
    with pytest.raises(NotExplainableError, match="no voxel-wise map|None of the"):
        contribution_map(saved, image, mask)


def test_restricted_settings_keep_only_what_the_names_need() -> None:
    names = ["original_shape_Sphericity", "log-sigma-2-0-mm-3D_glcm_Imc1", "log-sigma-2-0-mm-3D_firstorder_Mean"]
    settings = restricted_settings(names, load_settings(preset="ct"))
    assert settings["imageType"] == {"Original": {}, "LoG": {"sigma": [2.0]}}
    assert settings["featureClass"] == {"shape": ["Sphericity"], "glcm": ["Imc1"], "firstorder": ["Mean"]}
    assert settings["setting"] == load_settings(preset="ct")["setting"]


def test_explain_command_writes_heatmap_and_picture(mean_model: SavedModel, tmp_path: Path, capsys) -> None:
    image, mask, bright = two_halves_case()
    model_dir = tmp_path / "model"
    save_model(mean_model.model, mean_model.outcome, model_dir, {}, "", mean_model.feature_settings)
    write_volume(image, tmp_path / "ct.nrrd")
    write_volume(mask, tmp_path / "tumor.nrrd")
    (tmp_path / "clinical.json").write_text(json.dumps({"age": 70}))
    args = [str(model_dir), str(tmp_path / "ct.nrrd"), str(tmp_path / "tumor.nrrd"), "--clinical", str(tmp_path / "clinical.json"),
            "-o", str(tmp_path / "heatmap.nrrd"), "--png", str(tmp_path / "heatmap.png")]
    assert main(["explain", *args]) == 0
    heatmap = read_heatmap(tmp_path / "heatmap.nrrd")
    assert heatmap.volume.same_grid(image)
    assert np.median(heatmap.volume.array[bright]) > np.median(heatmap.volume.array[(mask.array > 0) & ~bright])
    assert (tmp_path / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "clinical.json").write_text("[1, 2]")
    assert main(["explain", *args]) == 3
    assert "one JSON object" in capsys.readouterr().err


def test_the_inputs_of_an_ensemble_are_what_either_member_reads():
    from predict_synthetic import SMALL_GRIDS, binary_outcome, feature_table

    from ResponsePredictorLib.explain.model_inputs import model_inputs

    X = feature_table(n=80)
    model = BinaryModel(learner="ensemble", param_grid=SMALL_GRIDS["ensemble"], inner_folds=3, n_bootstrap=0)
    model.fit(X, binary_outcome(X))
    saved = SavedModel(model, BinaryOutcome("responder"), {}, "0" * 64, Path("."))
    used = set(model_inputs(saved).used)
    contributing = model.contributions(X).drop(columns=BASELINE).abs().sum()
    assert set(contributing.index[contributing > 0]) == used  # every column that moves a prediction, and no other


def test_a_model_harmonised_by_centre_is_explained_with_the_cases_centre() -> None:
    rng = np.random.default_rng(4)
    n = 90
    site = rng.choice(["A", "B"], n)
    table = pd.DataFrame({MEAN: rng.normal(50, 60, n) + np.where(site == "B", 80, 0), "age": rng.normal(65, 8, n),
                          "site": site})
    y = (rng.random(n) < 1 / (1 + np.exp(-(table[MEAN] - np.where(site == "B", 130, 50)) / 20))).astype(int)
    model = BinaryModel(learner="logistic", n_bootstrap=0, inner_folds=3, batch="site").fit(table, y)
    saved = SavedModel(model, BinaryOutcome("responder"), {}, "test", Path("test-model"), settings_1mm())
    image, mask, bright = two_halves_case()
    heatmap = contribution_map(saved, image, mask, {"age": 70, "site": "B"})
    assert ranking(heatmap.volume.array, bright, (mask.array > 0) & ~bright) > 0.9
    assert not any("site" in note for note in heatmap.notes)  # the centre is used, not "given but not used"
    with pytest.raises(NotExplainableError, match="give the case's centre \\('site'\\)"):
        contribution_map(saved, image, mask, {"age": 70})


def test_every_learner_has_the_units_of_its_decision_value() -> None:
    from ResponsePredictorLib.explain.scores import SCORE_UNITS
    from ResponsePredictorLib.predict.learners import LEARNERS

    assert set(SCORE_UNITS) == set(LEARNERS)
