"""Performance measures of one set of predictions against known outcomes.

Binary: AUC, sensitivity and specificity at a threshold, Brier score, calibration curve.
Survival: Harrell's C-index, and at a horizon the cumulative/dynamic AUC and the Brier score, both
weighted by the inverse probability of censoring estimated on ``reference`` cases (the training
fold in cross-validation, as scikit-survival prescribes). Undefined values (a single class, a
horizon past the follow-up) are NaN, never an exception: a resampled fold may lack some cases.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from ..optional_packages import SCIKIT_SURVIVAL, needs

BINARY_METRICS = ("auc", "sensitivity", "specificity", "brier")
SURVIVAL_METRICS = ("c_index", "auc_at_horizon", "brier_at_horizon")


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney statistic; ties count one half)."""
    y = np.asarray(y, dtype=bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if not positives or not negatives:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def youden_threshold(y: np.ndarray, probability: np.ndarray) -> float:
    """The probability threshold (predict 1 at or above it) that maximises sensitivity + specificity."""
    from sklearn.metrics import roc_curve

    false_positive, true_positive, thresholds = roc_curve(y, probability)
    best = int(np.argmax(true_positive - false_positive))
    return float(min(thresholds[best], 1.0))


def binary_metrics(y: np.ndarray, probability: np.ndarray, threshold: float) -> dict[str, float]:
    y = np.asarray(y, dtype=bool)
    predicted = np.asarray(probability) >= threshold
    return {
        "auc": auc(y, probability),
        "sensitivity": float(predicted[y].mean()) if y.any() else float("nan"),
        "specificity": float((~predicted[~y]).mean()) if (~y).any() else float("nan"),
        "brier": float(np.mean((np.asarray(probability) - y) ** 2)) if len(y) else float("nan"),
    }


def calibration_curve(y: np.ndarray, probability: np.ndarray, bins: int = 5) -> list[dict[str, float]]:
    """Observed outcome rate against mean predicted probability in groups of equal size."""
    order = np.argsort(probability, kind="stable")
    return [
        {"predicted": float(np.mean(probability[group])), "observed": float(np.mean(y[group])), "cases": int(len(group))}
        for group in np.array_split(order, min(bins, len(order)))
        if len(group)
    ]


def concordance(y: np.ndarray, risk: np.ndarray, block: int = 1024) -> float:
    """Harrell's C-index: the fraction of comparable pairs whose earlier event has the higher risk.

    A pair is comparable when the case with the event has the shorter time, or the same time as a
    censored case; risks within 1e-8 count one half. This is scikit-survival's
    ``concordance_index_censored`` (the tests check that they agree) without its input checks, which
    cost more than the index itself when a fold is resampled a thousand times.
    """
    event, time, risk = np.asarray(y["event"], bool), np.asarray(y["time"], float), np.asarray(risk, float)
    concordant = comparable_pairs = 0.0
    for start in range(0, len(time), block):  # rows in blocks: memory stays linear in the cases
        rows = slice(start, start + block)
        later = (time[None, :] > time[rows, None]) | ((time[None, :] == time[rows, None]) & ~event[None, :])
        comparable = event[rows, None] & later
        difference = risk[rows, None] - risk[None, :]
        score = np.where(np.abs(difference) <= 1e-8, 0.5, difference > 0)
        concordant += float(score[comparable].sum())
        comparable_pairs += float(comparable.sum())
    return concordant / comparable_pairs if comparable_pairs else float("nan")


def censoring_survival(reference: np.ndarray, y: np.ndarray, horizon: float) -> np.ndarray:
    """G(min(time, horizon)) for each case of ``y``: the probability of remaining uncensored that far,
    Kaplan-Meier on the ``reference`` cases (scikit-survival's estimator). The inverse probability of
    censoring weights of ``survival_metrics`` are its reciprocals."""
    with needs(SCIKIT_SURVIVAL, "Evaluating a survival model"):
        from sksurv.nonparametric import CensoringDistributionEstimator

    estimator = CensoringDistributionEstimator().fit(reference)
    return estimator.predict_proba(np.minimum(y["time"], min(horizon, float(reference["time"].max()))))


def survival_metrics(y: np.ndarray, score: np.ndarray, event_probability: np.ndarray, horizon: float,
                     censoring: np.ndarray) -> dict[str, float]:
    """C-index of ``score``; AUC of ``event_probability`` and its Brier score at ``horizon``.

    The AUC is the cumulative/dynamic one (cases: event by the horizon, weighted 1/G(time); controls:
    event-free past it) and the Brier score the inverse-probability-of-censoring weighted one, as
    scikit-survival's ``cumulative_dynamic_auc`` and ``brier_score`` define them (the tests check
    that they agree); written out here so that resampling a fold reuses ``censoring`` =
    ``censoring_survival(...)`` instead of refitting it thousands of times.
    """
    results = {"c_index": concordance(y, score), "auc_at_horizon": float("nan"), "brier_at_horizon": float("nan")}
    cases, controls = (y["time"] <= horizon) & y["event"], y["time"] > horizon
    if cases.any() and controls.any() and np.all(censoring[cases | controls] > 0):
        weights = 1.0 / censoring
        risk_cases, risk_controls = event_probability[cases][:, None], event_probability[controls][None, :]
        pairs = (risk_cases > risk_controls) + 0.5 * (risk_cases == risk_controls)
        results["auc_at_horizon"] = float(np.sum(weights[cases] @ pairs) / (np.sum(weights[cases]) * controls.sum()))
        squared = np.where(cases, (1 - event_probability) ** 2, 0.0) + np.where(controls, event_probability ** 2, 0.0)
        results["brier_at_horizon"] = float(np.mean(squared * np.where(cases | controls, weights, 0.0)))
    return results


def survival_calibration(y: np.ndarray, survival: np.ndarray, horizon: float, bins: int = 3) -> list[dict[str, Any]]:
    """Kaplan-Meier survival at ``horizon`` against mean predicted survival, in groups of equal size."""
    with needs(SCIKIT_SURVIVAL, "Survival calibration"):
        from sksurv.nonparametric import kaplan_meier_estimator

    order = np.argsort(survival, kind="stable")
    curve = []
    for group in np.array_split(order, min(bins, len(order))):
        times, estimate = kaplan_meier_estimator(y["event"][group], y["time"][group])
        index = np.searchsorted(times, horizon, side="right") - 1
        observed = float(estimate[index]) if index >= 0 else 1.0
        curve.append({"predicted": float(np.mean(survival[group])), "observed": observed, "cases": int(len(group))})
    return curve
