"""The interactive segmentation session seen from the Slicer module: ``responsepredictor segment-session``
running in the background on one scan, sent the user's points, its masks read back. No MRML here.

Started as the module's other runs are (``EngineRun``: through Slicer's Python launcher, its whole
process tree ended with it, its output in a log, its temporary folder removed at the end), but with
a pipe for the requests, and one request in flight at a time: points placed while the engine works
replace each other, and only the latest set is sent once it answers (``submit``). Nothing here
blocks: the panel's timer calls ``receive``.
"""

from __future__ import annotations

import functools
import itertools
import queue
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..devices import DEVICES
from ..session_protocol import PROTOCOL, Answer, Prompts, Ready, Request, read_answer, request_line
from .background import LOG_FILE
from .engine_run import EngineRun, PythonCommand, engine_command
from .process import Launch, launch_console_process
from .work_folders import new_run

if TYPE_CHECKING:
    from ..volume import Volume

@dataclass(frozen=True)
class Refined:
    """An answer with the prompts it answers, and the time from sending them to reading the answer."""

    prompts: Prompts
    answer: Answer
    round_trip_seconds: float


class ProtocolMismatch(RuntimeError):
    """The engine speaks another version of the session's messages (a mixed installation)."""


def _slicer_app() -> Any:
    """The Slicer application, or None (slicer-core, a terminal)."""
    return getattr(sys.modules.get("slicer"), "app", None)


def session_launch() -> Launch:
    """How the session starts: as Slicer starts its console processes (its startup environment, no
    console window on Windows), and with a pipe for the requests."""
    startup = sys.modules["slicer"].util.startupEnvironment if _slicer_app() is not None else None
    return functools.partial(launch_console_process, with_input=True, startup_environment=startup)


class SegmentSession(EngineRun):
    """The engine's segment-session process on one scan. Start one with ``start``; ``close()`` ends it
    without waiting, ``poll()`` says when it has ended, ``cleanup()`` removes its folder."""

    def __init__(self, folder: Path, image: Path, *, model: str | None = None, device: str = DEVICES[0],
                 python: PythonCommand | None = None, launch: Launch | None = None) -> None:
        self.ready: Ready | None = None
        self._answers: queue.SimpleQueue[Ready | Answer] = queue.SimpleQueue()
        self._ids = itertools.count(1)
        self._in_flight: tuple[Request, float] | None = None  # the request sent, and when
        self._next: Prompts | None = None  # the latest prompts not sent yet
        self._closed = False
        arguments = ["segment-session", str(image), "--device", device, *(["--model", model] if model else [])]
        super().__init__([engine_command(arguments, python)], folder=folder, log_path=Path(folder) / LOG_FILE,
                         launch=launch or session_launch(), listen=self._hear)

    @classmethod
    def start(cls, image: Volume, *, model: str | None = None, device: str = DEVICES[0],
              python: PythonCommand | None = None, launch: Launch | None = None,
              work_root: str | Path | None = None) -> SegmentSession:
        """Write the scan into a new work folder and start the session on it (``model``: None for the
        catalog's default; ``work_root``: where work folders go, default Slicer's temporary folder, or
        outside Slicer the system's). The scan is written uncompressed: it is read once, at once."""
        from ..volume import write_volume  # SimpleITK: only once a session starts

        app = _slicer_app()
        with new_run(work_root or (app.temporaryPath if app is not None else None)) as folder:
            return cls(folder, write_volume(image, folder / "image.nrrd", compress=False), model=model,
                       device=device, python=python, launch=launch)

    @property
    def busy(self) -> bool:
        """Loading, or prompts sent or waiting: the panel keeps polling."""
        return self.poll() is None and (self.ready is None or self._in_flight is not None or self._next is not None)

    def submit(self, prompts: Prompts) -> None:
        """Segment with ``prompts``: sent now when the session is ready and idle, else kept as the next
        to send, replacing any kept before (the user's latest points count, not those in between)."""
        self._next = prompts
        self._send_next()

    def withdraw(self) -> None:
        """Forget the prompts waiting to be sent (the panel has the mask for the points shown already)."""
        self._next = None

    def receive(self) -> list[Refined]:
        """The answers that came since the last call, each with its prompts; sends the next prompts once
        the one in flight is answered. Never blocks. ``ProtocolMismatch`` for an engine that speaks
        another protocol version (the session is closed)."""
        refined = []
        while True:
            try:
                message = self._answers.get_nowait()
            except queue.Empty:
                break
            if isinstance(message, Ready):
                if message.protocol != PROTOCOL:
                    self.close()
                    raise ProtocolMismatch(f"The engine's segmentation session speaks protocol {message.protocol}, "
                                           f"this module {PROTOCOL}: reinstall the extension.")
                self.ready = message
            elif self._in_flight is not None and message.id == self._in_flight[0].id:
                request, sent = self._in_flight
                self._in_flight = None
                refined.append(Refined(request.prompts, message, time.monotonic() - sent))
        self._send_next()
        return refined

    def close(self) -> None:
        """End the session without waiting: its input ends (the engine's way to stop) and its process
        tree is told to stop, as a cancelled run's is (the launcher forwards no signal)."""
        self._closed = True
        self._next = None
        try:
            self._process.process.stdin.close()
        except OSError:  # it had ended: the pipe is broken
            pass
        self.cancel()

    @property
    def closed(self) -> bool:
        return self._closed

    def failure_message(self, message: str) -> str:
        return f"The interactive segmentation session stopped. {message}"

    def _hear(self, line: str) -> None:
        """On the thread that reads the output: the session's messages, in order."""
        message = read_answer(line)
        if message is not None:
            self._answers.put(message)

    def _send_next(self) -> None:
        if self._next is None or self.ready is None or self._in_flight is not None or self._closed:
            return
        request_id = next(self._ids)
        request = Request(request_id, self._next, str(self.folder / f"mask-{request_id}.nrrd"))
        self._next = None
        try:
            self._process.process.stdin.write(request_line(request) + "\n")
            self._process.process.stdin.flush()
        except OSError:  # it has ended; poll() says so, and check() how
            return
        self._in_flight = (request, time.monotonic())
