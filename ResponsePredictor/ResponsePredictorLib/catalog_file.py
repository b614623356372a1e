"""Models described as data: the catalog ``Resources/Models.json`` and a user's ``model.json``.

A catalog entry is a ``ModelSpec`` dict plus where its weights come from and under which terms:

    {"default": "<id>", "models": [{...ModelSpec.to_dict()...,
        "license": "...", "card": "ModelCards/<id>.md",
        "weights": {"file": "<id>-<version>.safetensors", "url": "https://...", "sha256": "...", "size": 123}}]}

A model folder's ``model.json`` has the same shape, with url, sha256 and size optional (a folder
made by hand need not be published anywhere). ``license`` stays in the spec (it travels with the
model into bundles); ``weights`` and ``card`` are file locations and stay here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .files import read_json
from .resources import resource_path
from .segment.network import SAFE_SUFFIXES
from .segment.spec import ModelSpec

CATALOG_FILE = "Models.json"
EMBEDDED_DIR = "Models"  # embedded weights and model cards, beside the catalog file
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # ids, versions and file names used as paths
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class CatalogError(InputError):
    """A catalog or model description that cannot be used, or a model that it does not name."""


@dataclass(frozen=True)
class WeightsInfo:
    file: str
    url: str | None = None
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class CatalogEntry:
    spec: ModelSpec
    weights: WeightsInfo
    card: str | None = None

    @property
    def license(self) -> str:
        return str(self.spec.extra.get("license", ""))


@dataclass(frozen=True)
class Catalog:
    entries: Mapping[str, CatalogEntry]
    default_id: str
    path: Path

    @property
    def embedded_dir(self) -> Path:
        return self.path.parent / EMBEDDED_DIR

    def get(self, model_id: str) -> CatalogEntry:
        if model_id not in self.entries:
            raise CatalogError(
                f"Unknown model {model_id!r}: not a model of {self.path} (known: {', '.join(self.entries)}) and no "
                "such file or folder. A model is a catalog id, a model folder, a MONAI bundle folder or a weights file."
            )
        return self.entries[model_id]

    def default(self) -> CatalogEntry:
        return self.entries[self.default_id]

    def find_by_sha256(self, sha256: str) -> CatalogEntry | None:
        return next((e for e in self.entries.values() if e.weights.sha256 == sha256), None)


def read_catalog(path: str | Path | None = None) -> Catalog:
    """The catalog at ``path`` (default: the module's ``Resources/Models.json``), fully checked."""
    path = Path(path) if path is not None else resource_path(CATALOG_FILE)
    data = read_json(path, "model catalog", error=CatalogError)
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list) or not models:
        raise CatalogError(f"{path}: a model catalog must be an object with a non-empty list 'models'.")
    entries: dict[str, CatalogEntry] = {}
    for number, item in enumerate(models, start=1):
        entry = parse_entry(item, source=f"{path}, model {number}", published=True)
        if entry.spec.id in entries:
            raise CatalogError(f"{path}: model id {entry.spec.id!r} appears twice.")
        entries[entry.spec.id] = entry
    default_id = data.get("default")
    if default_id not in entries:
        raise CatalogError(f"{path}: 'default' must name one of the models ({', '.join(entries)}); got {default_id!r}.")
    return Catalog(entries=entries, default_id=default_id, path=path)


def read_model_json(folder: Path) -> CatalogEntry:
    """The entry of a model folder; ``weights`` may be left out when the folder holds one weights file."""
    data = read_json(folder / "model.json", "model description", error=CatalogError)
    if isinstance(data, dict) and "weights" not in data:
        found = sorted(p.name for p in folder.iterdir() if p.suffix in SAFE_SUFFIXES)
        if len(found) != 1:
            raise CatalogError(
                f"{folder / 'model.json'} names no weights file and the folder holds {len(found)} weights files "
                f"({', '.join(found) or 'none'}); add \"weights\": {{\"file\": \"<name>\"}}."
            )
        data = {**data, "weights": {"file": found[0]}}
    return parse_entry(data, source=str(folder / "model.json"), published=False)


def parse_entry(data: Any, *, source: str, published: bool) -> CatalogEntry:
    """A catalog entry; ``published`` entries (the catalog's) must also say where to download and check them."""
    if not isinstance(data, Mapping):
        raise CatalogError(f"{source}: a model entry must be a JSON object.")
    fields = dict(data)
    weights = _parse_weights(fields.pop("weights", None), source, published)
    card = fields.pop("card", None)
    spec = ModelSpec.from_dict(fields, source=source)
    if published:
        for name, value in (("id", spec.id), ("version", spec.version)):
            if not _SAFE_NAME.match(value):
                raise CatalogError(f"{source}: {name} {value!r} may hold only letters, digits, '.', '_' and '-'.")
        if not isinstance(spec.extra.get("license"), str) or not spec.extra["license"]:
            raise CatalogError(f"{source}: 'license' (the terms of the weights) is required.")
    if card is not None and not isinstance(card, str):
        raise CatalogError(f"{source}: 'card' must be a path relative to Resources/{EMBEDDED_DIR}/.")
    return CatalogEntry(spec=spec, weights=weights, card=card)


def _parse_weights(data: Any, source: str, published: bool) -> WeightsInfo:
    if isinstance(data, str):
        data = {"file": data}
    if not isinstance(data, Mapping) or not isinstance(data.get("file"), str):
        raise CatalogError(
            f"{source}: 'weights' must be {{\"file\": ..., \"url\": ..., \"sha256\": ..., \"size\": ...}}."
        )
    file = data["file"]
    # The name becomes a path in the cache and beside the catalog: no folders, nothing hidden.
    if not _SAFE_NAME.match(file) or Path(file).suffix not in SAFE_SUFFIXES:
        raise CatalogError(
            f"{source}: weights file {file!r} must be a plain file name ending in {', '.join(SAFE_SUFFIXES)}."
        )
    url, sha256, size = data.get("url"), data.get("sha256"), data.get("size")
    if published and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        raise CatalogError(f"{source}: weights 'url' must be an http(s) address; got {url!r}.")
    if (published or sha256 is not None) and not (isinstance(sha256, str) and _SHA256.match(sha256)):
        raise CatalogError(f"{source}: weights 'sha256' must be 64 lower-case hexadecimal digits; got {sha256!r}.")
    if (published or size is not None) and not (isinstance(size, int) and not isinstance(size, bool) and size > 0):
        raise CatalogError(f"{source}: weights 'size' must be the file's size in bytes; got {size!r}.")
    return WeightsInfo(file=file, url=url, sha256=sha256, size=size)
