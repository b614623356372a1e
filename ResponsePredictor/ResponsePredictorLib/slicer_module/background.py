"""The Slicer module's background runs, without Slicer: what to run, how, and what came back.

The module runs the heavy work (segmentation, features, prediction, heatmap) in a separate Python
process, as the MONAI extensions do, so that the GUI stays responsive and a crashing library cannot
take Slicer down. This file decides everything about that run that can be decided without MRML:
the one-row manifest, the command line, the process (started, polled, cancelled), and reading the
case folder back into plain Python objects. ``ResponsePredictor.py`` only wires it to the panel and
``mrml``/``mrml_results`` turn the objects into nodes.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..files import atomic_file, read_json

if TYPE_CHECKING:
    from ..explain import Heatmap
    from ..volume import Volume

Point = tuple[float, float, float]
Box = tuple[float, float, float, float, float, float]

CASE_NAME = "case"  # the one case of a run; no patient name or ID travels into the files
STEPS = ("all", "segment", "predict", "explain")
DEVICES = ("auto", "cpu", "cuda")
NO_HEATMAP = "none"
CLI_MODULE = "ResponsePredictorLib.cli"  # the engine's entry point, run with python -m
LOG_FILE = "log.txt"
DEFAULT_OUTCOME_MODEL = "nsclc_os_ct"  # what the engine's "default" model is, under Resources/Models


class JobFailed(RuntimeError):
    """The background run ended without a complete result; ``details`` holds its log."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class JobRequest:
    """One case to run and how. Coordinates are LPS millimetres, as the engine expects.

    ``step``: ``all`` (segment when no mask is given, then features, prediction and heatmap),
    ``segment`` (the mask only), ``predict`` (features and prediction for the given mask) or
    ``explain`` (``predict`` plus the heatmap). ``model``: an outcome model folder or "default".
    """

    image: Path | None = None  # written by BackgroundRun.start
    step: str = "all"
    mask: Path | None = None
    seed: Point | None = None
    roi: Box | None = None
    segmentation_model: str | None = None
    preset: str | None = None
    model: str = "default"
    heatmap: str = "contribution"
    device: str = "auto"
    covariates: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.step not in STEPS:
            raise InputError(f"Unknown step {self.step!r}; use one of {', '.join(STEPS)}.")
        if self.device not in DEVICES:
            raise InputError(f"Unknown device {self.device!r}; use one of {', '.join(DEVICES)}.")
        needs_tumor = self.step in ("all", "segment")
        if self.step in ("predict", "explain") and self.mask is None:
            raise InputError(f"The {self.step} step needs the tumor: segment it first or choose a segmentation.")
        if needs_tumor and self.mask is None and self.seed is None and self.roi is None:
            raise InputError("Show where the tumor is: click it (seed point), draw a box (ROI) or choose a segmentation.")
        if self.step == "segment" and self.mask is not None:
            raise InputError("The tumor is already segmented; run the predict or explain step on it.")
        if self.step == "explain" and self.heatmap == NO_HEATMAP:
            raise InputError("Choose a heatmap method to explain the prediction.")

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
        row["roi"] = ",".join(repr(float(value)) for value in request.roi)
    else:
        row["seed"] = ",".join(repr(float(value)) for value in request.seed)
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
        if request.roi is not None:
            arguments += ["--roi", ",".join(repr(float(value)) for value in request.roi)]
        else:
            arguments += ["--seed", ",".join(repr(float(value)) for value in request.seed)]
        if request.segmentation_model:
            arguments += ["--model", request.segmentation_model]
        return arguments
    arguments = ["run", str(folder / "manifest.csv"), "-o", str(folder / "out"), "--model", request.model,
                 "--device", request.device, "--heatmap", request.heatmap_method or NO_HEATMAP, "--workers", "1",
                 "--no-report"]  # the panel shows the results itself
    if request.segmentation_model:
        arguments += ["--segmentation-model", request.segmentation_model]
    if request.preset:
        arguments += ["--preset", request.preset]
    return arguments


def cohort_arguments(manifest: str | Path, out_dir: str | Path, *, model: str = "default",
                     heatmap: str = "contribution", workers: int | None = None, scheduler: str | None = None,
                     report: bool = True, device: str = "auto") -> list[str]:
    """The ``responsepredictor run`` arguments for a cohort started from Slicer's Python console."""
    arguments = ["run", str(manifest), "-o", str(out_dir), "--model", model, "--heatmap", heatmap, "--device", device]
    if scheduler:
        arguments += ["--scheduler", scheduler]
    elif workers:
        arguments += ["--workers", str(workers)]
    return arguments + ([] if report else ["--no-report"])


def engine_environment() -> dict[str, str]:
    """This process's environment, with the engine importable in a child from where this process found it."""
    environment = dict(os.environ)
    library_parent = str(Path(__file__).resolve().parent.parent)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [library_parent, environment.get("PYTHONPATH")]))
    return environment


def run_engine(arguments: Sequence[str], python: str | None = None) -> int:
    """Run ``responsepredictor ARGUMENTS`` in a child process and wait; its output goes to this process's.

    For long console jobs (cohorts): a crash in a library ends the child, not Slicer.
    """
    command = [python or python_executable(), "-m", CLI_MODULE, *arguments]
    return subprocess.run(command, env=engine_environment(), stdin=subprocess.DEVNULL).returncode


def python_executable() -> str:
    """Slicer's own Python launcher inside Slicer (``sys.executable`` is the application there)."""
    return shutil.which("PythonSlicer") or sys.executable


def command_line(request: JobRequest, folder: Path, python: str | None = None) -> list[str]:
    return [python or python_executable(), "-m", CLI_MODULE, *engine_arguments(request, folder)]


def case_folder(request: JobRequest, folder: Path) -> Path:
    """Where the run leaves its results: the cohort runner's case folder, or the segment step's folder."""
    return Path(folder) if request.step == "segment" else Path(folder) / "out" / "cases" / CASE_NAME


class BackgroundRun:
    """The engine running one request in a child process, its output going to a log file.

    ``poll()`` never blocks (the GUI calls it from a timer); ``wait()`` does (the Python console).
    The work folder is temporary and removed by ``cleanup()``. Start one with ``start``.
    """

    def __init__(self, request: JobRequest, folder: Path, python: str | None = None) -> None:
        self.request, self.folder = request, Path(folder)
        self.cancelled = False
        if request.step != "segment":
            write_manifest(request, self.folder)
        self.log_path = self.folder / LOG_FILE
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                command_line(request, self.folder, python), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=engine_environment(), cwd=self.folder,
            )

    @classmethod
    def start(cls, image: Volume, mask: Volume | None = None, *, python: str | None = None,
              **settings: Any) -> BackgroundRun:
        """Write the scan (and the tumor mask, when given) into a new work folder and start the run.

        ``settings``: the other ``JobRequest`` fields (step, seed, roi, models, heatmap, device...).
        """
        from ..volume import write_volume  # SimpleITK: only once a run starts

        JobRequest(image=Path("check"), mask=None if mask is None else Path("check"), **settings)  # fail before writing
        folder = Path(tempfile.mkdtemp(prefix="ResponsePredictor-"))
        try:
            request = JobRequest(
                image=write_volume(image, folder / "image.nrrd"),
                mask=None if mask is None else write_volume(mask, folder / "mask_in.nrrd"),
                **settings,
            )
            return cls(request, folder, python)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def poll(self) -> int | None:
        """The exit code once the run has ended, else None."""
        return self.process.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout)

    def cancel(self) -> None:
        """Stop the run; nothing it wrote is loaded."""
        self.cancelled = True
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def last_line(self) -> str:
        """The last non-empty line the engine printed (progress shown under the progress bar)."""
        lines = [line.strip() for line in self.log().replace("\r", "\n").splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def result(self) -> CaseOutputs:
        """The finished run's outputs; ``JobFailed`` with the log when it did not complete."""
        code = self.poll()
        if code is None:
            raise RuntimeError("The run has not finished yet; poll() until it returns an exit code.")
        if self.cancelled:
            raise JobFailed("Cancelled: nothing was loaded.", self.log())
        if code != 0:
            raise JobFailed(failure_message(code, self.log()), self.log())
        return read_case_folder(case_folder(self.request, self.folder))

    def cleanup(self) -> None:
        if self.poll() is None:
            self.cancel()
        shutil.rmtree(self.folder, ignore_errors=True)


def failure_message(code: int, log: str) -> str:
    """One sentence for the error dialog; the whole log goes into its details."""
    errors = [line.strip() for line in log.splitlines() if "error" in line.lower()]
    if code == 3 and errors:  # bad input: the engine said what and what to do
        return errors[-1].split("error:", 1)[-1].strip()
    if code < 0 or code in (137, 139):
        return f"The analysis process stopped abruptly (code {code}): it may have run out of memory or crashed."
    return f"The analysis failed (exit code {code}). " + (errors[-1] if errors else "See the details.")


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

    @property
    def model(self) -> dict[str, Any] | None:
        """The outcome model's record (name, outcome, its definition), as prediction_text reads it."""
        return (self.result.get("provenance") or {}).get("outcome_model")

    @property
    def warnings(self) -> list[str]:
        return [str(warning) for warning in self.result.get("warnings", [])]


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
    )


def model_card(model: str | Path) -> dict[str, Any]:
    """An outcome model's card (name, intended use, outcome definition...) from its model.json.

    Read as data, without loading the model: the panel shows it before and after a run.
    """
    from ..resources import resource_path

    folder = resource_path("Models", DEFAULT_OUTCOME_MODEL) if str(model) == "default" else Path(model)
    path = folder / "model.json"
    if not path.is_file():
        raise InputError(f"{folder} is not a prediction model folder (no model.json). Choose the folder that "
                         "'responsepredictor train' wrote.")
    card = read_json(path, "model description").get("card")
    return card if isinstance(card, dict) else {}


def format_contributions(items: Sequence[tuple[str, float]]) -> str:
    return "\n".join(f"{value:+.3f}  {name}" for name, value in items)


def segmentation_model_ids() -> list[str]:
    """The catalog's segmentation models, its default first.

    Read as data: the catalog module itself imports torch, which the panel must not need to open.
    """
    from ..resources import resource_path

    catalog = read_json(resource_path("Models.json"), "model catalog")
    ids = [str(entry["id"]) for entry in catalog.get("models", [])]
    default = catalog.get("default")
    return sorted(ids, key=lambda model_id: model_id != default)
