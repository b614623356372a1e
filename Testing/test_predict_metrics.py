"""Our metrics agree with scikit-learn's and scikit-survival's reference implementations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sksurv.metrics import brier_score, concordance_index_censored, cumulative_dynamic_auc

from ResponsePredictorLib.predict import metrics
from ResponsePredictorLib.predict.table import SURVIVAL_DTYPE


def test_auc_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    score = np.round(rng.normal(size=200) + y, 1)  # rounded: many ties
    assert metrics.auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert np.isnan(metrics.auc(np.ones(5), np.arange(5)))


def test_binary_metrics_at_a_threshold():
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    probability = np.array([0.9, 0.6, 0.2, 0.7, 0.3, 0.1, 0.1])
    result = metrics.binary_metrics(y, probability, threshold=0.5)
    assert result["sensitivity"] == pytest.approx(2 / 3) and result["specificity"] == pytest.approx(3 / 4)
    assert result["brier"] == pytest.approx(np.mean((probability - y) ** 2))
    assert 0.1 <= metrics.youden_threshold(y, probability) <= 0.9


@pytest.mark.filterwarnings("error")
def test_binary_metrics_of_no_cases_are_nan_without_warnings():
    # Resampling the patients can leave a test fold with none of its own: its metrics drop out as NaN.
    result = metrics.binary_metrics(np.array([], dtype=int), np.array([]), threshold=0.5)
    assert all(np.isnan(value) for value in result.values()), result


def _survival(rng: np.random.Generator, n: int) -> np.ndarray:
    event_time, censor_time = rng.exponential(100, n).round() + 1, rng.exponential(150, n).round() + 1
    y = np.empty(n, dtype=SURVIVAL_DTYPE)
    y["event"], y["time"] = event_time <= censor_time, np.minimum(event_time, censor_time)
    return y


@pytest.mark.parametrize("seed", range(4))
def test_survival_metrics_match_scikit_survival(seed):
    rng = np.random.default_rng(seed)
    reference, test = _survival(rng, 60), _survival(rng, 40)
    test = test[test["time"] < reference["time"].max()]  # scikit-survival's own requirement
    probability = rng.random(len(test)).round(1)
    score = rng.normal(size=len(test))
    horizon = float(np.median(reference["time"]))
    result = metrics.survival_metrics(test, score, probability, horizon, metrics.censoring_survival(reference, test, horizon))
    assert result["c_index"] == pytest.approx(concordance_index_censored(test["event"], test["time"], score)[0])
    assert result["auc_at_horizon"] == pytest.approx(cumulative_dynamic_auc(reference, test, probability, [horizon])[0][0], abs=1e-12)
    assert result["brier_at_horizon"] == pytest.approx(brier_score(reference, test, (1 - probability)[:, None], [horizon])[1][0], abs=1e-12)


def test_concordance_matches_scikit_survival_with_tied_times_and_risks():
    rng = np.random.default_rng(7)
    y = _survival(rng, 300)
    y["time"] = np.round(y["time"] / 20)  # many tied times, events and censored among them
    risk = np.round(rng.normal(size=300), 1)  # many tied risks
    expected = concordance_index_censored(y["event"], y["time"], risk)[0]
    assert metrics.concordance(y, risk) == pytest.approx(expected, abs=1e-12)
    assert metrics.concordance(y, risk, block=7) == pytest.approx(expected, abs=1e-12)
    assert np.isnan(metrics.concordance(y[~y["event"]], risk[~y["event"]]))


def test_undefined_survival_metrics_are_nan():
    rng = np.random.default_rng(0)
    y = _survival(rng, 30)
    horizon = float(y["time"].max()) + 10  # nobody is a control past the end of follow-up
    result = metrics.survival_metrics(y, rng.normal(size=30), rng.random(30), horizon, metrics.censoring_survival(y, y, horizon))
    assert np.isnan(result["auc_at_horizon"]) and np.isnan(result["brier_at_horizon"]) and not np.isnan(result["c_index"])
