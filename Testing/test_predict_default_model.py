"""The default survival model shipped in Resources: it loads safely, says what it is for, and predicts a
patient from features our own extractor computes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import REPO_ROOT, data_path
from ResponsePredictorLib.features import FeatureExtractor, load_settings
from ResponsePredictorLib.predict import load_model, read_table
from ResponsePredictorLib.resources import resource_path
from ResponsePredictorLib.volume import read_mask, read_volume

MODEL_DIR = resource_path("Models", "nsclc_os_ct")
CLINICAL = {"age": 66.0, "Tstage": 2, "Nstage": 0, "Mstage": 0, "Histology": "adenocarcinoma"}


@pytest.fixture(scope="module")
def default_model():
    return load_model(MODEL_DIR)


@pytest.fixture(scope="module")
def sample_features() -> dict[str, float]:
    image = read_volume(resource_path("SampleData", "nsclc070_ct.nrrd"))
    mask = read_mask(resource_path("SampleData", "nsclc070_tumor.nrrd"), image)
    return FeatureExtractor.from_preset("ct").extract(image, mask).features


def test_card_states_use_data_licenses_and_validation(default_model):
    card = default_model.card
    assert "Research use only" in card["intended_use"] and "non-small-cell lung cancer" in card["intended_use"]
    assert "`ct` preset" in card["intended_use"]
    assert "CC BY-NC 3.0" in card["data"]["description"] and "CC BY 3.0" in card["data"]["description"]
    assert {case["reason"] for case in card["data"]["excluded_cases"]} == {
        "The mask is empty: it has no voxel with a label above 0. Segment the tumor first."}
    validation = card["validation"]
    assert validation["settings"]["method"] == "nested cross-validation" and validation["settings"]["horizon"] == 730.5
    for name in ("c_index", "auc_at_horizon"):
        estimate = validation["metrics"][name]
        assert 0.5 < estimate["lower"] < estimate["value"] < estimate["upper"] < 1
    assert (MODEL_DIR / "model_card.md").read_text().startswith("# Model card: NSCLC overall survival")


def test_default_model_predicts_the_sample_case(default_model, sample_features):
    model = default_model.model
    assert model.kind == "survival" and model.learner == "coxnet" and model.horizon_ == 730.5
    table = pd.DataFrame([{**sample_features, **CLINICAL}], index=pd.Index(["nsclc070"], name="case"))
    outputs = model.outputs(table)
    row = outputs.iloc[0]
    assert 0 < row["survival"] < 1 and row["lower"] <= row["upper"]
    assert row["risk"] == pytest.approx(1 - row["survival"])
    contributions = model.contributions(table)
    assert contributions.sum(axis=1).iloc[0] == pytest.approx(row["score"])
    # An unknown clinical value may be left empty: it takes the training median.
    unknown = model.outputs(table.assign(age=np.nan, Histology=None))
    assert 0 < unknown["survival"].iloc[0] < 1


def test_every_model_feature_comes_from_our_extractor_or_the_clinical_columns(default_model, sample_features):
    inputs = set(default_model.model.feature_names_in_)
    assert inputs and inputs <= set(sample_features) | set(CLINICAL)


def test_the_card_says_how_the_inputs_were_chosen_and_what_they_add(default_model):
    # The inputs come from the rule of scripts/train_default_model.py, and every reference the
    # model was measured against is in the card with its verdict.
    notes = " ".join(default_model.card["limitations"])
    assert "Inputs chosen by a rule fixed before training" in notes and "chosen:" in notes
    markdown = (MODEL_DIR / "model_card.md").read_text()
    inputs = list(default_model.model.feature_names_in_)
    assert all(name in markdown for name in inputs)


def test_the_model_records_the_feature_settings_it_was_trained_with(default_model):
    # New cases and heatmaps take their features from these settings, so they must be the ct preset's.
    assert default_model.feature_settings == load_settings(preset="ct")


@pytest.mark.realdata
def test_cached_training_features_match_a_fresh_extraction():
    folder = data_path("nsclc_crops", "images")
    cached = read_table(REPO_ROOT / "benchmarks" / "data" / "nsclc_crops_ct_features.csv")
    import sys

    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    import nsclc_features

    record, features = nsclc_features.extract_crop(folder / "patient_070.npz")
    assert record["status"] == "included"
    fresh = pd.Series(features).drop("case").astype(float)
    pd.testing.assert_series_equal(fresh, cached.loc["070", fresh.index].astype(float), check_names=False, rtol=1e-10)
    record, features = nsclc_features.extract_crop(folder / "patient_003.npz")
    assert features is None and record["status"] == "excluded" and "empty" in record["reason"]
