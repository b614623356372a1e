"""The user's model cache: weights downloaded or imported, one folder per model version.

Layout: ``<root>/<model id>/<version>/<weights file>``, root from ``RP_MODEL_CACHE`` or
``~/.cache/responsepredictor/models``. A file appears under its final name only once it is
complete and checked (``atomic_file``), so a crash or a cut connection never leaves a file that a
later run would take for good weights.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .catalog_file import CatalogEntry
from .errors import InputError

CACHE_ENV = "RP_MODEL_CACHE"
_PARTIAL_SUFFIX = ".partial"


class CacheError(InputError):
    """A model cache folder that cannot be created or written."""


def unwritable(folder: Path, error: OSError) -> CacheError:
    return CacheError(
        f"Cannot write to the model cache {folder}: {error.strerror or error}. Set {CACHE_ENV} to a folder you can "
        "write to."
    )


def cache_root(root: str | Path | None = None) -> Path:
    """``root`` if given, else ``$RP_MODEL_CACHE``, else ``~/.cache/responsepredictor/models``."""
    if root is not None:
        return Path(root)
    from_env = os.environ.get(CACHE_ENV)
    return Path(from_env) if from_env else Path.home() / ".cache" / "responsepredictor" / "models"


def cached_weights_path(entry: CatalogEntry, root: str | Path | None = None) -> Path:
    return cache_root(root) / entry.spec.id / entry.spec.version / entry.weights.file


@contextlib.contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` that becomes ``target`` only if the block ends without error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the target, so the final rename stays on one file system and is atomic.
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=_PARTIAL_SUFFIX)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
