"""A cohort started from Slicer's Python console, in the background: ``responsepredictor run``, then
``responsepredictor report`` for the cohort page, with a case run's lifecycle (``EngineRun``: poll,
progress in cases done, cancel, wait, result, cleanup).

Slicer stays responsive while it runs, and its log is a file in the output folder rather than
Slicer's standard output, which nobody sees. Cancelling ends every process of the run, its
workers included; the cases already done stay done, and running again goes on from there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .engine_run import EngineRun, PythonCommand, engine_command
from .models import DEFAULT_MODEL, model_folder
from .process import Launch
from .work_folders import new_run

LOGS_DIR = "logs"  # in the output folder: one log per run
REPORT_PAGE = "index.html"
# run_command.NO_MODEL (features only); not imported, as the command line loads the engine's
# libraries, which Slicer may not have yet. A test ties the two.
NO_MODEL = "none"


def cohort_arguments(manifest: str | Path, out_dir: str | Path, *, model: str = DEFAULT_MODEL,
                     heatmap: str = "contribution", workers: int | None = None, scheduler: str | None = None,
                     report: bool = True, device: str = "auto") -> list[str]:
    """The ``responsepredictor run`` arguments for a cohort. ``model``: as ``model_folder`` takes it,
    or "none" (features only). ``report``: each case's picture (the cohort page is always made)."""
    model_argument = NO_MODEL if model == NO_MODEL else str(model_folder(model))
    arguments = ["run", str(manifest), "-o", str(out_dir), "--model", model_argument, "--heatmap", heatmap,
                 "--device", device, "--quiet"]  # no progress bar in the log: the progress lines say it
    if scheduler:
        arguments += ["--scheduler", scheduler]
    elif workers:
        arguments += ["--workers", str(workers)]
    return arguments + ([] if report else ["--no-report"])


class CohortRun(EngineRun):
    """A cohort running in the background; start one with ``start``."""

    # The cohort's own progress: loading, cases done out of all, the report; not each case's stages.
    progress_stages = ("load", "cohort", "report")

    def __init__(self, manifest: Path, out_dir: Path, folder: Path, *, python: PythonCommand | None = None,
                 launch: Launch | None = None, **options: Any) -> None:
        self.out_dir = out_dir
        log_path = out_dir / LOGS_DIR / f"cohort-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        commands = [engine_command(cohort_arguments(manifest, out_dir, **options), python),
                    engine_command(["report", str(out_dir)], python)]
        super().__init__(commands, folder=folder, log_path=log_path, launch=launch)

    @classmethod
    def start(cls, manifest: str | Path, out_dir: str | Path, *, python: PythonCommand | None = None,
              launch: Launch | None = None, work_root: str | Path | None = None, **options: Any) -> CohortRun:
        """Start running every case of ``manifest`` into ``out_dir`` (resumable: cases done are skipped).

        ``options``: ``cohort_arguments``' (model, heatmap, workers, scheduler, report, device).
        ``python``, ``launch``, ``work_root``: as ``BackgroundRun.start``; the work folder only holds
        the result marker.
        """
        # Absolute: the engine runs in another folder (the model folder is made absolute by model_folder).
        manifest, out_dir = Path(manifest).resolve(), Path(out_dir).resolve()
        with new_run(work_root) as folder:
            return cls(manifest, out_dir, folder, python=python, launch=launch, **options)

    def result(self) -> Path:
        """The cohort page (index.html) of a run that ended done; else ``JobFailed``."""
        self.check()
        return self.out_dir / REPORT_PAGE

    def failure_message(self, message: str) -> str:
        return (f"{message} The cases done so far are kept in {self.out_dir}: run again to go on. "
                f"The run's log: {self.log_path}")
