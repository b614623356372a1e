"""The messages of the interactive segmentation session (``responsepredictor segment-session``): one
JSON object per line, requests in on stdin, answers out on stdout.

A request (stdin carries nothing else):

    {"id": 7, "tumor": [[x, y, z], ...], "not_tumor": [[x, y, z], ...], "box": [x0, y0, z0, x1, y1, z1] or null,
     "mask": "/absolute/path/mask-7.nrrd"}

Points and box corners are LPS millimetres of the scan's physical space; the first tumor point (or the
box) decides the region the network is shown. ``mask`` is where to write the tumor mask (the scan's
grid, uint8): a file that does not exist yet, as the session never replaces one.

Answers are prefixed ``RP-SESSION`` (the process's output also carries progress lines and library
warnings, and inside Slicer stdout and stderr share one pipe):

    RP-SESSION {"event": "ready", "protocol": 1, "model": "...", "version": "...", "not_tumor_points": false,
                "box": true, "device": "cpu", "seconds": 4.2}                 once, when model and scan are loaded
    RP-SESSION {"event": "mask", "id": 7, "mask": "...", "voxels": 5321, "seconds": 0.31, "warnings": [...]}
    RP-SESSION {"event": "error", "id": 7, "error": "The not-tumor point ... lies outside ..."}

Each request gets one answer, in order; a request the engine refuses (bad input, or a line that is not
a request) is answered with an error and the session goes on. End of input ends the session.
``PROTOCOL`` changes whenever a message changes meaning; a client refuses a session that speaks another.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .segment.prompts import Point, Prompts  # hashable: a client remembers the mask each set of prompts gave

PROTOCOL = 1
PREFIX = "RP-SESSION"


class RequestError(InputError):
    """A line on the session's input that is not a request; ``request_id``: its id, when it had one."""

    def __init__(self, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


@dataclass(frozen=True)
class Request:
    id: int
    prompts: Prompts
    mask: str


@dataclass(frozen=True)
class Ready:
    """The session has loaded its model and scan: what the model takes, and how long loading took."""

    model: str
    version: str
    not_tumor_points: bool
    box: bool
    device: str
    seconds: float
    protocol: int = PROTOCOL


@dataclass(frozen=True)
class Answer:
    """A request's outcome: the mask written (``error`` None) or why not."""

    id: int | None
    mask: str | None = None
    voxels: int = 0
    seconds: float = 0.0
    warnings: tuple[str, ...] = field(default_factory=tuple)
    error: str | None = None


def request_line(request: Request) -> str:
    prompts = request.prompts
    return json.dumps({"id": request.id, "tumor": [list(p) for p in prompts.seeds],
                       "not_tumor": [list(p) for p in prompts.negatives],
                       "box": None if prompts.box is None else list(prompts.box), "mask": request.mask})


def read_request(line: str) -> Request:
    """The request on one input line; ``RequestError`` saying what is wrong with it."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise RequestError(f"Not a JSON request ({error.msg} at column {error.colno}); each line is one JSON "
                           "object with id, tumor, not_tumor, box and mask.") from None
    if not isinstance(record, dict):
        raise RequestError("A request is a JSON object with id, tumor, not_tumor, box and mask.")
    request_id = record.get("id")
    if not isinstance(request_id, int) or isinstance(request_id, bool):
        raise RequestError(f"A request's id is a whole number; got {request_id!r}.")
    mask = record.get("mask")
    if not isinstance(mask, str) or not mask:
        raise RequestError("A request names the mask file to write (\"mask\": an absolute path).", request_id)
    if not Path(mask).is_absolute():
        raise RequestError(f"The mask path {mask} is not absolute: the session runs in a folder of its own.",
                           request_id)
    box = record.get("box")
    try:
        prompts = Prompts(_points(record.get("tumor"), "tumor"), _points(record.get("not_tumor"), "not_tumor"),
                          None if box is None else _numbers(box, 6, "box"))
    except RequestError as error:
        raise RequestError(str(error), request_id) from None
    return Request(request_id, prompts, mask)


def answer_line(message: Ready | Answer) -> str:
    """The line the session prints for ``message``."""
    if isinstance(message, Ready):
        record: dict[str, Any] = {"event": "ready", "protocol": message.protocol, "model": message.model,
                                  "version": message.version, "not_tumor_points": message.not_tumor_points,
                                  "box": message.box, "device": message.device, "seconds": message.seconds}
    elif message.error is not None:
        record = {"event": "error", "id": message.id, "error": message.error}
    else:
        record = {"event": "mask", "id": message.id, "mask": message.mask, "voxels": message.voxels,
                  "seconds": message.seconds, "warnings": list(message.warnings)}
    return f"{PREFIX} {json.dumps(record)}"


def read_answer(line: str) -> Ready | Answer | None:
    """The session's message on one output line; None for any other line (progress, warnings)."""
    head, _, body = line.strip().partition(" ")
    if head != PREFIX:
        return None
    try:
        record = json.loads(body)
        event = record["event"]
        if event == "ready":
            return Ready(str(record["model"]), str(record["version"]), bool(record["not_tumor_points"]),
                         bool(record["box"]), str(record["device"]), float(record["seconds"]), int(record["protocol"]))
        if event == "error":
            return Answer(record.get("id"), error=str(record["error"]))
        if event == "mask":
            return Answer(int(record["id"]), str(record["mask"]), int(record["voxels"]), float(record["seconds"]),
                          tuple(str(warning) for warning in record.get("warnings", [])))
    except (ValueError, KeyError, TypeError):
        pass
    return None  # not a message of this protocol version: left in the log


def _points(value: Any, name: str) -> tuple[Point, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RequestError(f"A request's {name} is a list of points [x, y, z]; got {value!r}.")
    return tuple(_numbers(point, 3, f"{name} point") for point in value)


def _numbers(value: Any, count: int, name: str) -> tuple[float, ...]:
    if (not isinstance(value, list) or len(value) != count
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        raise RequestError(f"A request's {name} is {count} finite numbers (mm, LPS); got {value!r}.")
    return tuple(float(v) for v in value)
