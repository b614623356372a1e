"""Train, validate and describe a model in one call: what ``responsepredictor train`` and the default
model's script run.

The order matters for honesty: the figures come from nested cross-validation of the whole
procedure, beside those of its references (tumor volume alone, clinical covariates alone, a plain
learner) on the same folds; the model that is saved is then fitted once on every case with the same
procedure, and so are the references, which ``evaluate`` scores beside it on new tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .model_card import CardInfo, build_card, render_markdown
from .models import BinaryModel, OutcomeModel, SurvivalModel
from .references import FittedReference, choose_references, fit_references
from .table import Outcome, feature_columns
from .validation import Validation, cross_validate, permutation_test

DEFAULT_LEARNER = {BinaryModel.kind: "ensemble", SurvivalModel.kind: "coxnet"}  # binary: chosen by benchmarks/bench_radmlbench_candidates.py


@dataclass
class TrainingResult:
    model: OutcomeModel
    validation: Validation
    card: dict[str, Any]
    references: list[FittedReference]

    @property
    def card_markdown(self) -> str:
        return render_markdown(self.card)


def make_model(kind: str, learner: str | None = None, horizon: float | None = None, **params: Any) -> OutcomeModel:
    """An unfitted model for this kind of outcome; ``params`` are the model's constructor parameters."""
    learner = learner or DEFAULT_LEARNER[kind]
    if kind == BinaryModel.kind:
        return BinaryModel(learner=learner, **params)
    return SurvivalModel(learner=learner, horizon=horizon, **params)


def train_model(
    table: pd.DataFrame,
    outcome: Outcome,
    *,
    model: OutcomeModel | None = None,
    exclude: Iterable[str] = (),
    folds: int = 5,
    repeats: int = 2,
    permutations: int = 0,
    n_resamples: int = 1000,
    n_jobs: int = 1,
    info: CardInfo | None = None,
    excluded_cases: list[dict[str, str]] | None = None,
    clinical: Iterable[str] | None = None,
) -> TrainingResult:
    """Validate ``model`` (default: the kind's default learner) by nested CV beside its references, then fit
    both on every case. ``clinical``: the clinical columns (default: every column not named as a radiomic
    feature), for the clinical reference."""
    X = table[feature_columns(table, outcome, exclude)]
    y = outcome.values(table)
    model = model or make_model(outcome.kind)
    # The centre column only harmonises the model's features: it is no reference's input.
    references = choose_references([column for column in X.columns if column != model.batch], model, clinical)
    validation = cross_validate(model, X, y, folds=folds, repeats=repeats, random_state=model.random_state,
                                n_resamples=n_resamples, n_jobs=n_jobs, references=references)
    if permutations:
        validation.permutation = permutation_test(model, X, y, n_permutations=permutations, folds=folds,
                                                  random_state=model.random_state, n_jobs=n_jobs)
    model.fit(X, y)
    card = build_card(info or CardInfo(), model, outcome, X, y, validation, excluded_cases)
    return TrainingResult(model, validation, card, fit_references(references, model, X, y))
