"""Feature tables as CSV: one row per case, first column ``case``.

Written atomically (a temporary file renamed into place) so that an interrupted run never leaves a
table that looks complete.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from .files import atomic_file

CASE_COLUMN = "case"


def _atomic_write(path: Path, write: Callable[[TextIO], object]) -> Path:
    with atomic_file(path) as partial, open(partial, "w", newline="") as stream:
        write(stream)
    return path


def write_feature_table(rows: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """Write rows (``case`` plus feature columns, the same columns in every row) as CSV.

    Floats are written with ``repr`` so that reading the table back gives the same numbers.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("No rows to write.")
    columns = [CASE_COLUMN] + [name for name in rows[0] if name != CASE_COLUMN]
    for row in rows[1:]:
        if set(row) != set(columns):
            raise ValueError(f"Row {row.get(CASE_COLUMN)!r} has other columns than the first row.")

    def write(stream: Any) -> None:
        writer = csv.writer(stream)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row[name]) for name in columns])

    return _atomic_write(Path(path), write)


def _cell(value: Any) -> str:
    # float() first: numpy scalars subclass float but their repr is 'np.float64(...)'.
    return repr(float(value)) if isinstance(value, float) else str(value)


def write_json(data: Any, path: str | Path) -> Path:
    """Write ``data`` as indented JSON (numpy scalars and tuples made plain), atomically."""
    return _atomic_write(Path(path), lambda stream: json.dump(data, stream, indent=2, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    return str(value)
