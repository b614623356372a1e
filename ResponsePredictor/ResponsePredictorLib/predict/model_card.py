"""Model cards: what a model is for, what it was trained on, how well it did, and its limits.

The card is data (saved in model.json) and Markdown (model_card.md). Facts the software knows are
filled in from the training run; what only a person can say (intended use, where the data came
from and under which license, how the outcome was defined) comes in through ``CardInfo``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .models import BinaryModel, OutcomeModel
from .pipeline import BASELINE
from .table import Outcome
from .validation import LABELS, PRIMARY_METRIC, Comparison, Estimate, Validation

RESEARCH_ONLY = "Research use only: not a medical device and not for clinical decisions."
LIMITATIONS = (
    "Validated only by cross-validation within the training cohort; performance on patients from other "
    "hospitals, scanners or protocols is unknown until measured on them (use `responsepredictor evaluate`).",
    "Confidence intervals reflect the number of test cases, not the variation between cohorts.",
    "Per-patient intervals come from bootstrap refits with the hyper-parameters fixed; they show how much a "
    "prediction depends on the particular training cases, not every source of error.",
    "Feature contributions explain the model, not the disease: they are associations in the training cohort.",
)


@dataclass
class CardInfo:
    """What the person training the model states about it."""

    name: str = "ResponsePredictor model"
    intended_use: str = RESEARCH_ONLY
    data: str = "Not described."
    outcome_definition: str = "Not described."
    notes: list[str] = field(default_factory=list)


def build_card(info: CardInfo, model: OutcomeModel, outcome: Outcome, X: pd.DataFrame, y: np.ndarray,
               validation: Validation, excluded: list[dict[str, str]] | None = None, top: int = 10) -> dict[str, Any]:
    """The card's content for a model fitted on ``X``, ``y`` and validated by ``validation``."""
    if isinstance(model, BinaryModel):
        cohort = {"cases": len(y), "positives": int(np.sum(y)), "negatives": int(len(y) - np.sum(y))}
        settings = {"threshold": model.threshold_}
    else:
        cohort = {"cases": len(y), "events": int(y["event"].sum()), "censored": int((~y["event"]).sum()),
                  "median_time": float(np.median(y["time"]))}
        settings = {"horizon": model.horizon_}
    shares = model.contributions(X).drop(columns=BASELINE).abs().mean().sort_values(ascending=False)
    return {
        "name": info.name,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "intended_use": info.intended_use,
        "data": {"description": info.data, **cohort, "feature_columns": X.shape[1], "excluded_cases": excluded or []},
        "outcome": {**outcome.to_dict(), "definition": info.outcome_definition},
        "model": {
            "kind": model.kind, "learner": model.learner, "chosen_settings": model.tuning_.best_params,
            "inner_cv_scores": model.tuning_.scores, "correlation_threshold": model.correlation_threshold,
            "columns_after_filtering": len(model.pipeline_.head.filter.kept_), "bootstrap_refits": len(model.replicates_),
            "random_state": model.random_state, **settings,
            "harmonisation": None if model.batch is None else {
                "method": "ComBat (parametric empirical Bayes), fitted in every training fold", "column": model.batch,
                "centres": {str(name): int(count) for name, count in X[model.batch].astype(str).value_counts().sort_index().items()}},
            "mean_absolute_contribution": {name: float(value) for name, value in shares.head(top).items() if value > 0},
        },
        "validation": validation.to_dict(),
        "limitations": list(LIMITATIONS) + list(info.notes),
    }


def render_markdown(card: dict[str, Any]) -> str:
    data, model, validation = card["data"], card["model"], card["validation"]
    cohort = ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in data.items()
                       if name in ("cases", "positives", "negatives", "events", "censored", "median_time"))
    lines = [
        f"# Model card: {card['name']}", "", f"Created {card['created']}.", "",
        "## Intended use", "", card["intended_use"], "",
        "## Training data", "", data["description"], "", f"Cohort: {cohort}; {data['feature_columns']} feature columns.",
    ]
    if data["excluded_cases"]:
        lines += ["", f"Excluded cases ({len(data['excluded_cases'])}), with the reason:"]
        lines += [f"- {case['case']}: {case['reason']}" for case in data["excluded_cases"]]
    outcome = card["outcome"]
    columns = f"column `{outcome['column']}`" if outcome["kind"] == "binary" else f"time `{outcome['time']}`, event `{outcome['event']}`"
    lines += ["", "## Outcome", "", f"{outcome['kind']} ({columns}). {outcome['definition']}", ""]
    lines += [
        "## Model", "",
        f"Learner `{model['learner']}` with settings {model['chosen_settings']} chosen by inner cross-validation; "
        f"features correlated above {model['correlation_threshold']} (Spearman) dropped, "
        f"{model['columns_after_filtering']} columns left; {model['bootstrap_refits']} bootstrap refits for the per-patient "
        f"intervals; random seed {model['random_state']}."
        + (f" Decision threshold {model['threshold']:.3f} (Youden, inner cross-validation)." if "threshold" in model else "")
        + (f" Horizon {model['horizon']:g} (time unit of the training table)." if "horizon" in model else "")
        + _harmonisation(model.get("harmonisation")),
        "", "Largest mean absolute contributions in the training cohort:", "",
    ]
    lines += [f"- `{name}`: {value:.3g}" for name, value in model["mean_absolute_contribution"].items()]
    settings = validation["settings"]
    lines += ["", "## Validation", "", _describe(settings), "", "| metric | estimate | 95% CI |", "|---|---|---|"]
    for name, estimate in validation["metrics"].items():
        lines.append(f"| {LABELS[name]} | {estimate['value']:.3f} | {estimate['lower']:.3f}-{estimate['upper']:.3f} |")
    lines += _references(validation)
    if validation.get("permutation"):
        permutation = validation["permutation"]
        lines += ["", f"Permutation test: p = {permutation['p_value']:.3g} over {permutation['permutations']} shuffles of the "
                  f"outcome (mean {LABELS[permutation['metric']]} under shuffling {permutation['null_mean']:.3f})."]
    quantity = "probability of the outcome" if validation["kind"] == "binary" else "survival at the horizon (Kaplan-Meier observed)"
    lines += ["", f"Calibration of the {quantity}: pooled out-of-fold predictions in groups of equal size.", "",
              "| mean predicted | observed | cases |", "|---|---|---|"]
    lines += [f"| {row['predicted']:.3f} | {row['observed']:.3f} | {row['cases']} |" for row in validation["calibration"]]
    lines += ["", "## Limitations", ""] + [f"- {item}" for item in card["limitations"]]
    return "\n".join(lines) + "\n"


def _harmonisation(harmonisation: dict[str, Any] | None) -> str:
    if not harmonisation:
        return ""
    centres = ", ".join(f"{name} ({count} cases)" for name, count in harmonisation["centres"].items())
    return (f" Radiomic features harmonised across the centres of column `{harmonisation['column']}` by "
            f"{harmonisation['method']}: {centres}; a new case needs one of these centres.")


def _references(validation: dict[str, Any]) -> list[str]:
    """The references' figures and the model's paired difference against each, then one verdict line each."""
    comparisons = validation.get("references") or []
    if not comparisons:
        return []
    compared = list(comparisons[0]["differences"])
    lines = ["", "The same folds and patients for the references (fitted in each training fold as the model was); "
             "the difference is the model's minus the reference's, its interval from the same resamplings of the patients.",
             "", "| reference | columns | " + " | ".join(f"{LABELS[name]} | difference" for name in compared) + " |",
             "|---|---|" + "---|---|" * len(compared)]
    for comparison in comparisons:
        cells = []
        for name in compared:
            own, difference = comparison["metrics"][name], comparison["differences"][name]
            cells += [f"{own['value']:.3f} ({own['lower']:.3f}-{own['upper']:.3f})",
                      Estimate.from_dict(difference).signed()]
        columns = comparison["columns"]
        shown = f"`{columns[0]}`" if len(columns) == 1 else f"{len(columns)} columns"
        lines.append(f"| {comparison['label']} | {shown} | " + " | ".join(cells) + " |")
    metric = PRIMARY_METRIC[validation["kind"]]
    value = validation["metrics"][metric]["value"]
    lines.append("")
    lines += [Comparison.from_dict(comparison).sentence(metric, value) for comparison in comparisons]
    return lines


def _describe(settings: dict[str, Any]) -> str:
    if settings["method"] != "nested cross-validation":
        return f"{settings['method'].capitalize()} on {settings['cases']} cases."
    text = (f"Nested cross-validation: {settings['repeats']} x {settings['outer_folds']}-fold stratified outer folds, "
            f"{settings['inner_folds']}-fold inner folds for the hyper-parameters (and a binary model's threshold), seed "
            f"{settings['random_state']}; "
            f"each figure is the mean over the test folds, its interval the 2.5th-97.5th percentiles over "
            f"{settings['resamples']} resamplings of the patients (a patient drawn twice counts twice in every repeat).")
    if "horizon" in settings:
        text += f" Horizon for AUC and Brier score: {settings['horizon']:g}."
    return text
