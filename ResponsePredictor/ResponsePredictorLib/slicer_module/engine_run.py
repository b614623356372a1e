"""An engine command (or a few in a row) running in the background: started, polled, waited for,
cancelled or timed out, and its end told apart: done, failed, bad input, cancelled, timed out or
crashed.

The end is read from the result marker the engine writes as its last act (``engine_status``), not
from the exit code: inside Slicer the child is ``PythonSlicer``, whose launcher turns a crash into
1, the code of an internal error. No marker means the process was killed (often for memory) or
crashed. ``BackgroundRun`` (one case) and ``CohortRun`` build on this class.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path

from ..engine_status import EXIT_INPUT, EXIT_OK, PROGRESS_VARIABLE, STATUS_FILE_VARIABLE, Ending, Progress, read_ending
from .process import Launch, LoggedProcess, launch_console_process
from .work_folders import remove_left_behind, remove_run_folder

CLI_MODULE = "ResponsePredictorLib.cli"  # the engine's entry point, run with python -m
STATUS_FILE = "status.json"
POLL_SECONDS = 0.1  # wait()'s pause between looks at the process
CRASHED = "The analysis process stopped without finishing (it may have run out of memory or crashed)."
STARTING = Progress("start", None, "Starting the analysis process")

PythonCommand = str | Sequence[str]  # an interpreter, or a launcher and its arguments (tests' stand-in)


class Failure(StrEnum):
    """How a run ended without a complete result (``JobFailed.kind``); the panel words each its way."""

    FAILED = "failed"  # the engine's error
    BAD_INPUT = "bad input"
    CANCELLED = "cancelled"
    CRASHED = "crashed"  # killed (often for memory) or crashed: no result marker
    TIMED_OUT = "timed out"


class JobFailed(RuntimeError):
    """The background run ended without a complete result: ``kind`` (a ``Failure``) says how;
    ``details``: its log."""

    def __init__(self, message: str, details: str = "", kind: Failure = Failure.FAILED) -> None:
        super().__init__(message)
        self.details = details
        self.kind = kind


def python_executable() -> str:
    """Slicer's own Python launcher inside Slicer, this Python elsewhere.

    Inside Slicer ``sys.executable`` is the application itself (SlicerApp-real), which must never
    be started as a Python: there, no PythonSlicer is an error, as in ``slicer.util.executePythonModule``.
    """
    if getattr(sys.modules.get("slicer"), "app", None) is None:  # slicer-core or no Slicer: not the application
        return sys.executable
    launcher = shutil.which("PythonSlicer")
    if not launcher:
        raise RuntimeError("PythonSlicer executable not found: the analysis runs in it. It should be beside the "
                           "Slicer application; reinstall Slicer if it is missing.")
    return launcher


def engine_command(arguments: Sequence[str], python: PythonCommand | None = None) -> list[str]:
    """``python -m ResponsePredictorLib.cli ARGUMENTS``."""
    prefix = [python] if isinstance(python, str) else list(python or [python_executable()])
    return [*prefix, "-m", CLI_MODULE, *arguments]


def engine_environment(status_file: Path) -> dict[str, str]:
    """What the child's environment needs on top of the startup one: the engine importable from
    where this process found it, its output in UTF-8 (as the log reads it, whatever the locale, e.g.
    Windows' code page) and unbuffered (progress reaches the panel as it happens, and what a crash
    cuts short is in the log), progress lines, and the result marker's path."""
    library_parent = str(Path(__file__).resolve().parents[2])
    return {
        "PYTHONPATH": os.pathsep.join(filter(None, [library_parent, os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
        "PYTHONIOENCODING": "utf-8",
        PROGRESS_VARIABLE: "1",
        STATUS_FILE_VARIABLE: str(status_file),
    }


class EngineRun:
    """``commands`` run one after the other in child processes (the next only when the one before
    ended done), their output appended to ``log_path`` and each line handed to ``listen`` (on the
    thread that reads it); the result marker in ``folder``, the run's temporary folder, which
    ``cleanup()`` removes.

    ``poll()`` and ``cancel()`` never block (the panel calls them from its timer and buttons);
    ``wait()`` and ``cleanup()`` do (the Python console; Slicer quitting). A run never cleaned up is
    ended when Python exits (Slicer closing).
    """

    # The progress stages shown (None: all). A cohort shows its own, not those of the cases inside.
    progress_stages: tuple[str, ...] | None = None

    def __init__(self, commands: Sequence[Sequence[str]], *, folder: Path, log_path: Path,
                 launch: Launch | None = None, listen: Callable[[str], None] | None = None) -> None:
        self.folder, self.log_path = Path(folder), Path(log_path)
        self.cancelled = self.timed_out = False
        self._launch = launch or launch_console_process
        self._listen = listen
        self._waiting = [list(command) for command in commands]
        self._progress = STARTING
        self._process = self._start_next()
        atexit.register(self.cleanup)

    def _start_next(self) -> LoggedProcess:
        status = self.folder / STATUS_FILE
        status.unlink(missing_ok=True)  # the marker of the command before
        # Not in the run folder: on Windows a process's working folder cannot be removed, and the
        # folder must go at the end whatever is left running. Every path given to it is absolute.
        popen = self._launch(self._waiting.pop(0), useStartupEnvironment=True,
                             updateEnvironment=engine_environment(status), cwd=str(self.folder.parent))
        return LoggedProcess(popen, self.log_path, self.progress_stages, self._listen)

    def poll(self) -> int | None:
        """The last command's exit code once the run has ended, else None (the next command may start)."""
        code = self._process.poll()
        if code is None:
            return None
        if self._waiting and not (self.cancelled or self.timed_out) and self.ending() == Ending(EXIT_OK):
            self._process = self._start_next()
            return None
        return code

    def wait(self, timeout: float | None = None, idle: Callable[[], object] | None = None) -> int:
        """Wait for the end; past ``timeout`` seconds the run is ended (``result()`` then says so).

        ``idle``: called between looks, e.g. ``slicer.app.processEvents`` to keep Slicer responsive.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                self.timed_out = True
                self._waiting.clear()
                self._process.end()
                return self._process.poll()
            if idle is not None:
                idle()
            time.sleep(POLL_SECONDS)
        return code

    def cancel(self) -> None:
        """Stop the run and every process it started, without waiting: ``poll()`` says when all
        have ended. Nothing it wrote is loaded; a run that had ended by itself keeps its result."""
        waiting, self._waiting = self._waiting, []  # first: no command may start from here on
        running = self._process.terminate()
        # Cancelled only when that stopped something: the command running, or those still to come
        # after one that ended done.
        if running or (waiting and self.ending() == Ending(EXIT_OK)):
            self.cancelled = True

    def progress(self) -> Progress:
        """The latest progress the engine reported (stage, fraction 0..1 or None, message)."""
        if self._process.progress is not None:  # else the command before's, until this one reports
            self._progress = self._process.progress
        return self._progress

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def ending(self) -> Ending | None:
        """How the last command ended, as it wrote it; None while it runs or when it wrote nothing."""
        return read_ending(self.folder / STATUS_FILE)

    def check(self) -> None:
        """Raise ``JobFailed`` unless the run ended done; its message says how it ended instead."""
        if self.poll() is None:
            raise RuntimeError("The run has not finished yet; poll() until it returns an exit code.")
        ending = self.ending()
        if self.cancelled:
            kind, message = Failure.CANCELLED, "Cancelled."
        elif self.timed_out:
            kind, message = Failure.TIMED_OUT, "The analysis took longer than the time allowed and was stopped."
        elif ending is None:
            kind, message = Failure.CRASHED, CRASHED
        elif ending.exit == EXIT_OK:
            return
        elif ending.exit == EXIT_INPUT:
            kind, message = Failure.BAD_INPUT, ending.error or "The engine refused the input; see the details."
        else:
            kind, message = Failure.FAILED, f"The analysis failed: {ending.error or f'exit code {ending.exit}'}."
        raise JobFailed(self.failure_message(message), self.log(), kind)

    def failure_message(self, message: str) -> str:
        """The message of a failure as the user sees it (a cohort adds where its log and cases are)."""
        return message

    def cleanup(self) -> None:
        """End whatever of the run is left, waiting for it (quick once ``poll()`` has said it ended),
        and remove its temporary folder. A folder Windows does not let go of yet (a file still held)
        is tried again at the next run's start and end (``work_folders.remove_left_behind``), and
        after a crash at the next start of Slicer."""
        atexit.unregister(self.cleanup)
        self._waiting.clear()
        self._process.end()
        remove_left_behind()
        if not remove_run_folder(self.folder):
            logging.warning("ResponsePredictor: the run's temporary folder %s could not be removed yet; it is tried "
                            "again when the next run starts or ends.", self.folder)
