"""Saving and loading models without pickle: nothing read from a model folder can run code.

A model folder holds

    model.json       format version, outcome, the fitted model's numbers and names, library
                     versions, the model card's content, and the pyradiomics settings its features
                     were computed with (so that a new case and its heatmap get the same features)
    arrays.npz       numpy arrays, read with ``allow_pickle=False`` (numbers only)
    lightgbm/*.txt   LightGBM boosters in LightGBM's own text format
    model_card.md    the model card for people
    manifest.json    the SHA-256 of every file above

Loading checks every file against the manifest first, so a file altered, truncated or swapped
since saving is refused; with ``fingerprint`` (the SHA-256 of manifest.json, which a catalog
publishes) the manifest itself is checked too, which is what makes a downloaded model trusted.
Then only known kinds of model and learner are rebuilt, from a registry, never by importing a
name found in the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import ModelFileError
from ..versions import installed_versions
from .models import OutcomeModel, model_from_state
from .references import FittedReference
from .table import Outcome, outcome_from_dict

FORMAT = "responsepredictor-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MODEL_JSON = "model.json"
ARRAYS = "arrays.npz"
CARD_MD = "model_card.md"
# Recorded with every model: the libraries whose fitting produced its numbers (name -> distribution).
LIBRARIES = {"numpy": "numpy", "scipy": "scipy", "pandas": "pandas", "sklearn": "scikit-learn",
             "sksurv": "scikit-survival", "lightgbm": "lightgbm"}


@dataclass(frozen=True)
class SavedModel:
    """A model read from its folder, with what it predicts and its card."""

    model: OutcomeModel
    outcome: Outcome
    card: dict[str, Any]
    fingerprint: str
    directory: Path
    feature_settings: dict[str, Any] | None = None  # None: the table's features came from elsewhere
    # Tumor volume alone, clinical alone, the plain learner, fitted on the model's training table (none in
    # a model saved before references existed).
    references: list[FittedReference] = field(default_factory=list)
    # The other scans' settings and the peritumoral shells of a multimodal model (``features.recipe``
    # ``FeatureRecipe.to_dict``); None for a model of one scan's tumor.
    feature_recipe: dict[str, Any] | None = None


def save_model(
    model: OutcomeModel,
    outcome: Outcome,
    directory: str | Path,
    card: dict[str, Any],
    card_markdown: str,
    feature_settings: dict[str, Any] | None = None,
    references: Sequence[FittedReference] = (),
    feature_recipe: dict[str, Any] | None = None,
) -> str:
    """Write the model folder (replacing an earlier model there) and return its fingerprint.

    ``feature_settings``: the pyradiomics settings (as ``features.load_settings`` returns them) that
    produced the model's radiomic features, when known. ``references``: the fitted references
    (``TrainingResult.references``) that ``evaluate`` scores beside the model. ``feature_recipe``: the
    other scans' settings and the shells, for a model of a multimodal table.
    """
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()) and not (directory / MANIFEST).is_file():
        raise ModelFileError(f"{directory} exists and is not a model folder; choose a new or empty folder.")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.", suffix=".partial"))
    try:
        files = _write_files(staging, model, outcome, card, card_markdown, feature_settings, references, feature_recipe)
        manifest = json.dumps({"format": FORMAT, "files": files}, indent=2, sort_keys=True).encode()
        (staging / MANIFEST).write_bytes(manifest)
        staging.chmod(0o755)
        # Swap folders so that a reader never sees half a model, then remove the old one.
        retired = directory.with_name(f".{directory.name}.old") if directory.exists() else None
        if retired:
            shutil.rmtree(retired, ignore_errors=True)
            directory.rename(retired)
        staging.rename(directory)
        if retired:
            shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _sha256(manifest)


def load_model(directory: str | Path, fingerprint: str | None = None) -> SavedModel:
    """Read a model folder, refusing anything that does not match its manifest (and ``fingerprint``)."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ModelFileError(f"{directory} is not a model folder (no {MANIFEST}); give the folder that 'train' wrote.")
    manifest_bytes = manifest_path.read_bytes()
    actual = _sha256(manifest_bytes)
    if fingerprint is not None and actual != fingerprint.lower():
        raise ModelFileError(f"{directory} is not the expected model: its fingerprint is {actual}, expected {fingerprint}.")
    try:
        files = json.loads(manifest_bytes)["files"]
        if not isinstance(files, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise ModelFileError(f"{manifest_path} is not a valid manifest.") from None
    for name in files:  # every name first, so that nothing is read before all are known to be inside
        _inside(directory, name)
    contents = {name: _verified(directory, name, digest) for name, digest in files.items()}
    if MODEL_JSON not in contents:
        raise ModelFileError(f"{manifest_path} does not list {MODEL_JSON}.")
    try:
        document = json.loads(contents[MODEL_JSON])
        if document.get("format") != FORMAT or document.get("format_version") != FORMAT_VERSION:
            raise ModelFileError(
                f"{directory} holds format {document.get('format')!r} version {document.get('format_version')!r}; this "
                f"version of ResponsePredictor reads {FORMAT} version {FORMAT_VERSION}."
            )
        arrays = _read_arrays(contents[ARRAYS]) if ARRAYS in contents else {}
        state = _decode(document["model"], arrays, contents)
        model = model_from_state(state)
        outcome = outcome_from_dict(document["outcome"])
        references = [FittedReference.from_state(_decode(item, arrays, contents)) for item in document.get("references", [])]
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise ModelFileError(f"{directory} matches its manifest but its content is malformed ({type(error).__name__}: {error}).") from None
    settings, recipe = document.get("feature_settings"), document.get("feature_recipe")
    if any(value is not None and not isinstance(value, dict) for value in (settings, recipe)):
        raise ModelFileError(f"{directory} matches its manifest but its feature settings are not a mapping.")
    return SavedModel(model, outcome, document.get("card", {}), actual, directory, settings, references, recipe)


def _write_files(
    folder: Path,
    model: OutcomeModel,
    outcome: Outcome,
    card: dict[str, Any],
    card_markdown: str,
    feature_settings: dict[str, Any] | None,
    references: Sequence[FittedReference],
    feature_recipe: dict[str, Any] | None,
) -> dict[str, str]:
    arrays: dict[str, np.ndarray] = {}
    texts: dict[str, str] = {}
    document = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "outcome": outcome.to_dict(),
        "model": _encode(model.to_state(), arrays, texts), "versions": library_versions(), "card": card,
        "feature_settings": feature_settings,
        **({"feature_recipe": feature_recipe} if feature_recipe is not None else {}),
        "references": [_encode(reference.to_state(), arrays, texts) for reference in references],
    }
    payload = {MODEL_JSON: json.dumps(document, indent=1, default=_plain).encode(), CARD_MD: card_markdown.encode()}
    if arrays:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        payload[ARRAYS] = buffer.getvalue()
    payload.update({name: text.encode() for name, text in texts.items()})
    for name, data in payload.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        (folder / name).chmod(0o644)
    return {name: _sha256(data) for name, data in sorted(payload.items())}


def _encode(value: Any, arrays: dict[str, np.ndarray], texts: dict[str, str]) -> Any:
    """A JSON-able copy of a state: arrays and boosters replaced by references to their files."""
    if isinstance(value, dict):
        return {str(key): _encode(item, arrays, texts) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item, arrays, texts) for item in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"only numeric arrays are saved, not {value.dtype}")
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"$array": key}
    if type(value).__name__ == "Booster" and type(value).__module__.startswith("lightgbm"):
        name = f"lightgbm/{len(texts)}.txt"
        texts[name] = value.model_to_string()
        return {"$lightgbm": name}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value: Any, arrays: dict[str, np.ndarray], contents: dict[str, bytes]) -> Any:
    if isinstance(value, list):
        return [_decode(item, arrays, contents) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"$array"}:
        return arrays[value["$array"]]
    if set(value) == {"$lightgbm"}:
        import lightgbm

        if value["$lightgbm"] not in contents:
            raise ModelFileError(f"The model refers to {value['$lightgbm']}, which its manifest does not list.")
        return lightgbm.Booster(model_str=contents[value["$lightgbm"]].decode())
    return {key: _decode(item, arrays, contents) for key, item in value.items()}


def _read_arrays(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _inside(directory: Path, name: str) -> Path:
    path = (directory / name).resolve()
    if Path(name).is_absolute() or ".." in Path(name).parts or directory.resolve() not in path.parents:
        raise ModelFileError(f"The manifest of {directory} names a file outside the model folder: {name!r}.")
    return path


def _verified(directory: Path, name: str, digest: str) -> bytes:
    path = _inside(directory, name)
    if not path.is_file():
        raise ModelFileError(f"{directory} is incomplete: {name} is missing. Copy the whole model folder again.")
    data = path.read_bytes()
    if _sha256(data) != digest:
        raise ModelFileError(
            f"{directory / name} has changed since the model was saved (its SHA-256 does not match the manifest). "
            "Do not use it; copy the model folder again from its source."
        )
    return data


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} cannot be saved in model.json")


def library_versions() -> dict[str, str]:
    return {"responsepredictor": __version__, "python": platform.python_version(), **installed_versions(LIBRARIES)}
