"""Tables for training and prediction: one row per case, a ``case`` column, features and outcomes.

Outcomes are named, never guessed: a binary outcome is one column of 0 and 1 (1 = the outcome the
model gives the probability of, e.g. responder); a time-to-event outcome is a time column (positive,
any unit, the same for every case) and an event column (1 = event, 0 = censored at that time).
Every other column that is not excluded is a candidate feature.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Union

import numpy as np
import pandas as pd

from ..errors import TableError
from ..features.names import DEEP_NAME, DIAGNOSTICS_PREFIX, RADIOMIC_NAME
from ..tables import CASE_COLUMN

# The layout scikit-survival expects: a structured array (event indicator, time).
SURVIVAL_DTYPE = np.dtype([("event", bool), ("time", float)])


def read_table(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """A CSV file (or a DataFrame) with a ``case`` column, indexed by case name."""
    if isinstance(source, pd.DataFrame):
        table, where = source.copy(), "The table"
    else:
        path = Path(source)
        if not path.is_file():
            raise TableError(f"Table not found: {path}. Give a CSV file with one row per case.")
        try:
            table = pd.read_csv(path, dtype={CASE_COLUMN: str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise TableError(f"{path} is not a readable CSV table: {error}") from None
        where = str(path)
    if CASE_COLUMN not in table.columns:
        raise TableError(f"{where} has no '{CASE_COLUMN}' column; the first column must name each case.")
    cases = table[CASE_COLUMN].astype("string")
    if cases.isna().any() or (cases.str.strip() == "").any():
        raise TableError(f"{where}: {int((cases.isna() | (cases.str.strip() == '')).sum())} row(s) have no case name.")
    repeated = cases[cases.duplicated()].unique()
    if len(repeated):
        raise TableError(f"{where}: {len(repeated)} case name(s) appear more than once, e.g. {_examples(repeated)}.")
    return table.set_index(pd.Index(cases.astype(str), name=CASE_COLUMN)).drop(columns=CASE_COLUMN)


@dataclass(frozen=True)
class BinaryOutcome:
    """A yes/no outcome in one column of 0 and 1."""

    column: str
    kind: ClassVar[str] = "binary"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def values(self, table: pd.DataFrame) -> np.ndarray:
        """The outcome as an int array of 0 and 1."""
        raw = _outcome_column(table, self.column)
        as_number = pd.to_numeric(raw.replace({"True": 1, "False": 0, "true": 1, "false": 0}), errors="coerce")
        bad = ~as_number.isin([0, 1])
        if bad.any():
            raise TableError(
                f"Outcome column '{self.column}' must hold 0 and 1 only; {int(bad.sum())} case(s) hold other "
                f"values, e.g. {_examples(raw[bad].astype(str).unique())}. Code the outcome as 1 (event of "
                "interest, e.g. responder) and 0."
            )
        values = as_number.to_numpy(dtype=int)
        if len(np.unique(values)) < 2:
            raise TableError(f"Outcome column '{self.column}' holds a single class; a model needs both 0 and 1.")
        return values

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "column": self.column}


@dataclass(frozen=True)
class SurvivalOutcome:
    """A time to an event, right-censored: a time column and an event column (1 event, 0 censored)."""

    time: str
    event: str
    kind: ClassVar[str] = "survival"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.time, self.event)

    def values(self, table: pd.DataFrame) -> np.ndarray:
        """The outcome as a structured array with fields ``event`` (bool) and ``time`` (float)."""
        time = pd.to_numeric(_outcome_column(table, self.time), errors="coerce")
        if time.isna().any() or (time <= 0).any():
            raise TableError(f"Time column '{self.time}' must hold positive numbers; {int((time.isna() | (time <= 0)).sum())} case(s) do not.")
        event = pd.to_numeric(_outcome_column(table, self.event), errors="coerce")
        if not event.isin([0, 1]).all():
            raise TableError(f"Event column '{self.event}' must hold 1 (event) or 0 (censored); {int((~event.isin([0, 1])).sum())} case(s) do not.")
        if event.sum() < 2:
            raise TableError(f"Event column '{self.event}' has fewer than two events; a survival model cannot be fitted.")
        values = np.empty(len(table), dtype=SURVIVAL_DTYPE)
        values["event"], values["time"] = event.to_numpy(dtype=bool), time.to_numpy(dtype=float)
        return values

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "time": self.time, "event": self.event}


Outcome = Union[BinaryOutcome, SurvivalOutcome]


def outcome_from_dict(data: dict[str, str]) -> Outcome:
    if data.get("kind") == BinaryOutcome.kind:
        return BinaryOutcome(data["column"])
    if data.get("kind") == SurvivalOutcome.kind:
        return SurvivalOutcome(data["time"], data["event"])
    raise TableError(f"Unknown outcome kind {data.get('kind')!r}.")


def feature_columns(table: pd.DataFrame, outcome: Outcome | None = None, exclude: Iterable[str] = ()) -> list[str]:
    """Every column that is neither an outcome column nor excluded, in table order."""
    exclude = set(exclude)
    unknown = sorted(exclude - set(table.columns))
    if unknown:
        raise TableError(f"Columns to exclude are not in the table: {', '.join(unknown)}.")
    skipped = exclude | set(outcome.columns if outcome else ())
    columns = [column for column in table.columns if column not in skipped]
    if not columns:
        raise TableError("The table has no feature columns besides the case and outcome columns.")
    return columns


def _outcome_column(table: pd.DataFrame, column: str) -> pd.Series:
    if column not in table.columns:
        raise TableError(f"Outcome column '{column}' is not in the table; columns start with {_examples(table.columns)}.")
    values = table[column]
    if values.isna().any():
        raise TableError(
            f"Outcome column '{column}' is empty for {int(values.isna().sum())} case(s), e.g. "
            f"{_examples(values.index[values.isna()])}. Remove those cases or fill in their outcome."
        )
    return values


def _examples(values: Sequence | np.ndarray | pd.Index, limit: int = 3) -> str:
    values = list(values)
    shown = ", ".join(repr(str(value)) for value in values[:limit])
    return shown + (f" (and {len(values) - limit} more)" if len(values) > limit else "")


def is_radiomic(column: str) -> bool:
    """Whether a column is an image feature by its name: radiomic, deep, or an extraction's diagnostic entry
    (what harmonisation adjusts, and what the clinical reference leaves out)."""
    return column.startswith(DIAGNOSTICS_PREFIX) or RADIOMIC_NAME.match(column) is not None or bool(DEEP_NAME.match(column))
