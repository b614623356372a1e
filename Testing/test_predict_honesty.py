"""Honesty checks that can fail: validation must not find signal where there is none, must find it
where there is, and must never let a test case into anything fitted for that fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fold_spy import spy_fits
from predict_synthetic import binary_outcome, feature_table
from ResponsePredictorLib.predict import BinaryModel, cross_validate, permutation_test
from ResponsePredictorLib.predict import validation as validation_module
from ResponsePredictorLib.predict.metrics import auc
from ResponsePredictorLib.predict.preprocessing import TableEncoder

FAST = dict(learner="logistic", param_grid={"C": [0.1, 1.0], "l1_ratio": [1.0]}, inner_folds=3, n_bootstrap=0)


def _cv(X: pd.DataFrame, y: np.ndarray, repeats: int = 1, **options) -> validation_module.Validation:
    return cross_validate(BinaryModel(**FAST), X, y, folds=5, repeats=repeats, n_resamples=300, **options)


def test_shuffled_outcome_gives_an_interval_around_chance_and_the_real_one_does_not():
    X = feature_table(n=100)
    y = binary_outcome(X)
    real = _cv(X, y).metrics["auc"]
    shuffled = _cv(X, np.random.default_rng(5).permutation(y)).metrics["auc"]
    assert real.lower > 0.5, real
    assert shuffled.lower < 0.5 < shuffled.upper, shuffled


def test_feature_selection_outside_the_folds_would_be_caught():
    # Pure noise: 60 cases, 1000 features, an outcome unrelated to all of them. (With far fewer cases
    # an honest cross-validation on noise falls below 0.5, the known anti-learning bias of small folds.)
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 1000)), index=[f"c{i}" for i in range(60)]).add_prefix("f")
    y = np.array([0, 1] * 30)
    # A leaky pipeline picks the 10 features that best separate the outcome on ALL cases, then validates.
    separation = np.array([abs(auc(y, X[column]) - 0.5) for column in X.columns])
    leaky = _cv(X[X.columns[np.argsort(-separation)[:10]]], y).metrics["auc"]
    # Ours selects inside the model (lasso), fitted in each training fold only.
    honest = _cv(X, y).metrics["auc"]
    assert leaky.lower > 0.6, f"the leak should look like signal: {leaky}"
    assert honest.lower < 0.5 < honest.upper, honest


def test_repeating_the_folds_does_not_narrow_the_interval():
    # Repeats test the same patients again: they sharpen the point estimate a little, not the
    # interval. Resampling each fold on its own would narrow it about sqrt(repeats)-fold (here 2).
    X = feature_table(n=100)
    y = binary_outcome(X)
    once, four_times = (_cv(X, y, repeats=repeats).metrics["auc"] for repeats in (1, 4))
    assert four_times.upper - four_times.lower > 0.75 * (once.upper - once.lower), (once, four_times)


def test_no_test_case_reaches_any_fitting_in_its_fold(monkeypatch):
    X = feature_table(n=60)
    y = binary_outcome(X)
    fits = spy_fits(monkeypatch, TableEncoder)
    cross_validate(BinaryModel(**FAST), X, y, folds=3, repeats=1, n_resamples=0)
    # Per outer fold: one encoder per inner fold and one for the refit on the whole training fold.
    assert len(fits) == 3 * (FAST["inner_folds"] + 1) and max(fits) == 40


def test_permutation_test_separates_signal_from_noise():
    X = feature_table(n=60, noise=3)
    y = binary_outcome(X)
    model = BinaryModel(**{**FAST, "param_grid": {"C": [1.0], "l1_ratio": [0.0]}})
    signal = permutation_test(model, X, y, n_permutations=19, folds=3)
    noise = permutation_test(model, X, np.random.default_rng(2).permutation(y), n_permutations=19, folds=3)
    assert signal["p_value"] == pytest.approx(0.05)  # the smallest possible with 19 shuffles
    assert noise["p_value"] > 0.2
