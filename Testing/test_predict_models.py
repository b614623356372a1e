"""Tables, preprocessing, learners and models on synthetic data: what each step keeps, drops and computes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from predict_synthetic import (
    SMALL_GRIDS,
    binary_outcome,
    feature_table,
    survival_outcome,
    with_outcomes,
)
from ResponsePredictorLib.errors import MissingFeatureError, TableError
from ResponsePredictorLib.predict import (
    BinaryModel,
    BinaryOutcome,
    SurvivalModel,
    SurvivalOutcome,
    read_table,
    top_contributions,
)
from ResponsePredictorLib.predict.learners import LEARNERS, CoxnetLearner
from ResponsePredictorLib.predict.pipeline import BASELINE
from ResponsePredictorLib.predict.preprocessing import (
    FeatureFilter,
    TableEncoder,
    normal_scores,
)
from ResponsePredictorLib.predict.table import feature_columns
from sksurv.linear_model import CoxnetSurvivalAnalysis

SMALL = dict(inner_folds=3, n_bootstrap=8)


def fitted(learner: str, n: int = 70):
    X = feature_table(n=n)
    if LEARNERS[learner].kind == "binary":
        return BinaryModel(learner=learner, param_grid=SMALL_GRIDS[learner], **SMALL).fit(X, binary_outcome(X)), X
    return SurvivalModel(learner=learner, param_grid=SMALL_GRIDS[learner], horizon=400.0, **SMALL).fit(X, survival_outcome(X)), X


# -- tables -----------------------------------------------------------------------------------


def test_read_table_and_outcomes(tmp_path):
    path = tmp_path / "t.csv"
    with_outcomes(feature_table(n=10)).to_csv(path, index=False)
    table = read_table(path)
    assert table.index.name == "case" and table.index[0] == "case000"
    assert set(BinaryOutcome("responder").values(table)) <= {0, 1}
    y = SurvivalOutcome("time", "event").values(table)
    assert y.dtype.names == ("event", "time") and (y["time"] > 0).all()
    assert "responder" not in feature_columns(table, BinaryOutcome("responder"), exclude=["time", "event"])


@pytest.mark.parametrize(
    "change, outcome, message",
    [
        (lambda t: t.drop(columns="case"), BinaryOutcome("responder"), "no 'case' column"),
        (lambda t: t.assign(case="same"), BinaryOutcome("responder"), "more than once"),
        (lambda t: t.assign(responder=2), BinaryOutcome("responder"), "0 and 1 only"),
        (lambda t: t.assign(responder=np.nan), BinaryOutcome("responder"), "is empty for"),
        (lambda t: t.assign(time=-1.0), SurvivalOutcome("time", "event"), "positive numbers"),
        (lambda t: t, BinaryOutcome("missing"), "is not in the table"),
    ],
)
def test_bad_tables_are_refused_with_a_reason(change, outcome, message):
    with pytest.raises(TableError, match=message):
        outcome.values(read_table(change(with_outcomes(feature_table(n=10)))))


# -- preprocessing ----------------------------------------------------------------------------


def test_encoder_one_hot_medians_and_refusals():
    train = pd.DataFrame({"size": [1.0, 2.0, np.nan, 4.0], "histology": ["a", "b", "a", None]})
    encoder = TableEncoder().fit(train)
    assert encoder.feature_names_out_ == ["size", "histology=a", "histology=b"]
    new = pd.DataFrame({"size": [np.nan, np.inf], "histology": ["b", "unseen"], "extra": [0, 0]})
    np.testing.assert_array_equal(encoder.transform(new), [[2.0, 0, 1], [2.0, 0, 0]])  # median 2, unknown category
    with pytest.raises(MissingFeatureError, match="size"):
        encoder.transform(new.drop(columns="size"))
    with pytest.raises(TableError, match="holds text"):
        encoder.transform(new.assign(size=["1.5", "big"]))
    with pytest.raises(TableError, match="identifier"):
        TableEncoder().fit(pd.DataFrame({"name": [f"patient {i}" for i in range(30)]}))


def test_filter_drops_constant_and_correlated_columns_and_standardises():
    table = feature_table(n=50)
    encoder = TableEncoder().fit(table)
    encoded = encoder.transform(table)
    feature_filter = FeatureFilter(0.9).fit(encoded)
    kept = [encoder.feature_names_out_[i] for i in feature_filter.kept_]
    assert "signal_a" in kept and "signal_a_copy" not in kept and "constant" not in kept
    standardised = feature_filter.transform(encoded)
    np.testing.assert_allclose(standardised.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(standardised.std(axis=0), 1, atol=1e-12)


def test_normal_scores_tame_outliers_keep_order_and_survive_saving():
    rng = np.random.default_rng(3)
    skewed = np.column_stack([rng.lognormal(0, 1.5, 200), rng.normal(size=200), rng.integers(0, 4, 200)])
    skewed[0, 0] = 1e4  # one extreme case, as volume or energy features have
    plain = FeatureFilter(0.9).fit(skewed).transform(skewed)
    feature_filter = FeatureFilter(0.9, scaling="normal-scores").fit(skewed)
    scores = feature_filter.transform(skewed)
    assert plain[0, 0] > 10 and scores[0, 0] < 5  # the outlier dominates a z-score, not a normal score
    assert np.all(np.diff(scores[np.argsort(skewed[:, 0]), 0]) >= 0)  # the cases' order is kept
    np.testing.assert_allclose(scores.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(scores.std(axis=0), 1, atol=1e-12)
    loaded = FeatureFilter.from_state(feature_filter.to_state())
    new_cases = rng.normal(size=(5, 3)) * 3
    np.testing.assert_array_equal(loaded.transform(new_cases), feature_filter.transform(new_cases))
    # A filter saved before normal scores existed loads as standardisation only.
    old_state = {key: value for key, value in FeatureFilter(0.9).fit(skewed).to_state().items() if key != "scaling"}
    np.testing.assert_array_equal(FeatureFilter.from_state(old_state).transform(skewed), plain)
    broken = {**feature_filter.to_state(), "quantiles": feature_filter.to_state()["quantiles"][:, :2]}
    with pytest.raises(ValueError, match="quantiles"):
        FeatureFilter.from_state(broken)


def test_normal_scores_equal_scikit_learns_quantile_transformer():
    from sklearn.preprocessing import QuantileTransformer

    rng = np.random.default_rng(4)
    # Skewed, tied (integers, three levels) and ordinary columns; new cases beyond the range, on the
    # quantiles themselves and between ties.
    X = np.column_stack([rng.lognormal(size=150), rng.integers(0, 4, 150), rng.normal(size=150), np.repeat([1.0, 2.0, 5.0], 50)])
    fitted = QuantileTransformer(n_quantiles=100, output_distribution="normal").fit(X)
    new = np.vstack([X, rng.normal(size=(40, 4)) * 5, X[:10] + 1e-9, [[X[:, 0].min(), 0, -100, 1.0]], [[1e6, 3, 100, 5.0]]])
    np.testing.assert_allclose(normal_scores(new, fitted.quantiles_, fitted.references_, chunk=7),
                               fitted.transform(new), rtol=0, atol=1e-12)


# -- learners and models ----------------------------------------------------------------------


@pytest.mark.parametrize("learner", ["logistic", "lightgbm", "ensemble", "coxnet", "rsf"])
def test_contributions_add_up_to_the_prediction(learner):
    model, X = fitted(learner)
    contributions = model.contributions(X)
    assert list(contributions.columns) == list(X.columns) + [BASELINE]
    np.testing.assert_allclose(contributions.sum(axis=1), model.decision_function(X), atol=1e-8)
    assert (contributions[["signal_a_copy", "constant"]] == 0).all().all()  # dropped before the learner
    top = top_contributions(contributions, top=3)
    assert list(top.columns) == ["feature_1", "contribution_1", "feature_2", "contribution_2", "feature_3", "contribution_3"]
    assert (top["contribution_1"].abs() >= top["contribution_2"].abs()).all()


def test_linear_contributions_are_coefficient_times_standardised_value():
    model, X = fitted("logistic")
    head = model.pipeline_.head
    z = model.pipeline_.matrix(X)
    names = [model.pipeline_.encoder.feature_names_out_[i] for i in head.filter.kept_]
    contributions = model.contributions(X)
    for column, name in enumerate(names):
        if "=" not in name:
            np.testing.assert_allclose(contributions[name], head.learner.coef_[column] * z[:, column])
    dummies = [column for column, name in enumerate(names) if name.startswith("histology=")]
    np.testing.assert_allclose(contributions["histology"], z[:, dummies] @ head.learner.coef_[dummies])


def test_binary_outputs_and_threshold():
    model, X = fitted("logistic")
    outputs = model.outputs(X)
    assert list(outputs.columns) == ["probability", "lower", "upper", "predicted"]
    assert outputs["probability"].between(0, 1).all() and (outputs["lower"] <= outputs["upper"]).all()
    assert 0 < model.threshold_ < 1
    np.testing.assert_array_equal(outputs["predicted"], model.predict(X))
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], outputs["probability"])
    # Both classes are found at roughly the rate the data has them.
    assert 0.2 < outputs["predicted"].mean() < 0.8


@pytest.mark.parametrize("learner", ["coxnet", "rsf"])
def test_survival_outputs(learner):
    model, X = fitted(learner)
    outputs = model.outputs(X)
    np.testing.assert_allclose(outputs["risk"] + outputs["survival"], 1)
    assert (outputs["lower"] <= outputs["upper"]).all() and outputs["survival"].between(0, 1).all()
    curves = model.predict_survival(X, np.array([10.0, 100.0, 400.0, 2000.0]))
    assert (np.diff(curves, axis=1) <= 1e-12).all()  # survival never rises with time
    np.testing.assert_allclose(curves[:, 2], outputs["survival"])


def test_coxnet_survival_matches_scikit_survival():
    X = feature_table(n=80).drop(columns="histology").to_numpy()
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)
    y = survival_outcome(feature_table(n=80))
    ours = CoxnetLearner(l1_ratio=0.5, alpha_ratio=0.1).fit(X, y)
    reference = CoxnetSurvivalAnalysis(l1_ratio=0.5, n_alphas=20, alpha_min_ratio=0.1, fit_baseline_model=True).fit(X, y)
    np.testing.assert_allclose(ours.decision_function(X), reference.predict(X), rtol=1e-10)
    times = np.array([50.0, 200.0, 600.0])
    expected = np.array([curve(times) for curve in reference.predict_survival_function(X)])
    np.testing.assert_allclose(ours.survival_function(X, times), expected, rtol=1e-10)


def test_same_seed_same_model():
    first, X = fitted("lightgbm")
    second, _ = fitted("lightgbm")
    np.testing.assert_array_equal(first.outputs(X).to_numpy(), second.outputs(X).to_numpy())


def test_model_refuses_what_it_cannot_fit():
    X = feature_table(n=30)
    y = binary_outcome(X)
    with pytest.raises(TableError, match="Unknown binary model 'coxnet'"):
        BinaryModel(learner="coxnet").fit(X, y)
    y_rare = np.zeros(30, dtype=int)
    y_rare[:2] = 1
    with pytest.raises(TableError, match="Only 2 case"):
        BinaryModel(inner_folds=3).fit(X, y_rare)
