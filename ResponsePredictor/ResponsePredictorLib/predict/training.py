"""Train, validate and describe a model in one call: what ``responsepredictor train`` and the default
model's script run.

The order matters for honesty: the figures come from nested cross-validation of the whole
procedure, beside those of its references (tumor volume alone, clinical covariates alone, a plain
learner) on the same folds; the model that is saved is then fitted once on every case with the same
procedure, and so are the references, which ``evaluate`` scores beside it on new tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import TableError
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
    columns: Sequence[str] | None = None,
) -> TrainingResult:
    """Validate ``model`` (default: the kind's default learner) by nested CV beside its references, then fit
    both on every case. ``clinical``: the clinical columns (default: every column not named as a radiomic
    feature), for the clinical reference. ``columns``: the model's inputs among the table's features
    (default: all of them); the others then serve the references only (e.g. the clinical covariates
    beside a model on tumor volume alone)."""
    X = table[feature_columns(table, outcome, exclude)]
    y = outcome.values(table)
    model = model or make_model(outcome.kind)
    own = list(X.columns) if columns is None else list(columns)
    unknown = [column for column in own if column not in X.columns]
    if unknown:
        raise TableError(f"The model's columns must be features of the table; not: {', '.join(unknown)}.")
    # The centre column only harmonises the model's features, and a constant column says nothing: neither
    # is a reference's input.
    informative = [column for column in X.columns if column != model.batch and X[column].nunique(dropna=True) > 1]
    references = choose_references(informative, model, clinical, own=[c for c in own if c in informative])
    validation = cross_validate(model, X, y, folds=folds, repeats=repeats, random_state=model.random_state,
                                n_resamples=n_resamples, n_jobs=n_jobs, references=references, columns=own)
    if permutations:
        validation.permutation = permutation_test(model, X[own], y, n_permutations=permutations, folds=folds,
                                                  random_state=model.random_state, n_jobs=n_jobs)
    model.fit(X[own], y)
    card = build_card(info or CardInfo(), model, outcome, X[own], y, validation, excluded_cases)
    return TrainingResult(model, validation, card, fit_references(references, model, X, y))
