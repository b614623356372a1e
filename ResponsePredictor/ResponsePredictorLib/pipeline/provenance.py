"""Fingerprints of a case's inputs and settings, and the software that produced a result.

A result is reused only when its inputs and settings fingerprints both match: the digests here are
what "the same inputs and settings" means.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..dicom import visible_files
from ..errors import ImageReadError
from ..files import sha256_file
from ..predict.persistence import library_versions
from ..versions import installed_versions
from ..volume import Volume

# Besides the modelling libraries ``library_versions`` lists: those that read images, segment and
# extract features (import name -> distribution name). pyradiomics is not one: a case's features are
# computed by our own engine, whether pyradiomics is installed or not.
IMAGING_LIBRARIES = {"SimpleITK": "SimpleITK", "pydicom": "pydicom", "pywt": "PyWavelets", "torch": "torch",
                     "monai": "monai"}


def input_digest(source: str | Path | Volume) -> str:
    """SHA-256 of an input: a file's bytes; a DICOM folder's files (names and bytes, in name order);
    a ``Volume``'s voxels and grid."""
    if isinstance(source, Volume):
        digest = hashlib.sha256(canonical_json([source.array.dtype.str, source.shape, source.spacing, source.origin,
                                                source.direction]).encode())
        digest.update(source.array.tobytes())
        return digest.hexdigest()
    path = Path(source)
    if not path.exists():
        raise ImageReadError(f"File or folder not found: {path}. Check the path (in a manifest: relative to its folder).")
    if not path.is_dir():
        return sha256_file(path)
    digest = hashlib.sha256()
    for file in visible_files(path):  # the files the DICOM reader considers
        digest.update(canonical_json([file.relative_to(path).as_posix(), sha256_file(file)]).encode())
    return digest.hexdigest()


def canonical_json(value: Any) -> str:
    """One text per value (sorted keys, no spacing, tuples as lists): what digests are taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain)


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, Path):
        return value.as_posix()
    raise TypeError(f"{type(value).__name__} is not part of a fingerprint")


def software_versions() -> dict[str, str]:
    """This package's, Python's and every library's version that can change a case's numbers."""
    return {**library_versions(), **installed_versions(IMAGING_LIBRARIES)}


def covariate_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Covariates as they enter a fingerprint: numbers as floats, text as text, unknown as None."""
    plain: dict[str, Any] = {}
    for name, value in sorted(values.items()):
        if value is None or (isinstance(value, float) and value != value) or str(value).strip() == "":
            plain[name] = None
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            plain[name] = float(value)
        else:
            plain[name] = str(value)
    return plain
