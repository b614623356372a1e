"""Honest estimates of how a model will do on new patients.

``cross_validate``: repeated stratified K-fold; in every outer training fold the whole model is
fitted from scratch (inner cross-validation for its hyper-parameters and threshold, preprocessing
included, see ``models``), then predicts the outer test fold it never saw. ``evaluate``: a fitted
model on a held-out table with known outcomes. ``permutation_test``: the same cross-validation with
the outcomes shuffled, to show what chance alone gives.

Each figure is the mean over test folds (over repeats too) of the metric computed in that fold, with
a percentile interval from resampling the patients with replacement (within class, or within
event/censored) and recomputing every fold's metric on its resampled cases. A patient drawn twice
counts twice in every fold that tested it, in every repeat: the repeats test the same patients
again, not new ones, and resampling each fold on its own would narrow the interval about
sqrt(repeats)-fold. The interval reflects the uncertainty from the limited number of patients, not
the variation between models fitted to other training sets, so it is a lower bound on the
uncertainty of a new model fitted to a new cohort.

Beside the model, its references (``references``: tumor volume alone, clinical covariates alone, a
plain learner) are fitted on the same training folds and scored on the same test folds; the paired
difference of the model against each is resampled with the same draws of patients, so its interval
reflects the two being measured on the same patients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import RepeatedStratifiedKFold

from . import metrics
from .models import BinaryModel, OutcomeModel, SurvivalModel, fold_strata, outcome_strata, stratified_bootstrap
from .references import FittedReference, Reference

PRIMARY_METRIC = {"binary": "auc", "survival": "c_index"}
# The discrimination measures a model is compared with its references on.
COMPARED_METRICS = {"binary": ("auc",), "survival": ("c_index", "auc_at_horizon")}
LABELS = {
    "auc": "AUC", "sensitivity": "sensitivity", "specificity": "specificity", "brier": "Brier score",
    "c_index": "C-index", "auc_at_horizon": "AUC at horizon", "brier_at_horizon": "Brier score at horizon",
}


@dataclass(frozen=True)
class Estimate:
    value: float
    lower: float
    upper: float

    def __str__(self) -> str:
        if np.isnan(self.lower):
            return f"{self.value:.3f}"
        return f"{self.value:.3f} (95% CI {self.lower:.3f}-{self.upper:.3f})"

    def signed(self) -> str:
        """A difference as tables show it: ``+0.012 (-0.020 to +0.044)``."""
        return f"{self.value:+.3f} ({self.lower:+.3f} to {self.upper:+.3f})"

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "lower": self.lower, "upper": self.upper}

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> Estimate:
        return cls(values["value"], values["lower"], values["upper"])


@dataclass(frozen=True)
class Comparison:
    """The model against one reference on the same test folds and patients."""

    reference: Reference
    metrics: dict[str, Estimate]  # the reference's own figures
    differences: dict[str, Estimate]  # model minus reference, per compared metric, resampled in pairs

    def verdict(self, metric: str) -> str:
        """'better' (the difference's interval lies above 0), 'worse' (below 0) or 'not shown better'."""
        difference = self.differences[metric]
        if difference.lower > 0:
            return "better"
        if difference.upper < 0:
            return "worse"
        return "not shown better"

    def sentence(self, metric: str, model_value: float) -> str:
        """One line: how the model compares with this reference on ``metric``."""
        words = {"better": "better than", "worse": "worse than", "not shown better": "not shown to be better than"}
        difference = self.differences[metric]
        return (f"The model is {words[self.verdict(metric)]} {self.reference.label}: {LABELS[metric]} {model_value:.3f} "
                f"vs {self.metrics[metric].value:.3f}, difference {difference.value:+.3f} (95% CI {difference.lower:+.3f} "
                f"to {difference.upper:+.3f}).")

    def to_dict(self) -> dict[str, Any]:
        return {**self.reference.to_dict(), "metrics": {name: e.to_dict() for name, e in self.metrics.items()},
                "differences": {name: e.to_dict() for name, e in self.differences.items()}}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Comparison:
        def estimates(section: str) -> dict[str, Estimate]:
            return {name: Estimate.from_dict(estimate) for name, estimate in values[section].items()}

        return cls(Reference(values["name"], tuple(values["columns"])), estimates("metrics"), estimates("differences"))


@dataclass(frozen=True)
class TestFold:
    """One set of predictions for cases the model did not see, with what is needed to score them."""

    y: np.ndarray
    outputs: pd.DataFrame
    cases: np.ndarray  # the rows of these cases in the validated table
    threshold: float = 0.5  # binary
    horizon: float = float("nan")  # survival
    censoring: np.ndarray | None = None  # survival: metrics.censoring_survival of these cases


def _test_fold(model: OutcomeModel, y: np.ndarray, outputs: pd.DataFrame, cases: np.ndarray, reference: np.ndarray) -> TestFold:
    """Predictions of a fitted model for the table's rows ``cases`` with its threshold, or its horizon and the
    censoring distribution estimated on ``reference`` (the training fold; for held-out data the test cases themselves)."""
    if isinstance(model, BinaryModel):
        return TestFold(y, outputs, cases, threshold=model.threshold_)
    return TestFold(y, outputs, cases, horizon=model.horizon_, censoring=metrics.censoring_survival(reference, y, model.horizon_))


@dataclass
class Validation:
    """Metrics with intervals, calibration, out-of-fold predictions and the settings that made them."""

    kind: str
    metrics: dict[str, Estimate]
    calibration: list[dict[str, Any]]
    settings: dict[str, Any]
    predictions: pd.DataFrame
    fold_metrics: list[dict[str, float]] = field(default_factory=list)
    permutation: dict[str, Any] | None = None
    comparisons: list[Comparison] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{LABELS[name]:>24}: {estimate}" for name, estimate in self.metrics.items()]
        if self.permutation:
            lines.append(f"{'permutation test':>24}: p = {self.permutation['p_value']:.3g} "
                         f"({self.permutation['permutations']} shuffles of the outcome)")
        for comparison in self.comparisons:
            figures = ", ".join(f"{LABELS[name]} {comparison.metrics[name]}" for name in comparison.differences)
            lines.append(f"{'reference':>24}: {comparison.reference.label}: {figures}")
        return "\n".join(lines + self.verdicts())

    def verdicts(self) -> list[str]:
        """One line per reference on the primary metric: better, worse, or not shown to be better."""
        metric = PRIMARY_METRIC[self.kind]
        return [comparison.sentence(metric, self.metrics[metric].value) for comparison in self.comparisons]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "settings": self.settings,
            "metrics": {name: estimate.to_dict() for name, estimate in self.metrics.items()},
            "calibration": self.calibration, "permutation": self.permutation,
            "references": [comparison.to_dict() for comparison in self.comparisons],
        }


def cross_validate(
    model: OutcomeModel,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    folds: int = 5,
    repeats: int = 2,
    random_state: int = 0,
    n_resamples: int = 1000,
    n_jobs: int = 1,
    references: Sequence[Reference] = (),
    columns: Sequence[str] | None = None,
) -> Validation:
    """Nested cross-validation of ``model`` (which is cloned; bootstrap refits are skipped) on ``columns`` of
    ``X`` (default: all), and of each of ``references`` on its own columns of ``X``, on the same folds."""
    from joblib import Parallel, delayed

    model = _for_validation(model, y)
    own = list(X.columns) if columns is None else list(columns)
    predictors = [(model, own)] + [(ref.model_for(model), list(ref.columns)) for ref in references]
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=random_state)
    splits = list(splitter.split(X, fold_strata(X, y, model.batch)))
    # max_nbytes=None: workers get copies, not memory-mapped temporary files left to clean up at exit.
    fitted = Parallel(n_jobs=n_jobs, max_nbytes=None)(
        delayed(_fit_fold)(predictor, X[used], y, train, test) for predictor, used in predictors for train, test in splits
    )
    fold_sets = [
        [_test_fold(fold_model, y[test], outputs, test, y[train])
         for (train, test), (fold_model, outputs) in zip(splits, fitted[index * len(splits):(index + 1) * len(splits)])]
        for index in range(len(predictors))
    ]
    predictions = pd.concat([fold.outputs for fold in fold_sets[0]]).groupby(level=0, sort=False).mean().reindex(X.index)
    settings = {"method": "nested cross-validation", "outer_folds": folds, "repeats": repeats,
                "inner_folds": model.inner_folds, "random_state": random_state, "resamples": n_resamples,
                "cases": len(X)}
    return _validation(model, y, fold_sets, list(references), predictions, settings, n_resamples, random_state)


def evaluate(model: OutcomeModel, X: pd.DataFrame, y: np.ndarray, *, n_resamples: int = 1000,
             random_state: int = 0, level: float = 0.95, references: Sequence[FittedReference] = ()) -> Validation:
    """A fitted model on held-out cases with known outcomes (censoring weights from these cases), beside
    ``references`` fitted on the model's training table."""
    cases = np.arange(len(y))
    outputs = model.outputs(X, level)
    fold_sets = [[_test_fold(model, y, outputs, cases, y)]]
    fold_sets += [[_test_fold(fitted.model, y, fitted.outputs(X), cases, y)] for fitted in references]
    settings = {"method": "held-out evaluation", "cases": len(X), "resamples": n_resamples}
    return _validation(model, y, fold_sets, [fitted.reference for fitted in references], outputs, settings,
                       n_resamples, random_state)


def permutation_test(model: OutcomeModel, X: pd.DataFrame, y: np.ndarray, *, n_permutations: int = 100,
                     folds: int = 5, random_state: int = 0, n_jobs: int = 1) -> dict[str, Any]:
    """p-value of the cross-validated AUC (or C-index) against shuffled outcomes (Ojala & Garriga 2010).

    Each shuffle reruns the whole nested cross-validation (one repeat), so the p-value accounts for
    everything the model learns, tuning included.
    """
    metric = PRIMARY_METRIC[model.kind]

    def score(outcome: np.ndarray) -> float:
        result = cross_validate(model, X, outcome, folds=folds, repeats=1, random_state=random_state, n_resamples=0, n_jobs=n_jobs)
        return result.metrics[metric].value

    rng = np.random.default_rng(random_state)
    observed = score(y)
    null = np.array([score(y[rng.permutation(len(y))]) for _ in range(n_permutations)])
    return {
        "metric": metric, "observed": observed, "permutations": n_permutations,
        "p_value": float((1 + np.sum(null >= observed)) / (1 + n_permutations)),
        "null_mean": float(np.mean(null)), "null_95th_percentile": float(np.percentile(null, 95)),
    }


def _for_validation(model: OutcomeModel, y: np.ndarray) -> OutcomeModel:
    model = clone(model).set_params(n_bootstrap=0)
    if isinstance(model, SurvivalModel) and model.horizon is None:
        # One horizon for every fold, so that fold metrics at the horizon can be averaged.
        model.set_params(horizon=float(np.median(y["time"])))
    return model


def _fit_fold(model: OutcomeModel, X: pd.DataFrame, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> tuple[OutcomeModel, pd.DataFrame]:
    fitted = clone(model).fit(X.iloc[train], y[train])
    return fitted, fitted.outputs(X.iloc[test])


def _fold_metrics(kind: str, fold: TestFold, rows: np.ndarray | None = None) -> dict[str, float]:
    rows = np.arange(len(fold.y)) if rows is None else rows

    def column(name: str) -> np.ndarray:
        return fold.outputs[name].to_numpy()[rows]

    if kind == BinaryModel.kind:
        return metrics.binary_metrics(fold.y[rows], column("probability"), fold.threshold)
    return metrics.survival_metrics(fold.y[rows], column("score"), column("risk"), fold.horizon, fold.censoring[rows])


def _validation(model: OutcomeModel, y: np.ndarray, fold_sets: list[list[TestFold]], references: list[Reference],
                predictions: pd.DataFrame, settings: dict[str, Any], n_resamples: int, random_state: int) -> Validation:
    """``fold_sets``: the model's test folds, then each reference's on the same cases; ``y``: the outcomes
    of the whole validated table, whose rows the folds' ``cases`` name."""
    kind = model.kind
    names = metrics.BINARY_METRICS if kind == BinaryModel.kind else metrics.SURVIVAL_METRICS
    per_fold = [[_fold_metrics(kind, fold) for fold in folds] for folds in fold_sets]
    point = np.array([[np.nanmean([fold[name] for fold in folds]) for name in names] for folds in per_fold])
    resampled = np.full((1, *point.shape), np.nan)
    if n_resamples:
        resampled = _resample(kind, fold_sets, outcome_strata(y), names, n_resamples, np.random.default_rng(random_state))

    def estimates(values: np.ndarray, draws: np.ndarray, wanted: tuple[str, ...] = names) -> dict[str, Estimate]:
        lower, upper = np.nanpercentile(draws, [2.5, 97.5], axis=0) if n_resamples else (draws[0], draws[0])
        return {name: Estimate(float(values[i]), float(lower[i]), float(upper[i])) for i, name in enumerate(names) if name in wanted}

    compared = COMPARED_METRICS[kind]
    comparisons = [
        Comparison(reference, estimates(point[index], resampled[:, index]),
                   estimates(point[0] - point[index], resampled[:, 0] - resampled[:, index], compared))
        for index, reference in enumerate(references, start=1)
    ]
    if kind == SurvivalModel.kind:
        settings = {**settings, "horizon": fold_sets[0][0].horizon}
    return Validation(kind, estimates(point[0], resampled[:, 0]), _calibration(kind, fold_sets[0]), settings, predictions,
                      per_fold[0], comparisons=comparisons)


def _resample(kind: str, fold_sets: list[list[TestFold]], strata: np.ndarray, names: tuple[str, ...], n_resamples: int,
              rng: np.random.Generator) -> np.ndarray:
    """The fold-averaged metrics of each set of folds over ``n_resamples`` resamplings of the patients
    (``strata``: each row's stratum), every fold scored on its own patients as often as they were drawn,
    the same draws for every set; shape (resamples, sets, metrics)."""
    resampled = np.empty((n_resamples, len(fold_sets), len(names)))
    for draw in range(n_resamples):
        drawn = np.bincount(stratified_bootstrap(strata, rng), minlength=len(strata))
        for index, folds in enumerate(fold_sets):
            per_fold = [_fold_metrics(kind, fold, np.repeat(np.arange(len(fold.y)), drawn[fold.cases])) for fold in folds]
            resampled[draw, index] = [np.nanmean([fold[name] for fold in per_fold]) for name in names]
    return resampled


def _calibration(kind: str, test_folds: list[TestFold]) -> list[dict[str, Any]]:
    """Calibration of all out-of-fold predictions pooled (each case once per repeat)."""
    y = np.concatenate([fold.y for fold in test_folds])
    outputs = pd.concat([fold.outputs for fold in test_folds])
    bins = 5 if len(y) < 500 else 10
    if kind == BinaryModel.kind:
        return metrics.calibration_curve(y, outputs["probability"].to_numpy(), bins)
    return metrics.survival_calibration(y, outputs["survival"].to_numpy(), test_folds[0].horizon, bins)
