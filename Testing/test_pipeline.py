"""One case end to end on synthetic volumes: results, the case folder and its commit marker, fingerprints."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ResponsePredictorLib.errors import ImageReadError, InputError, MaskError, SettingsError
from ResponsePredictorLib.pipeline import (
    DONE, FAILED, RESULT_JSON, CaseInput, Pipeline, is_done, read_record, write_case, write_failure,
)
from ResponsePredictorLib.predict import SurvivalModel, SurvivalOutcome, load_model, save_model
from ResponsePredictorLib.predict.table import SURVIVAL_DTYPE
from ResponsePredictorLib.resources import resource_path
from ResponsePredictorLib.volume import Volume, read_volume, write_volume
from predict_synthetic import SMALL_GRIDS
from survival_model import radiomics_survival_model

LIGHT = {"imageType": {"Original": {}}, "featureClass": {"firstorder": None, "shape": None},
         "setting": {"binWidth": 25, "label": 1}}
GRID = dict(spacing=(1.0, 1.0, 1.5), origin=(-10.0, 5.0, 2.0), direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))


def tumor_case(seed: int = 0, radius: float = 6.0) -> tuple[Volume, Volume]:
    """A 32^3 'CT' with a brighter noisy ball and its mask."""
    rng = np.random.default_rng(seed)
    k, j, i = np.mgrid[:32, :32, :32]
    ball = (k - 16) ** 2 + (j - 15) ** 2 + (i - 17) ** 2 <= radius ** 2
    image = np.where(ball, 40, -700) + rng.normal(0, 30, ball.shape)
    return Volume(image.astype(np.int16), **GRID), Volume(ball.astype(np.uint8), **GRID)


@pytest.fixture(scope="module")
def features_only() -> Pipeline:
    return Pipeline(None, feature_settings=LIGHT, heatmap=None, report=False)


@pytest.fixture(scope="module")
def default_model():
    return load_model(resource_path("Models", "nsclc_os_ct"))


@pytest.fixture(scope="module")
def clinical_model(tmp_path_factory):
    return radiomics_survival_model(tmp_path_factory.mktemp("model") / "survival")


def test_features_only_case_written_with_result_json_last(features_only, tmp_path):
    image, mask = tumor_case()
    result = features_only.run(CaseInput("c1", image, mask, extra={"note": "kept"}))
    assert result.features["original_shape_VoxelVolume"] == pytest.approx(mask.array.sum() * 1.5)
    assert result.prediction == {} and result.prediction_kind is None and result.heatmap is None
    assert {"read_s", "mask_s", "features_s"} <= set(result.timings)
    assert result.provenance["mask_source"] == "label image"
    assert result.provenance["software"]["responsepredictor"]

    folder = tmp_path / "c1"
    write_case(result, folder)
    record = read_record(folder)
    assert record["status"] == DONE and record["runs"] == 1 and record["files"] == ["features.json", "mask.nrrd"]
    # result.json is the commit marker: no output is newer than it.
    assert all((folder / name).stat().st_mtime_ns <= (folder / RESULT_JSON).stat().st_mtime_ns for name in record["files"])
    assert np.array_equal(read_volume(folder / "mask.nrrd").array, mask.array)
    assert json.loads((folder / "features.json").read_text())["features"] == result.features
    assert not list(folder.glob(".*"))  # no temporary file left
    assert is_done(folder, result.provenance["key"])
    assert not is_done(folder, "another key")
    (folder / "mask.nrrd").unlink()
    assert not is_done(folder, result.provenance["key"])  # a listed file gone: the case is redone


def test_fingerprint_follows_inputs_and_settings(features_only, tmp_path):
    image, mask = tumor_case()
    write_volume(image, tmp_path / "image.nrrd")
    write_volume(mask, tmp_path / "mask.nrrd")
    case = CaseInput("c", tmp_path / "image.nrrd", tmp_path / "mask.nrrd")
    first = features_only.fingerprint(case)
    assert features_only.fingerprint(case) == first
    # A carried value that the model does not use changes nothing.
    assert features_only.fingerprint(CaseInput("c", case.image, case.mask, extra={"outcome": "1"})).key == first.key
    write_volume(tumor_case(seed=1)[0], tmp_path / "image.nrrd")
    assert features_only.fingerprint(case).key != first.key
    other_settings = Pipeline(None, feature_settings={**LIGHT, "setting": {"binWidth": 10, "label": 1}},
                              heatmap=None, report=False)
    assert other_settings.fingerprint(case).settings_sha256 != first.settings_sha256
    with pytest.raises(ImageReadError, match="not found"):
        features_only.fingerprint(CaseInput("c", tmp_path / "absent.nrrd", case.mask))


def test_rewrite_removes_stale_outputs_and_counts_runs(features_only, tmp_path):
    image, mask = tumor_case()
    folder = tmp_path / "c"
    result = features_only.run(CaseInput("c", image, mask))
    write_case(result, folder)
    (folder / "prediction.json").write_text("{}")  # as if an earlier run had a model
    write_case(result, folder)
    assert read_record(folder)["runs"] == 2
    assert not (folder / "prediction.json").exists()


def test_failure_recorded_in_one_line_and_outputs_removed(features_only, tmp_path):
    image, mask = tumor_case()
    folder = tmp_path / "c"
    write_case(features_only.run(CaseInput("c", image, mask)), folder)
    empty = mask.with_array(np.zeros_like(mask.array))
    with pytest.raises(MaskError) as caught:
        features_only.run(CaseInput("c", image, empty))
    write_failure(folder, "c", caught.value, features_only.fingerprint(CaseInput("c", image, empty)))
    record = read_record(folder)
    assert record["status"] == FAILED and "empty" in record["error"] and "\n" not in record["error"]
    assert "traceback" not in record  # bad input: the message says it all
    assert sorted(p.name for p in folder.iterdir()) == [RESULT_JSON]
    assert not is_done(folder, record["key"])
    write_failure(folder, "c", ZeroDivisionError("boom\nsecond line"), None)
    record = read_record(folder)
    assert record["error"] == "internal error (ZeroDivisionError): boom second line"
    assert "ZeroDivisionError" in record["traceback"]


def test_case_needs_a_mask_or_where_to_segment(features_only):
    image, _ = tumor_case()
    with pytest.raises(InputError, match="mask, or a seed"):
        features_only.run(CaseInput("c", image))


def test_pipeline_settings_checked_when_built(default_model):
    with pytest.raises(SettingsError, match="needs an outcome model"):
        Pipeline(None, feature_settings=LIGHT, heatmap="contribution", report=False)
    with pytest.raises(SettingsError, match="Unknown heatmap"):
        Pipeline(default_model, heatmap="gradcam", report=False)
    if default_model.feature_settings is not None:
        with pytest.raises(SettingsError, match="recorded"):
            Pipeline(default_model, feature_settings=LIGHT, heatmap=None, report=False)


def test_prediction_gets_the_clinical_covariates(clinical_model, tmp_path):
    pipeline = Pipeline(clinical_model, heatmap=None, report=False)
    assert pipeline.feature_settings == clinical_model.feature_settings
    image, mask = tumor_case(radius=7)
    known = {"age": "70", "Tstage": "3", "Nstage": "1", "Mstage": "0", "Histology": "adenocarcinoma"}
    result = pipeline.run(CaseInput("c", image, mask, extra={**known, "SurvivalTime": "400"}))
    assert result.prediction_kind == "survival"
    assert 0 <= result.prediction["lower"] <= result.prediction["risk"] <= result.prediction["upper"] <= 1
    assert result.covariates == {"age": 70.0, "Tstage": 3.0, "Nstage": 1.0, "Mstage": 0.0, "Histology": "adenocarcinoma"}
    assert not [w for w in result.warnings if "unknown" in w]
    assert result.provenance["outcome_model"]["fingerprint"] == clinical_model.fingerprint
    # The covariates reach the model: changing one the model weighs changes the prediction.
    other = {"age": "30", "Tstage": "1", "Nstage": "3", "Mstage": "1", "Histology": "squamous cell carcinoma"}
    weighed = [name for name in other if result.contributions[name] != 0]
    assert weighed, "the model uses at least one clinical covariate"
    changed = pipeline.run(CaseInput("c", image, mask, extra={**known, weighed[0]: other[weighed[0]]}))
    assert changed.prediction["score"] != result.prediction["score"]
    # An unknown value is said, not guessed; a value of the wrong kind is an error.
    partial = pipeline.run(CaseInput("c", image, mask, extra={"age": "70", "Histology": "Adenocarcinoma"}))
    assert math.isnan(partial.covariates["Tstage"])
    assert any("'Tstage'" in w for w in partial.warnings) and any("'Adenocarcinoma'" in w for w in partial.warnings)
    with pytest.raises(InputError, match="'age' must be a number"):
        pipeline.run(CaseInput("c", image, mask, extra={**known, "age": "seventy"}))

    folder = tmp_path / "c"
    pipeline.write(result, folder)
    saved = json.loads((folder / "prediction.json").read_text())
    assert saved["prediction"] == result.prediction and saved["covariates"]["Histology"] == "adenocarcinoma"
    assert set(saved["contributions"]) >= {"age", "(baseline)"}


def test_a_model_without_voxel_wise_inputs_predicts_and_says_why_there_is_no_heatmap(tmp_path):
    # A model on tumor volume alone (what the default's rule may choose): nothing varies over the tumor.
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"original_shape_MeshVolume": rng.lognormal(8, 1, 60)},
                         index=pd.Index([f"p{i}" for i in range(60)], name="case"))
    y = np.empty(60, dtype=SURVIVAL_DTYPE)
    y["time"] = rng.exponential(900 / np.log(table["original_shape_MeshVolume"].to_numpy())) + 1
    y["event"] = rng.random(60) < 0.7
    model = SurvivalModel(learner="coxnet", param_grid=SMALL_GRIDS["coxnet"], n_bootstrap=0, horizon=365.0).fit(table, y)
    save_model(model, SurvivalOutcome("time", "event"), tmp_path / "volume", {}, "", LIGHT)
    pipeline = Pipeline(load_model(tmp_path / "volume"), heatmap="contribution", report=False)
    assert pipeline.heatmap is None
    image, mask = tumor_case()
    result = pipeline.run(CaseInput("c", image, mask))
    assert result.prediction_kind == "survival" and result.heatmap is None
    assert any("No contribution heatmap" in w and "original_shape_MeshVolume" in w for w in result.warnings)
    write_case(result, tmp_path / "c")
    record = read_record(tmp_path / "c")
    assert record["status"] == DONE and "heatmap.nrrd" not in record["files"]
