"""The background runs' temporary folders: one per run, named after the process that owns it, and
removed whatever the end of the run, including what a crashed Slicer left behind.

They hold copies of patient images, so none may outlive its run: a folder that cannot be removed
at once (Windows refuses while a file in it is still open) is tried again for a moment, then again
at the next run's start and end while this process lives, and what is left after a crash is removed
at the next start, once its owner process is gone. Only folders named as these ones are ever removed.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIX = "ResponsePredictor-run-"
# PREFIX, the owner's process id and start time (whole seconds since 1970), then mkdtemp's random part.
NAME = re.compile(re.escape(PREFIX) + r"(\d+)-(\d+)-\w+")
REMOVE_ATTEMPTS = 10
REMOVE_PAUSE_SECONDS = 0.2

# This process's run folders that could not be removed yet. Its own folders are never stale (its
# other runs may be using theirs), so these are remembered here to be tried again while it lives.
_left_behind: set[Path] = set()


def new_run_folder(root: str | Path | None = None) -> Path:
    """A new, empty run folder under ``root`` (default: the system's temporary folder), made after
    removing those that ended owners left there, and this process's that could not be removed before."""
    root = Path(root).absolute() if root else Path(tempfile.gettempdir())  # the engine runs elsewhere
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_run_folders(root)
    remove_left_behind()
    pid, started = _owner()
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{pid}-{started}-", dir=root))


@contextmanager
def new_run(root: str | Path | None = None) -> Iterator[Path]:
    """``new_run_folder`` for a run being set up in the block: removed again when the block fails."""
    folder = new_run_folder(root)
    try:
        yield folder
    except BaseException:
        remove_run_folder(folder)
        raise


def remove_run_folder(folder: Path, attempts: int = REMOVE_ATTEMPTS) -> bool:
    """Remove a run folder; True once it is gone. One that is still there after ``attempts`` is
    remembered for ``remove_left_behind``. Anything not named as a run folder is left alone."""
    folder = Path(folder)
    if not NAME.fullmatch(folder.name):
        raise ValueError(f"{folder} is not a ResponsePredictor run folder; it was not removed.")
    for attempt in range(attempts):
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:
            break
        except OSError:
            # Windows: a process that just ended may hold a file for a moment longer.
            if attempt + 1 < attempts:
                time.sleep(REMOVE_PAUSE_SECONDS)
        else:
            break
    if folder.exists():
        _left_behind.add(folder)
        return False
    _left_behind.discard(folder)
    return True


def remove_left_behind() -> None:
    """Try once more (once: the panel's timer may be the caller) the folders not removed before."""
    for folder in list(_left_behind):
        remove_run_folder(folder, attempts=1)


def remove_stale_run_folders(root: str | Path | None = None) -> list[Path]:
    """Remove the run folders under ``root`` whose owner process has ended (a crashed or killed
    Slicer); returns those removed. The folders of a live process, this one included, stay."""
    root = Path(root) if root else Path(tempfile.gettempdir())
    removed = []
    for folder in root.glob(f"{PREFIX}*"):
        match = NAME.fullmatch(folder.name)
        if match and folder.is_dir() and not _alive(int(match[1]), int(match[2])) and remove_run_folder(folder):
            removed.append(folder)
    return removed


def _owner() -> tuple[int, int]:
    import psutil

    return os.getpid(), int(psutil.Process().create_time())


def _alive(pid: int, started: int) -> bool:
    """Whether the process that made a folder still runs (the start time tells a reused id apart)."""
    import psutil

    try:
        # One second of slack: the start time is read as a float, its whole part could differ by one.
        return abs(int(psutil.Process(pid).create_time()) - started) <= 1
    except psutil.NoSuchProcess:  # zombies included: they have ended
        return False
    except psutil.AccessDenied:  # another user's process: keep its folder, to be safe
        return True
