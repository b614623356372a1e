"""A cohort run's report: ``OUT_DIR/index.html`` with its curves in ``OUT_DIR/report/``.

Reads ``OUT_DIR/results.csv`` (written by the cohort runner: case, status, error, the manifest's
other columns, ``prediction_*`` columns, features) and, when the outcomes are known, draws ROC and
calibration curves (binary models) or Kaplan-Meier curves by predicted risk group with a log-rank
test (survival models). Outcomes come from columns of results.csv (the manifest carries them) or
from a separate CSV joined on ``case``; which columns hold them defaults to the outcome the model
was trained on (recorded in each case's result.json). The page lists every case with its status,
prediction and picture (``cases/<case>/report.png``), and the failed ones with their error. It
names cases by their id only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..cohort.store import CASES_DIR, PREDICTION_PREFIX, RESULTS_CSV, case_folder
from ..errors import InputError, TableError
from ..pipeline import DONE, FAILED, read_record
from ..tables import CASE_COLUMN as CASE
from . import curves
from . import html as page
from .case_report import REPORT_PNG, model_line
from .model_comparison import TITLE as COMPARISON_TITLE
from .model_comparison import comparison_section

REPORT_DIR, INDEX = "report", "index.html"
STATUS, ERROR, WARNINGS = "status", "error", "warnings"
PREDICTION = PREDICTION_PREFIX
MINIMUM_CASES = 10  # fewer cases make curves that say nothing


@dataclass
class _Outcome:
    kind: str  # "binary" or "survival"
    columns: dict[str, str]  # binary: {"outcome": col}; survival: {"time": col, "event": col}
    source: str = "results.csv"
    notes: list[str] = field(default_factory=list)


def cohort_report(
    out_dir: str | Path,
    *,
    outcomes: str | Path | None = None,
    outcome: str | None = None,
    time: str | None = None,
    event: str | None = None,
    groups: int = 2,
    model: str | Path | None = None,
) -> Path:
    """Write ``OUT_DIR/index.html`` (and its curves) for the run in ``out_dir``; returns its path.

    ``outcomes``: a CSV with a ``case`` column holding the outcome columns, when results.csv lacks
    them. ``outcome`` (a 0/1 column) or ``time`` + ``event``: the columns to judge the predictions
    by, when they differ from the outcome the model was trained on. ``groups``: Kaplan-Meier risk
    groups, 2 (median split) or 3 (tertiles). ``model``: the run's model folder, to score it beside its
    references (tumor volume alone, clinical alone, a plain learner) on these patients.
    """
    out_dir = Path(out_dir)
    results = _read_results(out_dir)
    if outcomes is not None:
        results = _join_outcomes(results, Path(outcomes))
    record = _model_record(out_dir, results)
    target = _choose_outcome(results, record, outcome, time, event, explicit=outcome is not None or time is not None)
    counts = results[STATUS].value_counts()
    summary = ", ".join(f"{int(counts.get(s, 0))} {s}" for s in (DONE, FAILED)) + f" of {len(results)} cases"
    others = int(len(results) - counts.get(DONE, 0) - counts.get(FAILED, 0))
    if others:
        summary += f" ({others} not run)"
    content = [page.paragraph(page.text(summary))]
    if record:
        content.append(page.paragraph(page.text(model_line(record, brief=False)), "note"))
    content.append(_curves_section(out_dir, results, target, groups))
    if model is not None:
        content.append(_comparison(Path(model), results, target, record))
    content.append(page.section("Cases", _cases_table(out_dir, results)))
    return page.write_page(out_dir / INDEX, f"ResponsePredictor cohort report: {out_dir.name}", *content)


def _read_results(out_dir: Path) -> pd.DataFrame:
    path = out_dir / RESULTS_CSV
    if not path.is_file():
        raise InputError(f"{path} not found: give the output folder of 'responsepredictor run' (it holds results.csv).")
    try:
        table = pd.read_csv(path, dtype={CASE: str, STATUS: str, ERROR: str, WARNINGS: str}, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise TableError(f"{path} is not a readable CSV table: {error}") from None
    missing = [c for c in (CASE, STATUS) if c not in table.columns]
    if missing:
        raise TableError(f"{path} lacks the column(s) {', '.join(missing)}; it is not a results table of 'responsepredictor run'.")
    for column in (ERROR, WARNINGS):  # empty cells read back as NaN; a run before warnings had no column
        table[column] = table[column].fillna("") if column in table.columns else ""
    return table


def _join_outcomes(results: pd.DataFrame, path: Path) -> pd.DataFrame:
    """results.csv with the outcome columns of a table keyed by case (they replace columns of the same name)."""
    from ..predict.table import read_table  # the checks every table keyed by case gets

    outcomes = read_table(path)
    kept = results.drop(columns=[c for c in outcomes.columns if c in results.columns])
    return kept.merge(outcomes, left_on=CASE, right_index=True, how="left")


def _model_record(out_dir: Path, results: pd.DataFrame) -> dict[str, Any] | None:
    """The outcome model's record in the first done case's result.json (the run uses one model)."""
    for case in results.loc[results[STATUS] == DONE, CASE]:
        record = read_record(case_folder(out_dir, str(case))) or {}
        model = (record.get("provenance") or {}).get("outcome_model")
        if model:
            return model
    return None


def _choose_outcome(results: pd.DataFrame, model: dict[str, Any] | None, outcome: str | None, time: str | None,
                    event: str | None, explicit: bool) -> _Outcome | None:
    if (time is None) != (event is None):
        raise InputError("Give both the time and the event column for survival curves (--time COL --event COL).")
    if outcome is not None and time is not None:
        raise InputError("Give either a binary outcome column (--outcome) or time and event columns, not both.")
    if not explicit and model:
        trained = model.get("outcome") or {}
        outcome, time, event = trained.get("column"), trained.get("time"), trained.get("event")
    if outcome is not None:
        target = _Outcome("binary", {"outcome": outcome})
    elif time is not None:
        target = _Outcome("survival", {"time": time, "event": event})
    else:
        return None
    missing = [c for c in target.columns.values() if c not in results.columns]
    if missing:
        if explicit:
            raise TableError(f"The results lack the outcome column(s) {', '.join(missing)}; give them with --outcomes CSV.")
        target.notes.append(f"No curves: the outcome column(s) {', '.join(missing)} the model was trained on are not in "
                            "results.csv. Add them to the manifest, or give them with --outcomes CSV.")
    return target


def _curves_section(out_dir: Path, results: pd.DataFrame, target: _Outcome | None, groups: int) -> str:
    if target is None:
        return page.section("Curves", page.paragraph(page.text("No outcome model or outcome columns: no curves."), "note"))
    if target.notes:
        return page.section("Curves", *(page.paragraph(page.text(n), "note") for n in target.notes))
    folder = out_dir / REPORT_DIR
    done = results[results[STATUS] == DONE]
    try:
        if target.kind == "binary":
            return _binary_curves(folder, done, target.columns["outcome"])
        return _survival_curves(folder, done, target.columns["time"], target.columns["event"], groups)
    except InputError as error:  # too few cases, a missing column, or scikit-survival not installed
        return page.section("Curves", page.paragraph(page.text(f"No curves: {error}"), "note"))


def _comparison(model_dir: Path, results: pd.DataFrame, target: _Outcome | None, record: dict[str, Any] | None) -> str:
    if target is None or target.notes:
        return page.section(COMPARISON_TITLE, page.paragraph(page.text("No comparison: the outcomes are not known."), "note"))
    try:
        return comparison_section(model_dir, results[results[STATUS] == DONE], target.kind, target.columns, record)
    except TableError as error:  # missing columns, too few cases of a class
        return page.section(COMPARISON_TITLE, page.paragraph(page.text(f"No comparison: {error}"), "note"))


def _usable(done: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, str]:
    numbers = done[columns].apply(pd.to_numeric, errors="coerce")
    usable = numbers.dropna()
    left_out = len(done) - len(usable)
    note = f"{len(usable)} done case(s) with a prediction and an outcome" + (
        f"; {left_out} without one left out." if left_out else ".")
    if len(usable) < MINIMUM_CASES:
        raise TableError(f"{note} At least {MINIMUM_CASES} are needed.")
    return usable, note


def _binary_curves(folder: Path, done: pd.DataFrame, column: str) -> str:
    probability = f"{PREDICTION}probability"
    if probability not in done.columns:
        raise TableError(f"results.csv has no {probability} column: the model is not a binary one.")
    usable, note = _usable(done, [probability, column])
    roc = curves.roc(usable[column].to_numpy(), usable[probability].to_numpy(), folder / "roc.png")
    fit = curves.calibration(usable[column].to_numpy(), usable[probability].to_numpy(), folder / "calibration.png")
    return page.section(
        f"Curves: predicted probability against '{column}'",
        page.paragraph(page.text(note), "note"),
        page.picture(f"{REPORT_DIR}/roc.png", f"ROC curve: AUC {roc.auc:.3f} ({roc.cases} cases, {roc.positives} positive)."),
        page.picture(f"{REPORT_DIR}/calibration.png",
                     f"Calibration in {fit.bins} bins of equal size; Brier score {fit.brier:.3f}."),
    )


def _survival_curves(folder: Path, done: pd.DataFrame, time: str, event: str, groups: int) -> str:
    risk = f"{PREDICTION}risk"
    if risk not in done.columns:
        raise TableError(f"results.csv has no {risk} column: the model is not a survival one.")
    usable, note = _usable(done, [risk, time, event])
    fit = curves.kaplan_meier(usable[time].to_numpy(), usable[event].to_numpy(), usable[risk].to_numpy(),
                              folder / "km.png", groups, time_label=f"time ('{time}')")
    split = "median" if groups == 2 else "tertiles"
    rows = [[page.text(g.name), page.text(g.cases), page.text(g.events),
             page.text("not reached" if g.median_survival is None else f"{g.median_survival:g}")] for g in fit.groups]
    cuts = ", ".join(f"{c:.3g}" for c in fit.cut_points)
    return page.section(
        f"Curves: survival ('{time}', '{event}') by predicted risk group",
        page.paragraph(page.text(f"{note} Groups by the {split} of the predicted risk (cut at {cuts}); "
                                 f"log-rank chi-square {fit.chi_square:.2f}, {curves.format_p(fit.p_value)}."), "note"),
        page.picture(f"{REPORT_DIR}/km.png", "Kaplan-Meier curves by predicted risk group, 95% bands."),
        page.table(["risk group", "cases", "events", "median survival"], rows),
    )


def _cases_table(out_dir: Path, results: pd.DataFrame) -> str:
    rows, classes = [], []
    for _, row in results.iterrows():
        case = str(row[CASE])
        picture = Path(CASES_DIR, case, REPORT_PNG)
        link = page.link(picture.as_posix(), "picture") if (out_dir / picture).is_file() else ""
        rows.append([page.text(case), page.text(row[STATUS]), page.text(_prediction_text(row)), link,
                     page.text(_without_folders(str(row[ERROR]))), page.text(str(row[WARNINGS]))])
        classes.append("failed" if row[STATUS] == FAILED else "")
    return page.table(["case", "status", "prediction (95% interval)", "report", "error", "warnings"], rows, classes)


def _prediction_text(row: pd.Series) -> str:
    def value(name: str) -> float | None:
        number = pd.to_numeric(row.get(f"{PREDICTION}{name}"), errors="coerce")
        return None if pd.isna(number) else float(number)

    for name, label in (("probability", "probability"), ("risk", "risk")):
        estimate = value(name)
        if estimate is not None:
            lower, upper, horizon = value("lower"), value("upper"), value("horizon")
            interval = f" ({lower:.2f}-{upper:.2f})" if lower is not None and upper is not None else ""
            by = f" by {horizon:g}" if horizon is not None else ""
            return f"{label}{by} {estimate:.2f}{interval}"
    return ""


def _without_folders(message: str) -> str:
    """An error message with the folders of its paths left out: they may name a patient."""
    return re.sub(r"(?:[A-Za-z]:)?(?:[\\/][^\\/\s:;,'\"]+)+[\\/]", ".../", message)
