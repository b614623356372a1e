"""ComBat harmonisation across centres (predict.harmonisation): neuroCombat's values, fitted inside the
folds only, stored with the model, and refusing a centre it has not seen."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fold_spy import spy_fits
from predict_synthetic import VOLUME, radiomics_table, with_binary_outcome
from ResponsePredictorLib.errors import InputError, TableError
from ResponsePredictorLib.predict import BinaryModel, BinaryOutcome, cross_validate, load_model, save_model, train_model
from ResponsePredictorLib.predict.harmonisation import ComBat

FAST = dict(learner="logistic", param_grid={"C": [0.1, 1.0], "l1_ratio": [0.0]}, inner_folds=3, n_bootstrap=0)


def multicentre_table(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Radiomic features whose location and scale depend on the centre (three of them, unequal sizes)."""
    table = radiomics_table(n, seed)
    rng = np.random.default_rng(seed + 100)
    table["site"] = rng.choice(["A", "B", "C"], size=n, p=[0.5, 0.3, 0.2])
    shift, scale = {"A": 0.0, "B": 1.5, "C": -1.0}, {"A": 1.0, "B": 2.0, "C": 0.6}
    radiomic = [c for c in table.columns if "_glcm_" in c or "_glszm_" in c]
    for site in shift:
        rows = table["site"] == site
        table.loc[rows, radiomic] = table.loc[rows, radiomic] * scale[site] + shift[site]
    return table


def test_values_are_neurocombat_s_on_training_and_new_cases():
    neuro = pytest.importorskip("neuroCombat")
    table = multicentre_table()
    columns = [c for c in table.columns if "_glcm_" in c or "_glszm_" in c]
    training, new = table.iloc[:90], table.iloc[90:]
    ours = ComBat("site").fit(training)
    assert ours.columns_ == [VOLUME, "original_shape_VoxelVolume", *columns]  # every radiomic column, not age or stage
    # neuroCombat solves for the centre means by a matrix inverse and stops its empirical Bayes iterations at a
    # relative change of 1e-4, as we do from our own means: the values agree to rounding well below that.
    theirs = neuro.neuroCombat(training[ours.columns_].to_numpy(float).T, training[["site"]], "site")
    np.testing.assert_allclose(ours.transform(training)[ours.columns_].to_numpy().T, theirs["data"], rtol=1e-6)
    # New cases: neuroCombatFromTraining's formula on neuroCombat's estimates (the function itself fails under
    # numpy 2: it converts a one-element array with int()).
    estimates = theirs["estimates"]
    row = [list(estimates["batches"]).index(site) for site in new["site"]]
    mean, scale = estimates["stand.mean"][:, :1], np.sqrt(estimates["var.pooled"])
    standardised = (new[ours.columns_].to_numpy(float).T - mean) / scale
    applied = (standardised - estimates["gamma.star"][row].T) / np.sqrt(estimates["delta.star"][row].T) * scale + mean
    np.testing.assert_allclose(ours.transform(new)[ours.columns_].to_numpy().T, applied, rtol=1e-6)


def test_harmonised_centres_share_location_and_scale_and_other_columns_are_untouched():
    table = multicentre_table(n=300)
    harmonised = ComBat("site").fit_transform(table)
    assert "site" not in harmonised.columns
    feature = "wavelet-LLH_glcm_Feature3"
    before = table.groupby("site")[feature].agg(["mean", "std"])
    after = harmonised.assign(site=table["site"]).groupby("site")[feature].agg(["mean", "std"])
    assert np.ptp(before["mean"]) > 2 and np.ptp(after["mean"]) < 0.3
    assert before["std"].max() / before["std"].min() > 3 and after["std"].max() / after["std"].min() < 1.3
    pd.testing.assert_frame_equal(harmonised[["age", "stage"]], table[["age", "stage"]])


def test_bad_centres_are_refused_with_a_reason():
    table = multicentre_table(n=60)
    combat = ComBat("site").fit(table)
    with pytest.raises(TableError, match="Centre\\(s\\) 'D' .* not in the model's training data \\(known: A, B, C\\)"):
        combat.transform(table.assign(site="D"))
    with pytest.raises(TableError, match="empty for 1 case"):
        combat.transform(table.assign(site=["A"] * 59 + [None]))
    with pytest.raises(TableError, match="not in the table"):
        combat.transform(table.drop(columns="site"))
    with pytest.raises(TableError, match="at least two training cases per centre.*'D' \\(1\\)"):
        ComBat("site").fit(table.assign(site=["A"] * 30 + ["B"] * 29 + ["D"]))
    with pytest.raises(TableError, match="one centre only"):
        ComBat("site").fit(table.assign(site="A"))


def test_combat_is_fitted_inside_the_folds_only(monkeypatch):
    table = with_binary_outcome(multicentre_table(n=90), np.zeros(90), seed=1)
    X, y = table.drop(columns="responder"), table["responder"].to_numpy()
    fitted_on = spy_fits(monkeypatch, ComBat)
    cross_validate(BinaryModel(**FAST, batch="site"), X, y, folds=3, repeats=1, n_resamples=0)
    # Per outer fold: one ComBat per inner fold and one for the refit on the whole training fold.
    assert len(fitted_on) == 3 * (FAST["inner_folds"] + 1) and max(fitted_on) == 60


def test_a_harmonised_model_is_saved_and_needs_a_known_centre(tmp_path):
    table = multicentre_table(n=150, seed=3)
    table = with_binary_outcome(table, 2.0 * (np.log(table[VOLUME].to_numpy()) - 10), seed=4)
    result = train_model(table, BinaryOutcome("responder"), model=BinaryModel(**FAST, batch="site"), folds=3, repeats=1,
                         n_resamples=50)
    assert "site" not in {c for ref in result.references for c in ref.reference.columns}
    assert "harmonised across the centres of column `site`" in result.card_markdown
    save_model(result.model, BinaryOutcome("responder"), tmp_path / "model", result.card, result.card_markdown,
               references=result.references)
    model = load_model(tmp_path / "model").model
    assert model.feature_names_in_[-1] == "site"
    X = table.drop(columns="responder")
    np.testing.assert_allclose(model.outputs(X)["probability"], result.model.outputs(X)["probability"])
    with pytest.raises(InputError, match="'Z'.*not in the model's training data"):
        model.outputs(X.assign(site="Z"))


def test_a_feature_missing_in_one_centre_leaves_the_others_harmonised():
    table = multicentre_table(n=300)
    feature, other = "wavelet-LLH_glcm_Feature3", "wavelet-LLH_glcm_Feature1"
    table.loc[table["site"] == "C", feature] = np.nan  # never measured at centre C
    harmonised = ComBat("site").fit_transform(table)
    values = harmonised.assign(site=table["site"])
    assert values.loc[values["site"] != "C", feature].notna().all() and values[other].notna().all()
    assert np.ptp(values.groupby("site")[other].mean()) < 0.3
    assert values.loc[values["site"] == "C", feature].isna().all()  # left missing there: the model imputes it


def test_one_feature_is_harmonised_by_its_centres_own_location_and_scale():
    table = multicentre_table(n=300)[["wavelet-LLH_glcm_Feature3", "site"]]
    harmonised = ComBat("site").fit_transform(table).assign(site=table["site"])
    assert harmonised.notna().all().all()
    assert np.ptp(harmonised.groupby("site")["wavelet-LLH_glcm_Feature3"].mean()) < 1e-9


def test_new_cases_missing_a_column_or_holding_text_are_refused_clearly():
    table = multicentre_table(n=120)
    combat = ComBat("site").fit(table)
    with pytest.raises(TableError, match="lacks 1 feature"):
        combat.transform(table.drop(columns="wavelet-LLH_glcm_Feature1"))
    with pytest.raises(TableError, match="'wavelet-LLH_glcm_Feature1' must hold numbers"):
        combat.transform(table.assign(**{"wavelet-LLH_glcm_Feature1": "n/a"}))


def test_a_small_centre_is_in_every_training_fold():
    # 6 cases of 40 at centre C: folds that keep each centre's share give every training fold two or more.
    table = multicentre_table(n=40, seed=5)
    table["site"] = ["C"] * 6 + ["A"] * 17 + ["B"] * 17
    table = with_binary_outcome(table, np.zeros(40), seed=2)
    X, y = table.drop(columns="responder"), table["responder"].to_numpy()
    for seed in range(4):
        cross_validate(BinaryModel(**FAST, batch="site", random_state=seed), X, y, folds=3, repeats=1, n_resamples=0,
                       random_state=seed)


def test_a_numeric_centre_read_as_float_is_the_same_centre():
    table = multicentre_table(n=120).assign(site=lambda t: t["site"].map({"A": 1, "B": 2, "C": 3}))
    combat = ComBat("site").fit(table)
    pd.testing.assert_frame_equal(combat.transform(table.astype({"site": float})), combat.transform(table))
