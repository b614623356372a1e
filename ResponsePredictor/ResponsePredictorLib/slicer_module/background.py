"""The Slicer module's background runs of one case, without Slicer: what to run, and what came back.

The module runs the heavy work (segmentation, features, prediction, heatmap) in a separate Python
process, as the MONAI extensions do, so that the GUI stays responsive and a crashing library cannot
take Slicer down. This file decides everything about that run that can be decided without MRML:
the one-row manifest, the command line, the run (``engine_run``: started, polled, cancelled, its end
told apart) in its temporary folder (``work_folders``), and reading the case folder back into plain
Python objects. ``results`` starts runs from the panel's settings and has ``display`` turn the
objects into nodes. Cohorts from the Python console: ``cohort_run``; the models offered: ``models``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..devices import DEVICES  # the first is the default; importing it needs no torch
from ..errors import InputError
from ..features.recipe import checked_distances
from ..files import atomic_file, read_json
from .engine_run import EngineRun, JobFailed, PythonCommand, engine_command
from .models import DEFAULT_MODEL, model_folder
from .other_scans import Scan, ScanOutputs, check_distinct, check_scan_names, manifest_columns, missing_scans
from .other_scans import read_scan_outputs, write_scans
from .process import Launch
from .work_folders import new_run

# The module file's one import point for its background work: also the cohorts and the models.
from .cohort_run import CohortRun  # noqa: F401
from .models import model_card, segmentation_model_ids  # noqa: F401

if TYPE_CHECKING:
    from ..explain import Heatmap
    from ..volume import Volume

Point = tuple[float, float, float]
Box = tuple[float, float, float, float, float, float]

CASE_NAME = "case"  # the one case of a run; no patient name or ID travels into the files
STEPS = ("all", "segment", "predict", "explain")  # the first is the default
DEFAULT_HEATMAP = "contribution"
NO_HEATMAP = "none"
LOG_FILE = "log.txt"


def require_one_of(value: str, choices: Sequence[str], what: str) -> None:
    """``InputError`` naming the choices when ``value`` is not one of them."""
    if value not in choices:
        raise InputError(f"Unknown {what} {value!r}; use one of {', '.join(choices)}.")


def check_settings(*, has_mask: bool, step: str = STEPS[0], seed: Point | None = None, roi: Box | None = None,
                   heatmap: str = DEFAULT_HEATMAP, device: str = DEVICES[0], scans: Mapping[str, Scan] | None = None,
                   peritumoral: Sequence[float] = (), peritumoral_body: bool = False, primary: Volume | None = None,
                   **other: Any) -> None:
    """Refuse settings no run can take, saying what to change (``InputError``): ``JobRequest``'s
    fields, with only whether a mask is given; ``other`` fields need no check. ``primary``: the scan,
    when its Volume is at hand, so that no other scan is the same image."""
    require_one_of(step, STEPS, "step")
    require_one_of(device, DEVICES, "device")
    check_scan_names(scans or {})
    if primary is not None:
        check_distinct(primary, scans or {})
    checked_distances(peritumoral)
    if peritumoral_body and not peritumoral:
        raise InputError("Peritumoral shells kept inside the body need their distances: give them too (e.g. 5,10).")
    if step in ("predict", "explain") and not has_mask:
        raise InputError(f"The {step} step needs the tumor: segment it first or choose a segmentation.")
    if step in ("all", "segment") and not has_mask and seed is None and roi is None:
        raise InputError("Show where the tumor is: click it (seed point), draw a box (ROI) or choose a segmentation.")
    if step == "segment" and has_mask:
        raise InputError("The tumor is already segmented; run the predict or explain step on it.")
    if step == "explain" and heatmap == NO_HEATMAP:
        raise InputError("Choose a heatmap method to explain the prediction.")


def coordinates(values: Iterable[float]) -> str:
    """A point or box as the command line and the manifest take it: "x,y,z" (exact, in full)."""
    return ",".join(repr(float(value)) for value in values)


@dataclass(frozen=True)
class JobRequest:
    """One case to run and how. Coordinates are LPS millimetres, as the engine expects.

    ``step``: ``all`` (segment when no mask is given, then features, prediction and heatmap),
    ``segment`` (the mask only), ``predict`` (features and prediction for the given mask) or
    ``explain`` (``predict`` plus the heatmap). ``model``: as ``model_folder`` takes it.
    ``scans``: the case's other scans by name (PET, CT, MR_T1...), co-registered with the primary; the
    name decides their radiomics preset. ``peritumoral``: features of the tissue from the tumor's edge
    out to each distance (mm), on every scan; ``peritumoral_body``: CT shells kept inside the body.
    ``deep_features``: also the tumor's deep features, of ``segmentation_model`` (None: the catalog's
    default); a model that records deep features has them computed without it, and refuses another network's.
    The segment step segments the primary scan alone and takes none of these.
    """

    image: Path | None = None  # written by BackgroundRun.start
    step: str = STEPS[0]
    mask: Path | None = None
    seed: Point | None = None
    roi: Box | None = None
    segmentation_model: str | None = None
    preset: str | None = None
    model: str = DEFAULT_MODEL
    heatmap: str = DEFAULT_HEATMAP
    device: str = DEVICES[0]
    covariates: Mapping[str, Any] = field(default_factory=dict)
    scans: Mapping[str, Scan] = field(default_factory=dict)
    peritumoral: tuple[float, ...] = ()
    peritumoral_body: bool = False
    deep_features: bool = False

    def __post_init__(self) -> None:
        check_settings(has_mask=self.mask is not None, step=self.step, seed=self.seed, roi=self.roi,
                       heatmap=self.heatmap, device=self.device, scans=self.scans, peritumoral=self.peritumoral,
                       peritumoral_body=self.peritumoral_body)

    @property
    def heatmap_method(self) -> str | None:
        """The heatmap to make in this step, or None."""
        if self.step in ("segment", "predict") or self.heatmap == NO_HEATMAP:
            return None
        return self.heatmap


def write_manifest(request: JobRequest, folder: Path) -> Path:
    """The run's one-row manifest (the cohort runner's format), written into ``folder``."""
    if request.image is None:
        raise InputError("The request has no image file yet; start runs with BackgroundRun.start.")
    row: dict[str, Any] = {"case": CASE_NAME, "image": str(request.image)}
    if request.mask is not None:
        row["mask"] = str(request.mask)
    elif request.roi is not None:
        row["roi"] = coordinates(request.roi)
    else:
        row["seed"] = coordinates(request.seed)
    row.update(manifest_columns(request.scans))
    clashes = sorted(str(name) for name in request.covariates if str(name) in row)
    if clashes:  # a covariate would overwrite an input column
        raise InputError(f"Covariate(s) {', '.join(clashes)} have the name of a manifest column; rename them.")
    row.update({str(name): value for name, value in request.covariates.items()})
    path = Path(folder) / "manifest.csv"
    with atomic_file(path) as temporary, open(temporary, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    return path


def engine_arguments(request: JobRequest, folder: Path) -> list[str]:
    """The ``responsepredictor`` arguments for the request's step, outputs under ``folder``."""
    folder = Path(folder)
    if request.step == "segment":
        arguments = ["segment", str(request.image), "--device", request.device, "-o", str(folder / "mask.nrrd")]
        # One argument with "=": argparse takes a separate value that starts with "-" (a negative
        # coordinate, e.g. a tumor on the patient's right) for an option.
        if request.roi is not None:
            arguments.append(f"--roi={coordinates(request.roi)}")
        else:
            arguments.append(f"--seed={coordinates(request.seed)}")
        if request.segmentation_model:
            arguments += ["--model", request.segmentation_model]
        return arguments
    arguments = ["run", str(folder / "manifest.csv"), "-o", str(folder / "out"), "--model",
                 str(model_folder(request.model)), "--device", request.device, "--heatmap",
                 request.heatmap_method or NO_HEATMAP, "--workers", "1",
                 "--no-report",  # the panel shows the results itself
                 "--quiet"]  # no progress bar in the log: the progress lines say it
    if request.segmentation_model:
        arguments += ["--segmentation-model", request.segmentation_model]
    if request.preset:
        arguments += ["--preset", request.preset]
    if request.peritumoral:
        arguments += ["--peritumoral", coordinates(request.peritumoral)]
    if request.peritumoral_body:
        arguments.append("--peritumoral-body")
    if request.deep_features:  # one argument with "=": the option's value is optional
        model = request.segmentation_model
        arguments.append(f"--deep-features={model}" if model else "--deep-features")
    return arguments


def command_line(request: JobRequest, folder: Path, python: PythonCommand | None = None) -> list[str]:
    return engine_command(engine_arguments(request, folder), python)


def case_folder(request: JobRequest, folder: Path) -> Path:
    """Where the run leaves its results: the cohort runner's case folder, or the segment step's folder."""
    return Path(folder) if request.step == "segment" else Path(folder) / "out" / "cases" / CASE_NAME


class BackgroundRun(EngineRun):
    """The engine running one request in a child process (``EngineRun``: poll, wait, cancel,
    progress, log), in a temporary work folder that ``cleanup()`` removes. Start one with ``start``."""

    def __init__(self, request: JobRequest, folder: Path, python: PythonCommand | None = None,
                 launch: Launch | None = None) -> None:
        self.request = request
        if request.step != "segment":
            write_manifest(request, folder)
        super().__init__([command_line(request, folder, python)], folder=folder, log_path=Path(folder) / LOG_FILE,
                         launch=launch)

    @classmethod
    def start(cls, image: Volume, mask: Volume | None = None, *, python: PythonCommand | None = None,
              launch: Launch | None = None, work_root: str | Path | None = None, **settings: Any) -> BackgroundRun:
        """Write the scan (and the tumor mask, when given; and the other scans, ``scans``: name ->
        ``Scan`` of Volumes) into a new work folder and start the run.

        ``python``: the engine's interpreter (default: Slicer's ``PythonSlicer``, else this one).
        ``launch``: how to start it (Slicer: ``slicer.util.launchConsoleProcess``). ``work_root``:
        where work folders go (Slicer: ``slicer.app.temporaryPath``; default: the system's).
        ``settings``: the other ``JobRequest`` fields (step, seed, roi, models, heatmap, device...).
        """
        from ..volume import write_volume  # SimpleITK: only once a run starts

        check_settings(has_mask=mask is not None, primary=image, **settings)  # before anything is written
        with new_run(work_root) as folder:
            request = JobRequest(
                image=write_volume(image, folder / "image.nrrd"),
                mask=None if mask is None else write_volume(mask, folder / "mask_in.nrrd"),
                **{**settings, "scans": write_scans(settings.get("scans") or {}, folder)},
            )
            return cls(request, folder, python, launch)

    def result(self) -> CaseOutputs:
        """The finished run's outputs; ``JobFailed`` (with its ``kind`` and the log) when it did not complete."""
        self.check()
        return read_case_folder(case_folder(self.request, self.folder))


@dataclass
class CaseOutputs:
    """A case folder read back: what the module shows."""

    mask: Volume
    features: dict[str, float] = field(default_factory=dict)
    prediction: dict[str, Any] = field(default_factory=dict)
    contributions: dict[str, float] = field(default_factory=dict)
    kind: str | None = None  # "binary", "survival", or None without an outcome model
    heatmap: Heatmap | None = None
    result: dict[str, Any] = field(default_factory=dict)  # status, warnings, timings, provenance
    scans: dict[str, ScanOutputs] = field(default_factory=dict)  # the other scans the run used, by name

    @property
    def model(self) -> dict[str, Any] | None:
        """The outcome model's record (name, outcome, its definition), as prediction_text reads it."""
        return (self.result.get("provenance") or {}).get("outcome_model")

    @property
    def warnings(self) -> list[str]:
        return [str(warning) for warning in self.result.get("warnings", [])]

    @property
    def missing_scans(self) -> list[str]:
        """The other scans the run reports missing, by name: the results have nothing of them."""
        return missing_scans(self.result)


def read_case_folder(folder: Path) -> CaseOutputs:
    """A case folder (the cohort runner's, or the segment step's mask alone) as plain objects.

    A case whose result.json does not say done is refused with its error: a half-written case is
    never shown as a result.
    """
    from ..explain import read_heatmap
    from ..pipeline import DONE, RESULT_JSON, read_record
    from ..volume import read_volume

    folder = Path(folder)
    result: dict[str, Any] = {}
    if (folder / RESULT_JSON).exists():
        result = read_record(folder) or {}
        if result.get("status") != DONE:
            raise JobFailed(f"The case failed: {result.get('error') or 'its result is incomplete or unreadable.'}",
                            json.dumps(result, indent=2))
    if not (folder / "mask.nrrd").is_file():
        raise JobFailed(f"The run left no tumor mask in {folder}.")
    features = read_json(folder / "features.json", "case result", error=JobFailed).get("features", {}) if (folder / "features.json").is_file() else {}
    prediction = read_json(folder / "prediction.json", "case result", error=JobFailed) if (folder / "prediction.json").is_file() else {}
    return CaseOutputs(
        mask=read_volume(folder / "mask.nrrd"),
        features=features,
        prediction=prediction.get("prediction", {}),
        contributions=prediction.get("contributions", {}),
        kind=prediction.get("kind"),
        heatmap=read_heatmap(folder / "heatmap.nrrd") if (folder / "heatmap.nrrd").is_file() else None,
        result=result,
        scans=read_scan_outputs(folder, result),
    )


def format_contributions(items: Sequence[tuple[str, float]]) -> str:
    return "\n".join(f"{value:+.3f}  {name}" for name, value in items)
