"""Files in and out: written so that none is ever seen half-written under its final name; JSON read
with errors that say which file and why."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InputError


@contextlib.contextmanager
def atomic_file(target: Path, suffix: str = ".partial") -> Iterator[Path]:
    """A temporary path beside ``target`` that becomes ``target`` only if the block ends without error.

    ``suffix`` ends the temporary name: writers that choose a format by extension need theirs.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the target, so the final rename stays on one file system and is atomic.
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(handle)
    os.chmod(name, 0o644)  # mkstemp makes files private (0600); results and weights are not
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def read_json(path: Path, what: str, *, error: type[Exception] = InputError, advice: str = "") -> Any:
    """The JSON document in ``path`` (``what`` it is, for messages), or ``error`` saying why it cannot be had.

    ``advice`` ends every message: what the user can do about it.
    """
    tail = f" {advice}" if advice else ""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"The {what} {path} does not exist.{tail}") from None
    except (OSError, UnicodeDecodeError) as reason:
        raise error(f"Cannot read the {what} {path}: {reason}.{tail}") from None
    except json.JSONDecodeError as reason:
        raise error(f"The {what} {path} is not valid JSON (line {reason.lineno}, column {reason.colno}: "
                    f"{reason.msg}).{tail}") from None


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex), read in blocks: weights and scans can be large."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
