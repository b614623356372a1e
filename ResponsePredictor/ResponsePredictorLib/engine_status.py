"""What the engine tells the process that started it: how far it has got, and how it ended.

Both are opt-in through environment variables, which the Slicer module sets for its background
runs, so that a terminal sees the same output as ever:

- ``RESPONSEPREDICTOR_PROGRESS=1``: at each stage a line ``RP-PROGRESS <stage> <fraction|-> <message>``
  on stderr (fraction 0..1 of the whole command, ``-`` where unknown);
- ``RESPONSEPREDICTOR_STATUS_FILE=PATH``: the command's exit code and error, written to PATH as its
  last act (``{"exit": 3, "error": "..."}``). A run that ends without that file did not end by
  itself: it was killed or crashed. The exit code cannot tell, as Slicer's ``PythonSlicer``
  launcher turns a crashed child into 1, the code of an internal error.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .files import atomic_file

# The command line's exit codes (what ``cli`` returns and what the marker records).
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INPUT = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl+C

PROGRESS_VARIABLE = "RESPONSEPREDICTOR_PROGRESS"
STATUS_FILE_VARIABLE = "RESPONSEPREDICTOR_STATUS_FILE"
PROGRESS_PREFIX = "RP-PROGRESS"
UNKNOWN_FRACTION = "-"


@dataclass(frozen=True)
class Progress:
    stage: str  # one word: load, read, segment, features, predict, heatmap, write, cohort, report
    fraction: float | None  # of the whole command, 0..1; None where it cannot be told
    message: str  # a sentence for the user


@dataclass(frozen=True)
class Ending:
    exit: int  # one of the EXIT_ codes
    error: str | None = None  # what went wrong, in a sentence; None when done


def report_progress(stage: str, fraction: float | None, message: str) -> None:
    """Say that ``stage`` begins, when the starting process asked for progress lines."""
    if os.environ.get(PROGRESS_VARIABLE):
        print(progress_line(Progress(stage, fraction, message)), file=sys.stderr, flush=True)


def progress_line(progress: Progress) -> str:
    fraction = UNKNOWN_FRACTION if progress.fraction is None else f"{progress.fraction:.3f}"
    return f"{PROGRESS_PREFIX} {progress.stage} {fraction} {progress.message}"


def parse_progress(line: str) -> Progress | None:
    """The progress a line of the engine's output reports, or None for any other line."""
    parts = line.strip().split(" ", 3)
    if len(parts) < 3 or parts[0] != PROGRESS_PREFIX:
        return None
    try:
        fraction = None if parts[2] == UNKNOWN_FRACTION else min(1.0, max(0.0, float(parts[2])))
    except ValueError:
        return None
    return Progress(parts[1], fraction, parts[3] if len(parts) == 4 else "")


def status_file() -> Path | None:
    """Where the starting process asked for the command's ending, or None (a terminal)."""
    path = os.environ.get(STATUS_FILE_VARIABLE)
    return Path(path) if path else None


def write_ending(path: Path, ending: Ending) -> None:
    # Atomic: the reader takes a file that is there for a command that ended, never half of one.
    with atomic_file(Path(path)) as temporary:
        temporary.write_text(json.dumps({"exit": ending.exit, "error": ending.error}), encoding="utf-8")


def read_ending(path: Path) -> Ending | None:
    """The ending the command wrote, or None when it wrote none (it was killed or crashed)."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        return Ending(int(record["exit"]), record.get("error"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
