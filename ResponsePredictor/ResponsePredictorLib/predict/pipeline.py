"""One fitted chain from table to prediction: [``ComBat``] -> ``TableEncoder`` -> ``FeatureFilter`` -> a learner.

A ``Head`` is the filter and the learner, working on the encoder's matrix; a ``FittedPipeline`` is an
encoder with its head, after ComBat harmonisation across centres when the model asks for it.
``fit_pipeline`` fits the whole chain and sees only the rows it is given: cross-validation hands it
a training fold, never the whole table (inner folds included). A model's bootstrap refits are heads
that share the model's harmonisation and encoder (only their fitted numbers would differ).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..prediction_text import BASELINE
from .harmonisation import ComBat
from .learners import LEARNERS, Learner
from .preprocessing import FeatureFilter, TableEncoder


@dataclass
class Head:
    filter: FeatureFilter
    learner: Learner

    def decision_function(self, encoded: np.ndarray) -> np.ndarray:
        return self.learner.decision_function(self.filter.transform(encoded))

    def survival_function(self, encoded: np.ndarray, times: np.ndarray) -> np.ndarray:
        return self.learner.survival_function(self.filter.transform(encoded), times)  # type: ignore[attr-defined]

    def to_state(self) -> dict[str, Any]:
        return {"filter": self.filter.to_state(), "learner": {"name": self.learner.name, **self.learner.to_state()}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Head:
        learner_state = dict(state["learner"])
        name = learner_state.pop("name")
        if name not in LEARNERS:
            raise ValueError(f"unknown learner {name!r}")
        return cls(FeatureFilter.from_state(state["filter"]), LEARNERS[name].from_state(learner_state))


def fit_head(encoded: np.ndarray, y: np.ndarray, learner: Learner, correlation_threshold: float) -> Head:
    """Fit the filter and a clone of ``learner`` on these rows of the encoded matrix."""
    feature_filter = FeatureFilter(correlation_threshold, scaling=learner.scaling).fit(encoded)
    return Head(feature_filter, clone(learner).fit(feature_filter.transform(encoded), y))


@dataclass
class FittedPipeline:
    encoder: TableEncoder
    head: Head
    harmoniser: ComBat | None = None

    def encoded(self, X: pd.DataFrame) -> np.ndarray:
        """The table harmonised (when the model harmonises) and encoded: what every head reads."""
        return self.encoder.transform(X if self.harmoniser is None else self.harmoniser.transform(X))

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        """What the learner sees: the table encoded, filtered and standardised."""
        return self.head.filter.transform(self.encoded(X))

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self.head.decision_function(self.encoded(X))

    def survival_function(self, X: pd.DataFrame, times: np.ndarray) -> np.ndarray:
        return self.head.survival_function(self.encoded(X), times)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each input column's share of the decision value per case, plus the baseline column.

        One-hot columns of a text feature add up to that feature; a column dropped as constant or as
        correlated with an earlier one gets 0 (the column kept in its place carries the share).
        """
        shares = self.head.learner.contributions(self.matrix(X))
        columns = self.encoder.sources_[self.head.filter.kept_]
        per_input = np.zeros((len(X), len(self.encoder.columns_)))
        np.add.at(per_input, (slice(None), columns), shares[:, :-1])
        table = pd.DataFrame(per_input, index=X.index, columns=self.encoder.columns_)
        table[BASELINE] = shares[:, -1]
        return table

    def check_head(self, head: Head) -> None:
        """Raise ValueError when ``head`` reads columns this encoder does not produce."""
        if len(head.filter.kept_) and head.filter.kept_.max() >= len(self.encoder.feature_names_out_):
            raise ValueError("a filter keeps columns the encoder does not produce")

    def to_state(self) -> dict[str, Any]:
        state = {"encoder": self.encoder.to_state(), "head": self.head.to_state()}
        return state if self.harmoniser is None else {**state, "harmoniser": self.harmoniser.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FittedPipeline:
        harmoniser = ComBat.from_state(state["harmoniser"]) if "harmoniser" in state else None
        pipeline = cls(TableEncoder.from_state(state["encoder"]), Head.from_state(state["head"]), harmoniser)
        pipeline.check_head(pipeline.head)
        return pipeline


def fit_pipeline(X: pd.DataFrame, y: np.ndarray, learner: Learner, correlation_threshold: float,
                 batch: str | None = None) -> FittedPipeline:
    """Fit the whole chain on these rows only; ``learner`` is cloned, never modified. ``batch``: the column
    naming each case's centre, to harmonise the radiomic features across centres (ComBat) first."""
    harmoniser = None if batch is None else ComBat(batch).fit(X)
    table = X if harmoniser is None else harmoniser.transform(X)
    encoder = TableEncoder().fit(table)
    return FittedPipeline(encoder, fit_head(encoder.transform(table), y, learner, correlation_threshold), harmoniser)
