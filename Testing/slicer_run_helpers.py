"""Watching the Slicer module's background runs from tests: the engine started as Slicer starts it,
and the processes of a run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest

# The engine's interpreter as Slicer has it: PythonSlicer (a launcher that forwards no signal and
# reports a crashed child as 1), then python.
THROUGH_LAUNCHER = [sys.executable, str(Path(__file__).with_name("launcher_standin.py"))]


def job_processes(run) -> list[psutil.Process]:
    """The run's launcher and every process under it, now."""
    try:
        launcher = psutil.Process(run.pid)
        return [launcher, *launcher.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def wait_for_engine(run, stage: str | None = None, timeout: float = 60) -> psutil.Process:
    """The engine process under the launcher, once it runs (and has reported ``stage``, if given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes = job_processes(run)
        if len(processes) > 1 and (stage is None or run.progress().stage == stage):
            return processes[1]
        assert run.poll() is None, run.log()
        time.sleep(0.05)
    pytest.fail(f"the engine did not start (or reach {stage}) in {timeout} s: {run.log()}")


def assert_all_ended(processes: list[psutil.Process]) -> None:
    alive = [process for process in processes if process.is_running() and process.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left running: {alive}"
