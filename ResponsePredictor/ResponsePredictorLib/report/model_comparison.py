"""The cohort report's comparison of the model with its references on the run's own patients.

With the model folder and the outcomes, the run's done cases are scored as ``evaluate`` scores a
held-out table: the model beside the references saved with it (tumor volume alone, clinical
covariates alone, a plain learner, all fitted on the model's training table), each with its 95%
interval and the paired difference of the model against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError, TableError
from ..tables import CASE_COLUMN as CASE
from . import html as page

RESAMPLES = 1000
TITLE = "The model beside its references on these patients"


def comparison_section(model_dir: Path, done: pd.DataFrame, kind: str, columns: dict[str, str],
                       record: dict[str, Any] | None) -> str:
    """The section for the done cases of ``done`` (results.csv rows) against the outcome ``columns``."""
    from ..predict import evaluate, load_model
    from ..predict.table import BinaryOutcome, SurvivalOutcome
    from ..predict.validation import COMPARED_METRICS, LABELS

    saved = load_model(model_dir)
    if record and record.get("fingerprint") not in (None, saved.fingerprint):
        raise InputError(f"The run used another outcome model (fingerprint {record['fingerprint']}) than {model_dir} "
                         f"({saved.fingerprint}); give the run's model folder.")
    if saved.model.kind != kind:
        raise InputError(f"{model_dir} is a {saved.model.kind} model, but the outcome columns are {kind}.")
    if not saved.references:
        raise TableError(f"{model_dir} has no references: it was trained before they were kept with a model (train it "
                         "again), or none applies to it (a model on tumor volume alone, trained without clinical columns).")
    needed = list(dict.fromkeys([*saved.model.feature_names_in_, *(c for f in saved.references for c in f.reference.columns),
                                 *columns.values()]))
    missing = [column for column in needed if column not in done.columns]
    if missing:
        raise TableError(f"results.csv lacks {len(missing)} column(s) the model or its references use, e.g. {missing[0]}.")
    table = done.set_index(CASE)[needed].dropna(subset=list(columns.values()))
    outcome = BinaryOutcome(columns["outcome"]) if kind == "binary" else SurvivalOutcome(columns["time"], columns["event"])
    result = evaluate(saved.model, table, outcome.values(table), n_resamples=RESAMPLES, references=saved.references)
    metrics = COMPARED_METRICS[kind]
    rows = [[page.text("the model"), page.text(f"{len(saved.model.feature_names_in_)} columns")]
            + [page.text(str(result.metrics[name])) for name in metrics] + [page.text("")] * len(metrics)]
    for comparison in result.comparisons:
        used = comparison.reference.columns
        rows.append([page.text(comparison.reference.label), page.text(used[0] if len(used) == 1 else f"{len(used)} columns")]
                    + [page.text(str(comparison.metrics[name])) for name in metrics]
                    + [page.text(comparison.differences[name].signed()) for name in metrics])
    headers = ["", "columns", *(LABELS[name] for name in metrics), *(f"difference in {LABELS[name]}" for name in metrics)]
    note = (f"{len(table)} done case(s) with an outcome; the references were fitted on the model's training table; "
            f"intervals from {RESAMPLES} resamplings of these patients, the same for the model and each reference.")
    return page.section(TITLE, page.paragraph(page.text(note), "note"), page.table(headers, rows),
                        *(page.paragraph(page.text(line)) for line in result.verdicts()))
