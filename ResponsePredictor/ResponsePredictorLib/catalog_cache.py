"""The user's model cache: weights downloaded or imported, one folder per model version.

Layout: ``<root>/<model id>/<version>/<weights file>``, root from ``RP_MODEL_CACHE`` or
``~/.cache/responsepredictor/models``. A file appears under its final name only once it is
complete and checked (``files.atomic_file``), so a crash or a cut connection never leaves a file that a
later run would take for good weights.
"""

from __future__ import annotations

import os
from pathlib import Path

from .catalog_file import CatalogEntry
from .errors import InputError

CACHE_ENV = "RP_MODEL_CACHE"


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
