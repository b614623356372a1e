"""The engine's child process: started as Slicer starts console processes, its output copied into a
log file, and ended together with every process under it.

Inside Slicer the command is ``PythonSlicer ...``: CTK's AppLauncher, which starts ``python-real``
as its own child and forwards no signal to it. Ending the launcher alone would leave the work
running (and writing into a folder about to be deleted), so the whole tree is ended, as
SlicerMONAIAuto3DSeg does. psutil is imported once a run starts, not with this file: the module
installs it on first use, after Slicer has imported this package.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Protocol

from ..engine_status import Progress, parse_progress

# How long the processes of a tree get to end after SIGTERM before they are killed.
END_GRACE_SECONDS = 5.0
# How long, once the process has ended, its output may still take to reach the log.
DRAIN_SECONDS = 5.0


class Launch(Protocol):
    """``slicer.util.launchConsoleProcess``'s signature: a Popen whose stdout is a text pipe
    carrying the process's output and errors."""

    def __call__(self, args: list[str], useStartupEnvironment: bool = True,
                 updateEnvironment: dict[str, str] | None = None,
                 cwd: str | None = None) -> subprocess.Popen[str]: ...


def launch_console_process(args: list[str], useStartupEnvironment: bool = True,
                           updateEnvironment: dict[str, str] | None = None,
                           cwd: str | None = None) -> subprocess.Popen[str]:
    """``slicer.util.launchConsoleProcess`` for use outside Slicer, where this process's environment
    is the startup one: output and errors on one text pipe, and on Windows no console window
    (one would open for every run, and closing it would kill the job)."""
    environment = {**os.environ, **(updateEnvironment or {})}
    hidden = None
    if os.name == "nt":
        hidden = subprocess.STARTUPINFO()
        hidden.dwFlags = subprocess.STARTF_USESHOWWINDOW
        hidden.wShowWindow = subprocess.SW_HIDE
    return subprocess.Popen(args, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, startupinfo=hidden, cwd=cwd)


class LoggedProcess:
    """A started process whose output a thread copies, line by line, into ``log_path`` (appended).

    The thread must run: a pipe nobody reads fills up and then blocks the child. It also keeps the
    latest progress line of ``stages`` (None: any) and the latest line, so that the panel's timer
    reads no file.
    """

    def __init__(self, process: subprocess.Popen[str], log_path: Path,
                 stages: tuple[str, ...] | None = None) -> None:
        self.process = process
        self.stages = stages
        self.progress: Progress | None = None
        self.last_line = ""
        self._drained = False
        # A byte the locale cannot decode must not stop the copy (and with it the child).
        process.stdout.reconfigure(errors="replace")
        self._copier = threading.Thread(target=self._copy, args=(Path(log_path),), daemon=True)
        self._copier.start()

    def _copy(self, log_path: Path) -> None:
        with self.process.stdout as output, open(log_path, "a", encoding="utf-8") as log:
            for line in output:
                log.write(line)
                log.flush()  # the log is read while the run goes on
                progress = parse_progress(line)
                if progress is not None and (self.stages is None or progress.stage in self.stages):
                    self.progress = progress
                if line.strip():
                    self.last_line = progress.message if progress is not None else line.strip()

    def poll(self) -> int | None:
        """The exit code once the process has ended and its output is in the log, else None."""
        code = self.process.poll()
        if code is not None and not self._drained:
            # Once only: processes it left behind may hold the pipe open, and the panel's timer
            # must not wait each time. Their output then stops here.
            self._copier.join(DRAIN_SECONDS)
            self._drained = True
        return code

    def end(self) -> None:
        """End the process and every process under it: SIGTERM, then SIGKILL for those still there."""
        import psutil

        if self.process.poll() is not None:
            return  # its id, once reaped, may already be another process's
        try:
            # Listed before any is ended: a child whose parent has gone no longer shows in the tree.
            descendants = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        for process in descendants:
            try:
                process.terminate()
            except psutil.NoSuchProcess:
                pass
        # Through Popen, not psutil: psutil would reap the process and Popen then reads its code as 0.
        self.process.terminate()
        _, alive = psutil.wait_procs(descendants, timeout=END_GRACE_SECONDS)
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=END_GRACE_SECONDS)
        try:
            self.process.wait(END_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.poll()
