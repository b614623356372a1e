"""ComBat harmonisation of radiomic features across centres or scanners, fitted on training cases only.

Radiomic features shift and stretch with the scanner and protocol; ComBat (Johnson et al.,
Biostatistics 2007; for radiomics Orlhac et al., J Nucl Med 2018) removes each centre's location
and scale per feature, borrowing strength across features by empirical Bayes. It is the method of
neuroCombat/neuroHarmonize, which cannot be installed where this runs: neuroHarmonize requires
numpy < 2 (Slicer 5.10 and 5.12 ship numpy 2), neuroCombat has no wheel. So it is written here, with
neuroCombat's parametric estimates (no covariates to preserve), and the tests check that it gives
neuroCombat's values where neuroCombat is installed.

Fitted on a training table (inside every cross-validation fold, as part of the model's pipeline) and
stored with the model, it harmonises a new case from a centre it has seen; a case from another centre
is refused, since its shift is unknown.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import TableError
from .table import is_radiomic

CONVERGENCE = 1e-4  # neuroCombat's: the largest relative change of the estimates between iterations
MAX_ITERATIONS = 1000  # far more than the few dozen it takes; a guard, not a setting


class ComBat(TransformerMixin, BaseEstimator):
    """ComBat on ``columns`` of a table, the centres named by its column ``batch`` (dropped from the output)."""

    def __init__(self, batch: str, columns: list[str] | None = None) -> None:
        self.batch = batch
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: Any = None) -> ComBat:
        centres = self._centres(X, known=None)
        self.batches_ = sorted(centres.unique())
        counts = centres.value_counts()
        small = [f"'{name}' ({int(counts[name])})" for name in self.batches_ if counts[name] < 2]
        if small:
            raise TableError(
                f"ComBat needs at least two training cases per centre (column '{self.batch}'); {', '.join(small)} "
                "has fewer in this training set (in training: in a fold of the cross-validation, whose folds keep "
                "each centre's share). Merge small centres, use fewer folds, or leave out --batch."
            )
        if len(self.batches_) < 2:
            raise TableError(f"Column '{self.batch}' names one centre only ({self.batches_[0]!r}): there is nothing to harmonise.")
        self.columns_ = list(self.columns) if self.columns is not None else _numeric_columns(X, self.batch)
        values = self._values(X)
        member = np.array([[centre == name for name in self.batches_] for centre in centres])  # (cases, centres)
        present = np.array([(~np.isnan(values[member[:, b]])).sum(0) for b in range(len(self.batches_))])  # (centres, features)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a centre without a value of a feature: NaN, handled below
            means = np.array([np.nanmean(values[member[:, b]], axis=0) for b in range(len(self.batches_))])
        # neuroCombat's standardisation: the centres' means weighted by their size (here: by their cases with a
        # value, the same on a complete table), the pooled variance of the residuals from each case's centre mean.
        weights = present / np.maximum(present.sum(0), 1)
        self.grand_mean_ = np.nansum(weights * means, axis=0)
        residuals = values - means[member.argmax(1)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an empty feature: NaN variance, left as it is
            self.pooled_variance_ = np.nan_to_num(np.nanmean(residuals**2, axis=0), nan=0.0)
        varies = self.pooled_variance_ > 0  # a constant or empty feature is left as it is
        standardised = (values[:, varies] - self.grand_mean_[varies]) / np.sqrt(self.pooled_variance_[varies])
        gamma = np.zeros((len(self.batches_), len(self.columns_)))
        delta = np.ones((len(self.batches_), len(self.columns_)))
        for b in range(len(self.batches_)):
            gamma[b, varies], delta[b, varies] = _empirical_bayes(standardised[member[:, b]])
        self.gamma_, self.delta_ = gamma, delta
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """The table with its columns harmonised and without the centre column; refuses an unknown centre."""
        centres = self._centres(X, known=self.batches_)
        index = np.array([self.batches_.index(centre) for centre in centres], dtype=int)
        values = self._values(X)
        scale = np.sqrt(self.pooled_variance_)
        standardised = (values - self.grand_mean_) / np.where(scale > 0, scale, 1.0)
        adjusted = (standardised - self.gamma_[index]) / np.sqrt(self.delta_[index]) * scale + self.grand_mean_
        harmonised = X.drop(columns=self.batch).copy()
        harmonised[self.columns_] = np.where(scale > 0, adjusted, values)
        return harmonised

    def _values(self, X: pd.DataFrame) -> np.ndarray:
        """The harmonised columns as numbers; a missing column or a text cell is the user's to fix."""
        missing = [column for column in self.columns_ if column not in X.columns]
        if missing:
            raise TableError(f"The table lacks {len(missing)} feature(s) the model harmonises and reads, e.g. "
                             f"{', '.join(missing[:3])}.")
        numbers = X[self.columns_].apply(pd.to_numeric, errors="coerce")
        text = numbers.isna() & X[self.columns_].notna()
        if text.any().any():
            column = text.any().idxmax()
            raise TableError(f"Column '{column}' must hold numbers; case {X.index[text[column]][0]!r} has "
                             f"{X.loc[text[column], column].iloc[0]!r}.")
        return numbers.to_numpy(dtype=float)

    def _centres(self, X: pd.DataFrame, known: list[str] | None) -> pd.Series:
        if self.batch not in X.columns:
            raise TableError(f"The centre column '{self.batch}' that ComBat harmonises by is not in the table.")
        centres = X[self.batch]
        empty = centres.isna() | (centres.astype(str).str.strip() == "")
        if empty.any():
            raise TableError(f"The centre column '{self.batch}' is empty for {int(empty.sum())} case(s), e.g. "
                             f"{X.index[empty][0]!r}; every case needs its centre to be harmonised.")
        if pd.api.types.is_float_dtype(centres) and (centres % 1 == 0).all():
            centres = centres.astype("int64")  # centre 1 read as 1.0 from one table and 1 from another: one name
        centres = centres.astype(str)
        if known is not None:
            unknown = sorted(set(centres) - set(known))
            if unknown:
                raise TableError(
                    f"Centre(s) {', '.join(map(repr, unknown))} (column '{self.batch}') were not in the model's training "
                    f"data (known: {', '.join(known)}): ComBat does not know their shift. Use a model trained with cases "
                    "from that centre."
                )
        return centres

    def to_state(self) -> dict[str, Any]:
        return {"batch": self.batch, "columns": self.columns_, "batches": self.batches_, "grand_mean": self.grand_mean_,
                "pooled_variance": self.pooled_variance_, "gamma": self.gamma_, "delta": self.delta_}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ComBat:
        combat = cls(state["batch"], list(state["columns"]))
        combat.columns_, combat.batches_ = list(state["columns"]), [str(b) for b in state["batches"]]
        combat.grand_mean_, combat.pooled_variance_ = np.asarray(state["grand_mean"]), np.asarray(state["pooled_variance"])
        combat.gamma_, combat.delta_ = np.asarray(state["gamma"]), np.asarray(state["delta"])
        return combat


def _numeric_columns(X: pd.DataFrame, batch: str) -> list[str]:
    return [column for column in X.columns if column != batch and is_radiomic(column)
            and pd.api.types.is_numeric_dtype(X[column])]


def _empirical_bayes(standardised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One centre's location and scale per feature (columns), shrunk towards the features' common prior:
    neuroCombat's parametric empirical Bayes (its ``it_sol``), iterated to a relative change below 1e-4.

    A feature with fewer than two values in this centre is left as it is there (location 0, scale 1); the
    prior comes from the other features. With fewer than two such features (or identical estimates) there
    is no prior to shrink towards: each centre's own location and scale are used, as ComBat without
    empirical Bayes."""
    n = np.sum(~np.isnan(standardised), axis=0)
    usable = n >= 2
    gamma = np.zeros(standardised.shape[1])
    delta = np.ones(standardised.shape[1])
    if not usable.any():
        return gamma, delta
    x, n = standardised[:, usable], n[usable]
    gamma_hat = np.nanmean(x, axis=0)
    delta_hat = np.nanvar(x, axis=0, ddof=1)
    delta_hat[delta_hat == 0] = 1.0
    gamma[usable], delta[usable] = _shrunk(x, n, gamma_hat, delta_hat)
    return gamma, delta


def _shrunk(x: np.ndarray, n: np.ndarray, gamma_hat: np.ndarray, delta_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """neuroCombat's ``it_sol`` on the features with two or more values (``n`` each): the estimates shrunk
    towards their common prior; the estimates themselves where there is no prior to shrink towards."""
    if len(gamma_hat) < 2:
        return gamma_hat, delta_hat
    gamma_bar, t2 = gamma_hat.mean(), gamma_hat.var(ddof=1)
    m, s2 = delta_hat.mean(), delta_hat.var(ddof=1)
    if not (t2 > 0 and s2 > 0):
        return gamma_hat, delta_hat
    a, b = (2 * s2 + m**2) / s2, (m * s2 + m**3) / s2
    gamma, delta = gamma_hat, delta_hat
    for _ in range(MAX_ITERATIONS):
        gamma_new = (t2 * n * gamma_hat + delta * gamma_bar) / (t2 * n + delta)
        squares = np.nansum((x - gamma_new) ** 2, axis=0)
        delta_new = (0.5 * squares + b) / (n / 2.0 + a - 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):  # a location of exactly 0 has no relative change
            change = np.nanmax(np.concatenate([np.abs(gamma_new - gamma) / np.abs(gamma), np.abs(delta_new - delta) / delta]))
        gamma, delta = gamma_new, delta_new
        if not change > CONVERGENCE:
            break
    return gamma, delta
