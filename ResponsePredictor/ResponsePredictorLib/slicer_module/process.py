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
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..engine_status import Progress, parse_progress

if TYPE_CHECKING:
    import psutil

# How long the processes of a tree get to end after SIGTERM before they are killed.
END_GRACE_SECONDS = 5.0
END_POLL_SECONDS = 0.05  # end()'s pause between looks
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
                           cwd: str | None = None, *, with_input: bool = False,
                           startup_environment: Callable[[], Mapping[str, str]] | None = None) -> subprocess.Popen[str]:
    """``slicer.util.launchConsoleProcess``: output and errors on one text pipe, and on Windows no
    console window (one would open for every run, and closing it would kill the job).

    ``startup_environment``: where the environment comes from when ``useStartupEnvironment`` (in
    Slicer ``slicer.util.startupEnvironment``, without what Slicer's launcher set); default this
    process's, which outside Slicer is the startup one. ``with_input``: the child's stdin is a text
    pipe the caller writes to (``Popen.stdin``). Slicer's own function gives the child none, so it
    would read Slicer's stdin; the interactive session needs its requests.
    """
    base = startup_environment() if useStartupEnvironment and startup_environment else os.environ
    environment = {**base, **(updateEnvironment or {})}
    hidden = None
    if os.name == "nt":
        hidden = subprocess.STARTUPINFO()
        hidden.dwFlags = subprocess.STARTF_USESHOWWINDOW
        hidden.wShowWindow = subprocess.SW_HIDE
    return subprocess.Popen(args, env=environment, stdin=subprocess.PIPE if with_input else None,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            startupinfo=hidden, cwd=cwd)


class LoggedProcess:
    """A started process whose output a thread copies, line by line, into ``log_path`` (appended).

    The thread must run: a pipe nobody reads fills up and then blocks the child. It also keeps the
    latest progress line of ``stages`` (None: any), so that the panel's timer reads no file, and
    hands every line to ``listen`` (on the thread), for a process that answers on its output.

    Every process seen under this one is remembered (``poll`` looks): one whose parent has ended no
    longer shows in the tree, and must still be ended with it.
    """

    def __init__(self, process: subprocess.Popen[str], log_path: Path,
                 stages: tuple[str, ...] | None = None, listen: Callable[[str], None] | None = None) -> None:
        self.process = process
        self.stages = stages
        self.listen = listen
        self.progress: Progress | None = None
        self._tree: set[psutil.Process] = set()  # every process seen under this one
        self._terminated: set[psutil.Process] = set()  # those sent SIGTERM
        self._kill_at: float | None = None  # once terminated: when those still running get SIGKILL
        self._drained = False
        try:
            # The engine writes UTF-8 (PYTHONIOENCODING), whatever the locale; a byte that is not
            # UTF-8 must not stop the copy (and with it the child).
            process.stdout.reconfigure(encoding="utf-8", errors="replace")
        except (AttributeError, ValueError):  # not a text stream that can change: read as it is
            pass
        # Opened here, not in the thread, so that ``_drain`` can close it: on Windows an open log
        # keeps the run folder from being removed.
        self._log = open(Path(log_path), "a", encoding="utf-8")
        self._copier = threading.Thread(target=self._copy, daemon=True)
        self._copier.start()

    def _copy(self) -> None:
        try:
            with self.process.stdout as output:
                for line in output:
                    self._log.write(line)
                    self._log.flush()  # the log is read while the run goes on
                    progress = parse_progress(line)
                    if progress is not None and (self.stages is None or progress.stage in self.stages):
                        self.progress = progress
                    if self.listen is not None:
                        self.listen(line)
        except (ValueError, OSError):  # the log was closed by _drain: what comes after is not kept
            pass
        finally:
            self._log.close()

    def poll(self) -> int | None:
        """The exit code once the process has ended (after ``terminate``, every process under it
        too) and its output is in the log, else None. Never waits long: the panel's timer calls it."""
        code = self.process.poll()
        running = self._watch(everything=self._kill_at is not None)
        if self._kill_at is not None and (code is None or running):
            now = time.monotonic()
            # Past a second grace after the kill, what is left cannot be ended (another user's, say):
            # the run is over all the same once its own process has gone.
            if code is None or now < self._kill_at + END_GRACE_SECONDS:
                kill = now >= self._kill_at
                self._stop(running, kill=kill, launcher=kill)
                return None
        if code is None:
            return None
        self._drain()
        return code

    def terminate(self) -> bool:
        """Ask the process and every process seen under it to stop (SIGTERM), without waiting;
        ``poll`` kills those still running END_GRACE_SECONDS later and says when all have ended.
        True when the process itself was still running."""
        running = self._watch(everything=True)  # listed before any is ended: orphans leave the tree
        launcher = self.process.poll() is None
        if (launcher or running) and self._kill_at is None:
            self._kill_at = time.monotonic() + END_GRACE_SECONDS
            self._stop(running, kill=False, launcher=True)
        return launcher

    def end(self) -> None:
        """``terminate``, then wait until nothing of the tree is left (processes a pool starts
        meanwhile included), killing what is still there after the grace."""
        self.terminate()
        deadline = time.monotonic() + 2 * END_GRACE_SECONDS + 1.0  # poll gives up by then
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(END_POLL_SECONDS)
        self._drain()

    def _watch(self, everything: bool) -> list[psutil.Process]:
        """Remember the processes now under this one (``everything``: also under those seen before,
        for workers a pool starts anew); returns those seen that are still running."""
        import psutil

        roots = [process for process in self._tree if everything and _running(process)]
        if self.process.poll() is None:  # once reaped, its id may already be another process's
            try:
                roots.append(psutil.Process(self.process.pid))
            except psutil.Error:
                pass
        for root in roots:
            try:
                self._tree.update(root.children(recursive=True))
            except psutil.Error:
                pass
        return [process for process in self._tree if _running(process)]

    def _stop(self, running: list[psutil.Process], kill: bool, launcher: bool) -> None:
        """SIGTERM to those of ``running`` not asked before, or SIGKILL (``kill``) to all of them; to
        the process itself too when ``launcher``."""
        import psutil

        for process in running:
            if kill or process not in self._terminated:
                try:
                    process.kill() if kill else process.terminate()
                except psutil.Error:
                    pass
                self._terminated.add(process)
        if launcher and self.process.poll() is None:
            # Through Popen, not psutil: Popen must stay the one that reaps it, to read its exit code.
            self.process.kill() if kill else self.process.terminate()

    def _drain(self) -> None:
        """Once the process has ended: let its last output reach the log, then make sure the log is
        closed. Processes it left behind may hold the pipe open; their output then stops here."""
        if not self._drained:
            self._copier.join(DRAIN_SECONDS)
            self._log.close()  # a copier still running fails its next write, and ends
            self._drained = True


def _running(process: psutil.Process) -> bool:
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE  # a zombie has ended
    except psutil.Error:
        return False
