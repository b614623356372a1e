"""From a feature table to the standardised matrix a learner sees; fitted on training cases only.

Two steps, each a scikit-learn transformer whose fitted state is plain numbers and names (so that it
can be saved as JSON and arrays):

- ``TableEncoder``: the table's columns as numbers. Numeric columns stay as they are; text columns
  (histology, scanner, ...) become one 0/1 column per category seen in training. A missing value
  takes the training median (numeric) or no category (text).
- ``FeatureFilter``: drops constant columns and all but the first of each group of highly
  correlated columns (Spearman, in table order, so an original-image feature is kept over the
  filtered copies that follow it), then standardises to zero mean and unit variance.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
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


class FeatureFilter(TransformerMixin, BaseEstimator):
    """Drop constant and highly correlated columns, then standardise."""

    def __init__(self, correlation_threshold: float = 0.9) -> None:
        self.correlation_threshold = correlation_threshold

    def fit(self, X: np.ndarray, y: Any = None) -> FeatureFilter:
        X = np.asarray(X, dtype=float)
        varying = np.flatnonzero(np.ptp(X, axis=0) > 0)
        self.kept_ = varying[_uncorrelated(X[:, varying], self.correlation_threshold)]
        self.mean_ = X[:, self.kept_].mean(axis=0)
        self.scale_ = X[:, self.kept_].std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0  # cannot happen after ptp > 0, but never divide by zero
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=float)[:, self.kept_] - self.mean_) / self.scale_

    def to_state(self) -> dict[str, Any]:
        return {"correlation_threshold": self.correlation_threshold, "kept": self.kept_, "mean": self.mean_, "scale": self.scale_}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FeatureFilter:
        step = cls(float(state["correlation_threshold"]))
        step.kept_ = np.asarray(state["kept"], dtype=int)
        step.mean_, step.scale_ = np.asarray(state["mean"], float), np.asarray(state["scale"], float)
        if not (step.kept_.shape == step.mean_.shape == step.scale_.shape):
            raise ValueError("filter state: kept, mean and scale differ in length")
        return step


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
