"""Writing files so that none is ever seen half-written under its final name."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


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
