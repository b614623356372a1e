"""From a feature table to the standardised matrix a learner sees; fitted on training cases only.

Two steps, each a scikit-learn transformer whose fitted state is plain numbers and names (so that it
can be saved as JSON and arrays):

- ``TableEncoder``: the table's columns as numbers. Numeric columns stay as they are; text columns
  (histology, scanner, ...) become one 0/1 column per category seen in training. A missing value
  takes the training median (numeric) or no category (text).
- ``FeatureFilter``: drops constant columns and all but the first of each group of highly
  correlated columns (Spearman, in table order, so an original-image feature is kept over the
  filtered copies that follow it), then standardises to zero mean and unit variance; with
  ``scaling="normal-scores"`` each column is first mapped through its training quantiles to a
  normal distribution (scikit-learn's ``QuantileTransformer``), which tames the skewed, heavy-tailed
  radiomic features a linear model would otherwise weigh by their outliers.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import MissingFeatureError, TableError

# A text column with more categories than this is almost always an identifier, a date or free text
# typed by hand: one-hot encoding it would give the model one column per patient.
MAX_CATEGORIES = 20


class TableEncoder(TransformerMixin, BaseEstimator):
    """Table (DataFrame) -> float matrix; remembers the columns, medians and categories of training."""

    def fit(self, X: pd.DataFrame, y: Any = None) -> TableEncoder:
        self.columns_ = [str(column) for column in X.columns]
        numeric = [column for column, dtype in zip(self.columns_, X.dtypes) if _is_numeric(dtype)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-empty column: its median is NaN
            medians = np.nanmedian(_numbers(X, numeric), axis=0) if numeric else []
        # A column empty in every training case is constant after imputation; the filter drops it.
        self.medians_ = {column: float(m) if np.isfinite(m) else 0.0 for column, m in zip(numeric, medians)}
        self.categories_: dict[str, list[str]] = {}
        for column in self.columns_:
            if column in self.medians_:
                continue
            categories = sorted(X[column].dropna().astype(str).unique())
            if len(categories) > MAX_CATEGORIES:
                raise TableError(
                    f"Column '{column}' holds text with {len(categories)} different values, e.g. {categories[:3]}; it "
                    "looks like an identifier or free text, not a feature. Exclude it or make it numeric."
                )
            self.categories_[column] = categories
        self._set_outputs()
        return self

    def _set_outputs(self) -> None:
        names, sources = [], []
        for index, column in enumerate(self.columns_):
            if column in self.medians_:
                names.append(column)
                sources.append(index)
            else:
                names += [f"{column}={category}" for category in self.categories_[column]]
                sources += [index] * len(self.categories_[column])
        self.feature_names_out_ = names
        self.sources_ = np.asarray(sources, dtype=int)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        missing = [column for column in self.columns_ if column not in X.columns]
        if missing:
            raise MissingFeatureError(
                f"The table lacks {len(missing)} feature column(s) the model was trained on, e.g. "
                f"{', '.join(missing[:5])}. Compute the features with the model's settings (see its model card); a "
                "value that is unknown for a case can be left empty in an existing column."
            )
        numeric = list(self.medians_)
        values = _numbers(X, numeric)
        values = np.where(np.isnan(values), np.array([self.medians_[column] for column in numeric]), values)
        blocks = dict(zip(numeric, values.T[:, :, None]))
        for column, categories in self.categories_.items():
            text = X[column].astype("string")
            blocks[column] = np.column_stack([(text == category).fillna(False).to_numpy(float) for category in categories])
        return np.hstack([blocks[column].reshape(len(X), -1) for column in self.columns_]) if self.columns_ else np.empty((len(X), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.feature_names_out_, dtype=object)

    def to_state(self) -> dict[str, Any]:
        return {"columns": self.columns_, "medians": self.medians_, "categories": self.categories_}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TableEncoder:
        encoder = cls()
        encoder.columns_ = list(state["columns"])
        encoder.medians_ = {str(k): float(v) for k, v in state["medians"].items()}
        encoder.categories_ = {str(k): [str(c) for c in v] for k, v in state["categories"].items()}
        if set(encoder.medians_) | set(encoder.categories_) != set(encoder.columns_):
            raise ValueError("encoder state: every column needs a median or categories")
        encoder._set_outputs()
        return encoder


def _is_numeric(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def _numbers(X: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The columns as floats, missing and non-finite values as NaN; text in them is an error."""
    try:
        values = X[columns].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        for column in columns:
            numbers = pd.to_numeric(X[column], errors="coerce")
            text = X[column].notna() & numbers.isna()
            if text.any():
                raise TableError(
                    f"Column '{column}' is numeric in training but holds text here, e.g. {X[column][text].astype(str).iloc[0]!r}."
                ) from None
        values = X[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(values), values, np.nan)


SCALINGS = ("standard", "normal-scores")
# Quantiles kept per column for normal scores: enough to place a case among a few hundred.
NORMAL_SCORE_QUANTILES = 100


class FeatureFilter(TransformerMixin, BaseEstimator):
    """Drop constant and highly correlated columns, then standardise (optionally after normal scores)."""

    def __init__(self, correlation_threshold: float = 0.9, scaling: str = "standard") -> None:
        self.correlation_threshold = correlation_threshold
        self.scaling = scaling

    def fit(self, X: np.ndarray, y: Any = None) -> FeatureFilter:
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}; got {self.scaling!r}")
        X = np.asarray(X, dtype=float)
        varying = np.flatnonzero(np.ptp(X, axis=0) > 0)
        self.kept_ = varying[_uncorrelated(X[:, varying], self.correlation_threshold)]
        self.quantiles_ = self.references_ = None
        values = X[:, self.kept_]
        if self.scaling == "normal-scores" and len(self.kept_):
            from sklearn.preprocessing import QuantileTransformer

            fitted = QuantileTransformer(n_quantiles=min(NORMAL_SCORE_QUANTILES, len(X))).fit(values)
            self.quantiles_, self.references_ = fitted.quantiles_, fitted.references_
            values = normal_scores(values, self.quantiles_, self.references_)
        self.mean_ = values.mean(axis=0)
        self.scale_ = values.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0  # never divide by zero
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        values = np.asarray(X, dtype=float)[:, self.kept_]
        if self.quantiles_ is not None:
            values = normal_scores(values, self.quantiles_, self.references_)
        return (values - self.mean_) / self.scale_

    def to_state(self) -> dict[str, Any]:
        state = {"correlation_threshold": self.correlation_threshold, "scaling": self.scaling, "kept": self.kept_,
                 "mean": self.mean_, "scale": self.scale_}
        if self.quantiles_ is not None:
            state.update(quantiles=self.quantiles_, references=self.references_)
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FeatureFilter:
        # Models saved before normal scores existed were standardised only.
        step = cls(float(state["correlation_threshold"]), str(state.get("scaling", "standard")))
        step.kept_ = np.asarray(state["kept"], dtype=int)
        step.mean_, step.scale_ = np.asarray(state["mean"], float), np.asarray(state["scale"], float)
        if not (step.kept_.shape == step.mean_.shape == step.scale_.shape):
            raise ValueError("filter state: kept, mean and scale differ in length")
        step.quantiles_ = step.references_ = None
        if step.scaling == "normal-scores" and len(step.kept_):
            step.quantiles_, step.references_ = np.asarray(state["quantiles"], float), np.asarray(state["references"], float)
            if step.quantiles_.shape != (len(step.references_), len(step.kept_)):
                raise ValueError("filter state: the normal-score quantiles do not match the kept columns")
        return step


# scikit-learn's QuantileTransformer keeps normal scores off the infinite tails with this bound.
_BOUND = 1e-7
_CLIP = (float(ndtri(_BOUND - np.spacing(1))), float(ndtri(1 - (_BOUND - np.spacing(1)))))


def normal_scores(X: np.ndarray, quantiles: np.ndarray, references: np.ndarray, chunk: int = 256) -> np.ndarray:
    """``QuantileTransformer(output_distribution="normal").transform`` for fitted ``quantiles`` (n, columns)
    and ``references`` (n,), with the same values, computed for all columns at once.

    scikit-learn transforms column by column (with a normal quantile function call each): about
    0.1 s for one case of 500 columns, times 100 bootstrap refits for an interval. Here: a few ms.
    Like scikit-learn, a value between tied quantiles gets the mean of the forward and backward
    interpolations (the middle of the ties' references).
    """
    X = np.asarray(X, dtype=float)
    out = np.empty_like(X)
    for start in range(0, len(X), chunk):  # chunks bound the (rows, n, columns) comparisons in memory
        x = X[start:start + chunk]
        at_or_below = (quantiles[None] <= x[:, None]).sum(axis=1)  # quantiles <= x, per column
        below = (quantiles[None] < x[:, None]).sum(axis=1)
        forward = _interpolate(x, quantiles, references, at_or_below - 1)  # from the last quantile <= x
        backward = _interpolate(x, quantiles, references, below - 1)  # up to the first quantile >= x
        share = 0.5 * (forward + backward)
        share[x - _BOUND < quantiles[0]] = 0.0
        share[x + _BOUND > quantiles[-1]] = 1.0
        out[start:start + chunk] = np.clip(ndtri(share), *_CLIP)
    return out


def _interpolate(x: np.ndarray, quantiles: np.ndarray, references: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``references`` on the segment starting at quantile index ``lower`` (per
    value); below the first quantile the first reference, beyond the last the last, as ``np.interp``."""
    n = len(references)
    j = np.clip(lower, 0, n - 2)
    columns = np.arange(x.shape[1])[None, :]
    q_low, q_high = quantiles[j, columns], quantiles[j + 1, columns]
    width = q_high - q_low
    fraction = np.divide(x - q_low, width, out=np.zeros_like(x), where=width > 0)
    value = references[j] + np.clip(fraction, 0, 1) * (references[j + 1] - references[j])
    value[lower < 0] = references[0]
    value[lower >= n - 1] = references[-1]
    return value


def _uncorrelated(X: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of the columns kept when each column is dropped if it correlates above ``threshold``
    (absolute Spearman) with a column kept before it."""
    if threshold >= 1 or X.shape[1] < 2:
        return np.arange(X.shape[1])
    ranks = pd.DataFrame(X).rank().to_numpy()
    ranks = (ranks - ranks.mean(axis=0)) / ranks.std(axis=0)
    correlation = np.abs(ranks.T @ ranks) / len(X)
    kept: list[int] = []
    for column in range(X.shape[1]):
        if not kept or correlation[column, kept].max() <= threshold:
            kept.append(column)
    return np.asarray(kept, dtype=int)
