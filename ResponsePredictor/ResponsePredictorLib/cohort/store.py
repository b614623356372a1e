"""The cohort's output folder: one folder per case under ``cases/`` and the consolidated table.

``results.csv`` is rebuilt from the case folders (and the manifest's carried columns) at the end of
every run, in manifest order: case, status, error, warnings (the case's warnings, e.g. a segmentation
that reaches the edge of what the model saw or a covariate taken as unknown, joined by " | "), for a
manifest with other scans ``missing_scans`` (the scans a case lacks, joined by ";"), the carried columns, the prediction (columns ``prediction_<output>``), then the features. A case never
run, or whose run was interrupted, has status ``not run``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ..pipeline import DONE, read_record
from ..pipeline.case_folder import remove_partial_files
from ..tables import CASE_COLUMN, write_feature_table
from .manifest import Manifest

CASES_DIR = "cases"
RESULTS_CSV = "results.csv"
LOCKS_DIR = ".locks"
NOT_RUN = "not run"
PREDICTION_PREFIX = "prediction_"
# The run's bookkeeping columns, before the carried ones: never features.
BOOKKEEPING = ("status", "error", "warnings", "missing_scans")


def case_folder(out_dir: str | Path, case: str) -> Path:
    return Path(out_dir) / CASES_DIR / case


@contextlib.contextmanager
def case_lock(out_dir: str | Path, case: str) -> Iterator[None]:
    """Hold the case while it runs: a second run on the same output folder (or a worker left over from a
    killed run) waits, then finds the case done instead of writing it twice. The operating system
    releases the lock of a process that dies."""
    from filelock import FileLock

    folder = Path(out_dir) / LOCKS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / f"{case}.lock"):
        yield


def write_results_table(out_dir: str | Path, manifest: Manifest) -> Path:
    """Rebuild ``results.csv`` atomically from the case folders."""
    remove_partial_files(out_dir)  # a table being written when an earlier run was killed
    rows = [_row(out_dir, case.case, case.extra, manifest) for case in manifest.cases]
    columns: dict[str, None] = {}  # every row's columns in first-seen order: failed cases have fewer
    for row in rows:
        columns.update(dict.fromkeys(row))
    return write_feature_table(({column: row.get(column, "") for column in columns} for row in rows),
                               Path(out_dir) / RESULTS_CSV)


def _row(out_dir: str | Path, case: str, extra: dict[str, Any], manifest: Manifest) -> dict[str, Any]:
    folder = case_folder(out_dir, case)
    record = read_record(folder)
    row: dict[str, Any] = {CASE_COLUMN: case, "status": record["status"] if record else NOT_RUN,
                           "error": (record or {}).get("error") or "",
                           "warnings": " | ".join((record or {}).get("warnings") or [])}
    if manifest.scans:
        scans = ((record or {}).get("provenance") or {}).get("scans") or {}
        row["missing_scans"] = ";".join(name for name, scan in scans.items() if scan.get("status") == "missing")
    row.update({column: extra.get(column, "") for column in manifest.carried})
    if record and record["status"] == DONE:
        files = set(record.get("files", []))
        if "prediction.json" in files:
            prediction = _json(folder / "prediction.json")["prediction"]
            row.update({f"{PREDICTION_PREFIX}{name}": value for name, value in prediction.items()})
        row.update(_json(folder / "features.json")["features"])
    return row


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())



def is_results_table(table: pd.DataFrame) -> bool:
    """Whether a table (indexed by case) is a run's results.csv."""
    return {"status", "error"} <= set(table.columns)


def training_rows(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """A run's results table as training data: the cases done, without the run's bookkeeping (status,
    error, warnings) and its own predictions (which would leak a model's output into the next one's inputs)."""
    done = table[table["status"] == DONE]
    bookkeeping = [column for column in table.columns if column in BOOKKEEPING]
    predictions = [column for column in table.columns if column.startswith(PREDICTION_PREFIX)]
    note = (f"A run's results table: the {len(done)} of {len(table)} cases done are used; {', '.join(bookkeeping)} and "
            f"{len(predictions)} prediction column(s) are left out.")
    dropped = bookkeeping + predictions
    return done.drop(columns=dropped), note
