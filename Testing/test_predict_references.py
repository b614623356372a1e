"""Every validation shows the model beside its references: tumor volume alone, clinical alone, a plain learner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ResponsePredictorLib.errors import TableError
from ResponsePredictorLib.predict import (
    BinaryModel, BinaryOutcome, SurvivalOutcome, evaluate, load_model, save_model, train_model,
)
from ResponsePredictorLib.predict.models import SurvivalModel
from ResponsePredictorLib.predict.references import choose_references
from ResponsePredictorLib.predict.table import is_radiomic

from predict_synthetic import VOLUME, radiomics_table, with_binary_outcome


def train(table: pd.DataFrame, **options):
    return train_model(table, BinaryOutcome("responder"), folds=5, repeats=1, n_resamples=300, **options)


def test_radiomic_names_are_told_from_clinical_columns():
    assert is_radiomic("original_shape_MeshVolume") and is_radiomic("log-sigma-1-0-mm-3D_glcm_Idn")
    assert is_radiomic("PET_wavelet-HLL_firstorder_Mean") and is_radiomic("diagnostics_Mask-original_VoxelNum")
    assert not any(map(is_radiomic, ["age", "stage", "Overall.Stage", "glcm", "firstorder_notes", "shape_index_x"]))


def test_references_follow_the_table():
    columns = list(radiomics_table(10, 0).columns)
    model = BinaryModel()
    chosen = {ref.name: ref.columns for ref in choose_references(columns, model)}
    assert chosen == {"volume": (VOLUME,), "clinical": ("age", "stage"), "plain": tuple(columns)}
    named = {ref.name: ref.columns for ref in choose_references(columns, model, clinical=["age"])}
    assert named["clinical"] == ("age",)
    with pytest.raises(TableError, match="Clinical columns not among the table's informative features .*: weight"):
        choose_references(columns, model, clinical=["weight"])
    # The plain learner on every column is the model itself: no 'plain' reference then.
    plain = BinaryModel(learner="logistic", param_grid={"C": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0], "l1_ratio": [0.0]})
    assert [ref.name for ref in choose_references(columns, plain)] == ["volume", "clinical"]
    # A linear model on tumor volume alone orders the patients as its plain learner would: no reference is left.
    assert choose_references([VOLUME], SurvivalModel(learner="coxnet")) == []
    assert [ref.name for ref in choose_references([VOLUME], SurvivalModel(learner="rsf"))] == ["plain"]
    # A table of radiomics without volume or clinical columns: only the plain learner.
    texture = [c for c in columns if "glcm" in c]
    assert [ref.name for ref in choose_references(texture, model)] == ["plain"]
    # Survival: the ridge-like Cox model.
    survival = choose_references(columns, SurvivalModel())[0].model_for(SurvivalModel(horizon=365.0))
    assert (survival.learner, survival.param_grid["l1_ratio"], survival.horizon) == ("coxnet", [0.01], 365.0)


def test_a_model_that_only_relearns_volume_is_said_not_to_beat_it():
    table = radiomics_table(240, seed=1)
    log_volume = np.log(table[VOLUME].to_numpy())
    table = with_binary_outcome(table, 1.6 * (log_volume - 10), seed=2)
    result = train(table, model=BinaryModel(n_bootstrap=0))
    volume = next(c for c in result.validation.comparisons if c.reference.name == "volume")
    assert volume.verdict("auc") != "better"
    line = next(line for line in result.validation.verdicts() if "tumor volume alone" in line)
    assert line.startswith(("The model is not shown to be better than tumor volume alone", "The model is worse than"))
    assert line in result.card_markdown  # the card says it in the same words


def test_texture_beyond_volume_shows_a_positive_difference_whose_interval_excludes_zero():
    table = radiomics_table(240, seed=3)
    log_volume = np.log(table[VOLUME].to_numpy())
    signal = table["wavelet-LLH_glcm_Feature0"] - table["wavelet-LLH_glcm_Feature1"]
    table = with_binary_outcome(table, 0.3 * (log_volume - 10) + 2.0 * signal.to_numpy(), seed=4)
    result = train(table, model=BinaryModel(learner="logistic", n_bootstrap=0))
    volume = next(c for c in result.validation.comparisons if c.reference.name == "volume")
    assert volume.verdict("auc") == "better"
    assert volume.differences["auc"].lower > 0
    assert volume.differences["auc"].value == pytest.approx(result.validation.metrics["auc"].value - volume.metrics["auc"].value)


def test_the_references_are_saved_and_scored_beside_the_model_on_new_cases(tmp_path):
    table = radiomics_table(200, seed=5)
    log_volume = np.log(table[VOLUME].to_numpy())
    table = with_binary_outcome(table, 1.5 * (log_volume - 10), seed=6)
    training, held_out = table.iloc[:140], table.iloc[140:]
    result = train(training, model=BinaryModel(learner="logistic", n_bootstrap=0))
    save_model(result.model, BinaryOutcome("responder"), tmp_path / "model", result.card, result.card_markdown,
               references=result.references)
    saved = load_model(tmp_path / "model")
    assert [fitted.reference.name for fitted in saved.references] == ["volume", "clinical", "plain"]
    X = held_out.drop(columns="responder")
    y = held_out["responder"].to_numpy()
    scored = evaluate(saved.model, X, y, n_resamples=200, references=saved.references)
    assert [c.reference.name for c in scored.comparisons] == ["volume", "clinical", "plain"]
    for comparison, fitted in zip(scored.comparisons, result.references):
        alone = evaluate(fitted.model, X[list(fitted.reference.columns)], y, n_resamples=0)
        assert comparison.metrics["auc"].value == pytest.approx(alone.metrics["auc"].value)
    # a model saved without references is evaluated alone
    save_model(result.model, BinaryOutcome("responder"), tmp_path / "bare", result.card, result.card_markdown)
    assert load_model(tmp_path / "bare").references == []


def test_survival_models_are_compared_on_the_c_index_and_the_auc_at_the_horizon():
    pytest.importorskip("sksurv")
    table = radiomics_table(160, seed=7)
    rng = np.random.default_rng(8)
    risk = np.log(table[VOLUME].to_numpy()) - 10
    event_time = rng.exponential(600 * np.exp(-0.9 * risk))
    censor = rng.uniform(200, 1500, len(table))
    table = table.assign(time=np.minimum(event_time, censor).round(1) + 1, event=(event_time <= censor).astype(int))
    result = train_model(table, SurvivalOutcome("time", "event"), model=SurvivalModel(n_bootstrap=0), folds=4, repeats=1,
                         n_resamples=100)
    volume = next(c for c in result.validation.comparisons if c.reference.name == "volume")
    assert set(volume.differences) == {"c_index", "auc_at_horizon"}
    assert "C-index" in result.validation.verdicts()[0]


def test_a_model_on_some_columns_is_compared_with_references_on_the_others():
    # The default NSCLC model's case: a model on tumor volume alone, beside the clinical covariates alone.
    table = with_binary_outcome(radiomics_table(150, seed=11), np.zeros(150), seed=12).assign(modality="CT")
    result = train(table, model=BinaryModel(learner="logistic", n_bootstrap=0), columns=[VOLUME])
    assert result.model.feature_names_in_ == [VOLUME]
    # Volume is the model itself, and so is the plain learner on its one column; a constant column ('modality') is no reference's input and no error.
    assert [c.reference.name for c in result.validation.comparisons] == ["clinical"]  # plain: the same on one column
    clinical = next(c for c in result.validation.comparisons if c.reference.name == "clinical")
    assert clinical.reference.columns == ("age", "stage")
    assert [fitted.reference.name for fitted in result.references] == ["clinical"]
    with pytest.raises(TableError, match="must be features of the table; not: volume"):
        train(table, columns=["volume"])
