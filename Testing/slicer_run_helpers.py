"""Watching the Slicer module's background runs from tests: the engine started as Slicer starts it,
the processes of a run, and how a run ended."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from ResponsePredictorLib.slicer_module.engine_run import JobFailed
from ResponsePredictorLib.slicer_module.process import launch_console_process

# The engine's interpreter as Slicer has it: PythonSlicer (a launcher that forwards no signal and
# reports a crashed child as 1), then python.
THROUGH_LAUNCHER = [sys.executable, str(Path(__file__).with_name("launcher_standin.py"))]


@dataclass
class Launched:
    args: list[str]
    environment: dict[str, str] | None
    cwd: str | None
    pid: int


@dataclass
class RecordingLaunch:
    """``launch_console_process`` (as ``slicer.util.launchConsoleProcess``), keeping what it started:
    a test's view of a run's launcher processes. ``with_input``: as the interactive session starts,
    with a pipe for its requests."""

    launched: list[Launched] = field(default_factory=list)
    with_input: bool = False

    def __call__(self, args, useStartupEnvironment=True, updateEnvironment=None, cwd=None):
        process = launch_console_process(args, useStartupEnvironment, updateEnvironment, cwd,
                                         with_input=self.with_input)
        self.launched.append(Launched(args, updateEnvironment, cwd, process.pid))
        return process

    def processes(self) -> list[psutil.Process]:
        """The latest launcher and every process under it, now."""
        try:
            launcher = psutil.Process(self.launched[-1].pid)
            return [launcher, *launcher.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def wait_for_engine(self, run, stage: str | None = None, timeout: float = 60) -> psutil.Process:
        """The engine process under the launcher, once it runs (and has reported ``stage``, if given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            processes = self.processes()
            if len(processes) > 1 and (stage is None or run.progress().stage == stage):
                return processes[1]
            assert run.poll() is None, run.log()
            time.sleep(0.05)
        pytest.fail(f"the engine did not start (or reach {stage}) in {timeout} s: {run.log()}")


def assert_all_ended(processes: list[psutil.Process]) -> None:
    alive = [process for process in processes if process.is_running() and process.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left running: {alive}"


def assert_failed(run, kind: str, match: str | None = None) -> JobFailed:
    """The ended ``run`` says it failed, as ``kind``; returns the failure."""
    with pytest.raises(JobFailed, match=match) as failure:
        run.check()
    assert failure.value.kind == kind
    return failure.value


def assert_cancel_ends_them(run, processes: list[psutil.Process]) -> JobFailed:
    """Cancel ``run``: it returns at once, the run ends with every one of ``processes``, and says it
    was cancelled."""
    started = time.monotonic()
    run.cancel()
    assert time.monotonic() - started < 2.0  # the panel's button: the processes end while the GUI goes on
    run.wait(60)
    assert_all_ended(processes)
    return assert_failed(run, "cancelled", "Cancelled")
