"""The cohort manifest: one CSV row per case, checked as a whole before any case runs.

Columns: ``case`` (an identifier that becomes the case's folder name), ``image`` (a file or DICOM
folder), and per case a ``mask`` (label image, DICOM SEG or RTSTRUCT) or where to segment: ``seed``
"x,y,z" (several tumor points: "x,y,z;x,y,z") and/or ``roi`` "x0,y0,z0,x1,y1,z1", with optional
``negative`` points (not tumor) "x,y,z;x,y,z", in LPS millimetres, so that a research assistant's clicks
give the same masks every run. A case's other co-registered scans are columns ``image_<NAME>``
(``image_PET``, ``image_MR_T1``) with an optional ``mask_<NAME>`` (that scan's own tumor mask; without
it the primary mask is carried onto the scan); an empty ``image_<NAME>`` cell is a scan the case lacks.
A ``mask_<X>`` column without its ``image_<X>`` is an ordinary column (e.g. a covariate ``mask_volume``).
Every other column (clinical covariates,
outcomes, anything) is carried into the case's input and the results table. Relative paths are
taken from the manifest's folder. Files that are missing are not the manifest's error: those cases
fail on their own, with the reason recorded, and the others run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import SettingsError, TableError
from ..features.columns import check_scan_name
from ..pipeline import CaseInput
from ..pipeline.case import ScanInput

CASE, IMAGE, MASK, SEED, ROI, NEGATIVE = "case", "image", "mask", "seed", "roi", "negative"
INPUT_COLUMNS = (CASE, IMAGE, MASK, SEED, ROI, NEGATIVE)
SCAN_IMAGE, SCAN_MASK = "image_", "mask_"  # prefixes of the other scans' columns
# Case ids name folders: letters, digits, '.', '_' and '-', not starting with '.', at most 128 characters.
SAFE_CASE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
ERRORS_SHOWN = 10


class ManifestError(TableError):
    """A manifest that cannot be run as it is (missing columns, repeated or unsafe case ids, bad coordinates)."""


@dataclass(frozen=True)
class Manifest:
    path: Path
    cases: list[CaseInput]
    carried: list[str]  # the other columns, in the manifest's order
    scans: list[str] = field(default_factory=list)  # the other scans' names, in the manifest's order


def read_manifest(path: str | Path) -> Manifest:
    """Read and check a manifest; every problem found is listed in one ``ManifestError``."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"Manifest not found: {path}. Give a CSV file with columns case, image and mask or seed or roi.")
    try:
        # Everything as text: case ids such as 007 keep their zeros, and covariates are parsed by the model's needs.
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path} is not a readable CSV file: {error}") from None
    table.columns = [str(column).strip() for column in table.columns]
    missing = [column for column in (CASE, IMAGE) if column not in table.columns]
    if missing:
        raise ManifestError(f"{path} lacks the column(s) {', '.join(missing)}; it has {', '.join(table.columns)}.")
    if not {MASK, SEED, ROI} & set(table.columns):
        raise ManifestError(f"{path} needs a 'mask' column, or a 'seed' or 'roi' column to segment the tumors from.")
    repeated = sorted({column for column in table.columns if list(table.columns).count(column) > 1})
    if repeated:
        raise ManifestError(f"{path} has repeated column names: {', '.join(repeated)}.")
    if table.empty:
        raise ManifestError(f"{path} lists no cases.")
    scans = _scan_names(path, list(table.columns))

    problems: list[str] = []
    folder = path.resolve().parent
    cases = [_case(row, line, folder, problems, scans) for line, row in zip(range(2, len(table) + 2), table.to_dict("records"))]
    ids = table[CASE].str.strip()
    for case_id in ids[ids.duplicated() & (ids != "")].unique():
        lines = [str(line) for line, value in zip(range(2, len(table) + 2), ids) if value == case_id]
        problems.append(f"case {case_id!r} appears on lines {', '.join(lines)}; each case needs its own id")
    if problems:
        shown = "; ".join(problems[:ERRORS_SHOWN])
        more = f" (and {len(problems) - ERRORS_SHOWN} more)" if len(problems) > ERRORS_SHOWN else ""
        raise ManifestError(f"{path}: {shown}{more}. Nothing was run.")
    inputs = _input_columns(scans)
    carried = [column for column in table.columns if column not in inputs]
    return Manifest(path, [case for case in cases if case is not None], carried, scans)


def _scan_names(path: Path, columns: list[str]) -> list[str]:
    """The other scans' names from their image_<NAME> columns (each name checked: it names columns and folders)."""
    names = [column[len(SCAN_IMAGE):] for column in columns if column.startswith(SCAN_IMAGE)]
    for name in names:
        try:
            check_scan_name(name)
        except SettingsError as error:
            raise ManifestError(f"{path}: column {SCAN_IMAGE}{name} names another scan of each case, but {error} "
                                "Rename the column if it holds something else.") from None
    return names


def _input_columns(scans: list[str]) -> set[str]:
    return {*INPUT_COLUMNS, *(SCAN_IMAGE + name for name in scans), *(SCAN_MASK + name for name in scans)}


def _case(row: dict[str, str], line: int, folder: Path, problems: list[str], scans: list[str]) -> CaseInput | None:
    case_id = row[CASE].strip()
    where = f"line {line}" + (f" (case {case_id!r})" if case_id else "")
    count = len(problems)
    if not case_id:
        problems.append(f"{where}: no case id")
    elif not SAFE_CASE.fullmatch(case_id):
        problems.append(f"{where}: the case id must be letters, digits, '.', '_' or '-' (at most 128, not starting "
                        "with '.'), since it names the case's folder")
    image = row[IMAGE].strip()
    if not image:
        problems.append(f"{where}: no image")
    mask = row.get(MASK, "").strip()
    seed = _points(row.get(SEED, ""), SEED, where, problems)
    negative = _points(row.get(NEGATIVE, ""), NEGATIVE, where, problems)
    box = _numbers(row.get(ROI, ""), 6, ROI, where, problems)
    if not mask and seed is None and box is None and len(problems) == count:
        problems.append(f"{where}: give a mask, or a seed or roi to segment the tumor from")
    others = {name: _scan(row, name, folder, where, problems) for name in scans}
    if len(problems) > count:
        return None
    inputs = _input_columns(scans)
    extra = {column: value for column, value in row.items() if column not in inputs}
    return CaseInput(case_id, _resolve(image, folder), _resolve(mask, folder) if mask else None,
                     None if seed is None else (seed[0] if len(seed) == 1 else seed), box, extra, negative, others)


def _scan(row: dict[str, str], name: str, folder: Path, where: str, problems: list[str]) -> ScanInput | None:
    """Another scan of the case; None where the case lacks it (an empty image cell)."""
    image, mask = row.get(SCAN_IMAGE + name, "").strip(), row.get(SCAN_MASK + name, "").strip()
    if not image:
        if mask:
            problems.append(f"{where}: {SCAN_MASK}{name} is given without its scan ({SCAN_IMAGE}{name} is empty)")
        return None
    return ScanInput(_resolve(image, folder), _resolve(mask, folder) if mask else None)


def _points(text: str, column: str, where: str, problems: list[str]) -> tuple[tuple[float, ...], ...] | None:
    """Points "x,y,z" separated by ';' (None for an empty cell). One point written "x;y;z", as earlier
    manifests could, stays one point."""
    groups = [group for group in text.strip().split(";") if group.strip()]
    if len(groups) == 3 and not any(re.search(r"[,\s]", group.strip("()[] ")) for group in groups):
        groups = [",".join(groups)]
    points = tuple(_numbers(group, 3, column, where, problems) for group in groups)
    return points if points and None not in points else None


def _numbers(text: str, count: int, column: str, where: str, problems: list[str]) -> tuple[float, ...] | None:
    text = text.strip()
    if not text:
        return None
    # ';' also separates a box's numbers, as earlier manifests wrote "x0,y0,z0;x1,y1,z1" (a point's never
    # reach here with one: ``_points`` splits points on it).
    parts = [part for part in re.split(r"[,\s;]+", text.strip("()[] ")) if part]
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        values = ()
    if len(values) != count or not all(value == value and abs(value) != float("inf") for value in values):
        what = f"{count} numbers in mm separated by commas" + ("; several points separated by ';'" if count == 3 else "")
        problems.append(f"{where}: {column} must be {what}; got {text!r}")
        return None
    return values


def _resolve(path: str, folder: Path) -> Path:
    given = Path(path).expanduser()
    return given if given.is_absolute() else folder / given
