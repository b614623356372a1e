"""A case's folder of results, and its commit marker.

    mask.nrrd            the tumor mask used (given or segmented), on the scan's grid
    heatmap.nrrd, .json  the heatmap and how to show it (when asked for)
    features.json        the radiomic features
    prediction.json      the model's outputs, contributions and the covariates it was given
    report.png           the case's picture (when asked for)
    seg.dcm              the mask as DICOM SEG (when the scan was a DICOM series)
    scans/NAME/          per other scan of the case: mask.nrrd (its own or the carried mask, on its
                         grid) and heatmap.nrrd, .json (when the model maps that scan's features)
    result.json          status, error, timings, provenance, fingerprints: written LAST

Every file is written atomically, and result.json only once all others are in place, so a folder
whose result.json says "done" is complete; anything else is redone. Writing a case first removes
its old result.json, so an interrupted rewrite never passes for the earlier, complete result.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..optional_packages import HIGHDICOM, unusable
from ..tables import write_json
from ..volume import write_volume
from .case import CaseResult
from .case_pipeline import CaseFingerprint
from .inputs import series_folder

RESULT_JSON = "result.json"
FORMAT = "responsepredictor-case"
FORMAT_VERSION = 1
DONE, FAILED = "done", "failed"
# Every file a case folder may hold besides result.json: what a rewrite may leave stale.
OUTPUT_FILES = ("mask.nrrd", "heatmap.nrrd", "heatmap.json", "features.json", "prediction.json", "report.png", "seg.dcm")
SCANS_DIR = "scans"  # the other scans' files: scans/<NAME>/<one of SCAN_FILES>
SCAN_FILES = ("mask.nrrd", "heatmap.nrrd", "heatmap.json")
# The temporary names ``files.atomic_file`` writes under: ".<name>.<random>.partial<suffix>".
PARTIAL_PATTERN = ".*.partial*"


def write_case(result: CaseResult, folder: str | Path, *, report: bool = False, keep_identifiers: bool = False) -> Path:
    """Write ``result`` into ``folder`` (the layout above); returns the path of result.json."""
    folder = Path(folder)
    runs = _begin(folder)
    clock = time.perf_counter()
    written = [write_volume(result.mask, folder / "mask.nrrd").name]
    written.append(write_json({"case": result.case, "features": result.features}, folder / "features.json").name)
    if result.prediction_kind is not None:
        written.append(write_json({
            "case": result.case, "kind": result.prediction_kind, "prediction": result.prediction,
            "contributions": result.contributions, "covariates": result.covariates,
        }, folder / "prediction.json").name)
    written += _write_heatmap(result.heatmap, folder, "heatmap.nrrd")
    for name, scan in result.scans.items():
        if scan.mask is not None:
            written.append(f"{SCANS_DIR}/{name}/mask.nrrd")
            write_volume(scan.mask, folder / written[-1])
        written += _write_heatmap(scan.heatmap, folder, f"{SCANS_DIR}/{name}/heatmap.nrrd")
    if result.image_was_dicom and result.source_image is not None:
        # Where highdicom cannot be had (Slicer, whose DICOM module holds pydicom and highdicom at its own
        # versions), the case is still done: the mask is in mask.nrrd, and the result says why no seg.dcm.
        problem = unusable(HIGHDICOM, "Writing the mask as DICOM SEG (seg.dcm)")
        if problem is None:
            written.append(_write_seg(result, folder / "seg.dcm", keep_identifiers).name)
        else:
            result.warnings.append(f"No seg.dcm: {problem}")
    result.timings["write_s"] = round(time.perf_counter() - clock, 4)
    if report:
        from ..report.case_report import case_report

        clock = time.perf_counter()
        written.append(Path(case_report(result, folder)).name)
        result.timings["report_s"] = round(time.perf_counter() - clock, 4)
    _remove_stale(folder, written)
    record = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "case": result.case, "status": DONE, "error": None,
        "key": result.provenance["key"], "runs": runs, "files": sorted(written), "timings": result.timings,
        "warnings": result.warnings, "provenance": result.provenance,
    }
    return write_json(record, folder / RESULT_JSON)


def _write_heatmap(heatmap: Any, folder: Path, name: str) -> list[str]:
    """The heatmap's two files (relative names), or none without a heatmap."""
    if heatmap is None:
        return []
    from ..explain import write_heatmap

    write_heatmap(heatmap, folder / name)
    return [name, name.removesuffix(".nrrd") + ".json"]


def _write_seg(result: CaseResult, path: Path, keep_identifiers: bool) -> Path:
    """The mask as a DICOM SEG referring to the scan's series; patient identifiers blanked unless kept."""
    from .. import __version__
    from ..dicom_seg import write_dicom_seg

    segmented = result.provenance.get("mask_source") == "segmented"
    return write_dicom_seg(result.mask, series_folder(result.source_image), path,
                           algorithm=("ResponsePredictor", __version__) if segmented else None,
                           keep_identifiers=keep_identifiers)


def write_failure(folder: str | Path, case: str, error: BaseException, fingerprint: CaseFingerprint | None,
                  timings: dict[str, float] | None = None) -> Path:
    """Record that ``case`` failed: why, in one line, and no outputs that could pass for its result.

    Bad input (an ``InputError``) is the user's to fix and its message says how; anything else is a
    bug in this program, so its traceback is kept in result.json (never in the results table).
    """
    folder = Path(folder)
    runs = _begin(folder)
    _remove_stale(folder, [])
    record: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "case": case, "status": FAILED,
        "error": error_message(error), "key": fingerprint.key if fingerprint else None, "runs": runs, "files": [],
        "timings": timings or {}, "warnings": [],
        "provenance": {"inputs": fingerprint.inputs, "settings_sha256": fingerprint.settings_sha256} if fingerprint else {},
    }
    if not isinstance(error, InputError):
        record["traceback"] = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return write_json(record, folder / RESULT_JSON)


def error_message(error: BaseException) -> str:
    """One line for the results table: the message of bad input, the type too for anything else."""
    text = " ".join(str(error).split())
    return text if isinstance(error, InputError) else f"internal error ({type(error).__name__}): {text}"


def read_record(folder: str | Path) -> dict[str, Any] | None:
    """The folder's result.json, or None when it is absent or unreadable (then the case is redone)."""
    path = Path(folder) / RESULT_JSON
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("format") == FORMAT else None


def is_done(folder: str | Path, key: str) -> bool:
    """Whether the folder holds a complete result made from the same inputs and settings."""
    record = read_record(folder)
    return (
        record is not None and record.get("status") == DONE and record.get("key") == key
        and all((Path(folder) / name).is_file() for name in record.get("files", []))
    )


def remove_partial_files(folder: str | Path) -> int:
    """Delete temporary files an interrupted write left in ``folder``; returns how many."""
    leftovers = [*Path(folder).glob(PARTIAL_PATTERN), *Path(folder).glob(f"{SCANS_DIR}/*/{PARTIAL_PATTERN}")]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return len(leftovers)


def _begin(folder: Path) -> int:
    """Un-commit the folder before rewriting it; returns which run of this case this is."""
    folder.mkdir(parents=True, exist_ok=True)
    previous = read_record(folder)
    (folder / RESULT_JSON).unlink(missing_ok=True)
    remove_partial_files(folder)
    return int(previous.get("runs", 0)) + 1 if previous else 1


def _remove_stale(folder: Path, written: Iterable[str]) -> None:
    kept = set(written)
    scan_files = [path.relative_to(folder).as_posix() for name in SCAN_FILES for path in folder.glob(f"{SCANS_DIR}/*/{name}")]
    for name in (set(OUTPUT_FILES) | set(scan_files)) - kept:
        (folder / name).unlink(missing_ok=True)
