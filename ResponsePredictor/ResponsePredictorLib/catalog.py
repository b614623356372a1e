"""Which segmentation model to run, and getting it ready: the engine's one way to load a model.

``load_model`` takes a catalog id (``Resources/Models.json``), a model folder (``model.json`` +
weights), a MONAI bundle folder, or a weights file published in the catalog. A catalog model's
weights are looked for in this order: embedded in the module (``Resources/Models/``), the user's
cache, then downloaded from the catalog's address into the cache. Every file is checked against
the catalog's sha256 before use. Sites without internet bring the file over and ``import_model``
it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import torch

from .bundle import is_bundle, load_bundle
from .catalog_cache import cache_root, cached_weights_path, unwritable
from .files import atomic_file, sha256_file
from .catalog_download import DEFAULT_TIMEOUT_S, download_file
from .catalog_file import Catalog, CatalogEntry, CatalogError, read_catalog, read_model_json
from .loaded_model import LoadedModel
from .devices import resolve_device
from .segment.network import WeightsError, build_network, load_weights
from .segment.spec import ModelSpec

log = logging.getLogger(__name__)

# DICOM modality codes and common names for the same kind of image.
_MODALITY_ALIASES = {"PT": "PET", "MRI": "MR"}


def load_model(
    model: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    allow_download: bool = True,
    catalog: Catalog | str | Path | None = None,
    cache_dir: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> LoadedModel:
    """The model named by ``model`` (default: the catalog's default model), ready to run on ``device``."""
    catalog = _catalog(catalog)
    # A catalog id wins over a file or folder of the same name in the working directory.
    if model is not None and str(model) not in catalog.entries and Path(model).exists():
        path = Path(model)
        if path.is_dir():
            return _load_folder(path, device)
        entry = _entry_for_file(path, catalog)
        return _loaded(entry.spec, path, f"file {path}", device, entry.weights.sha256, card=_card(entry, catalog))
    entry = catalog.default() if model is None else catalog.get(str(model))
    weights, source = fetch_weights(entry, catalog, cache_dir=cache_dir, allow_download=allow_download, timeout=timeout)
    return _loaded(entry.spec, weights, source, device, entry.weights.sha256, card=_card(entry, catalog))


def import_model(
    path: str | Path,
    *,
    catalog: Catalog | str | Path | None = None,
    cache_dir: str | Path | None = None,
    device: str | torch.device = "cpu",
) -> LoadedModel:
    """Make a model available without internet, and check that it loads.

    A weights file is matched to its catalog entry by sha256 and copied into the cache, where
    ``load_model(id)`` finds it from then on. A model folder or MONAI bundle folder is loaded where
    it is (give its path as the model).
    """
    path = Path(path)
    catalog = _catalog(catalog)
    if path.is_dir():
        return _load_folder(path, device)
    if not path.is_file():
        raise CatalogError(
            f"Nothing to import at {path}: give a weights file, a model folder or a MONAI bundle folder."
        )
    entry = _entry_for_file(path, catalog)
    target = cached_weights_path(entry, cache_dir)
    if not (target.is_file() and sha256_file(target) == entry.weights.sha256):
        try:
            with atomic_file(target) as partial:
                shutil.copyfile(path, partial)
                if sha256_file(partial) != entry.weights.sha256:  # the source changed while it was copied
                    raise WeightsError(f"{path} changed while it was being copied; import it again.")
        except OSError as error:
            raise unwritable(target.parent, error) from None
    return load_model(entry.spec.id, device=device, allow_download=False, catalog=catalog, cache_dir=cache_dir)


def fetch_weights(
    entry: CatalogEntry,
    catalog: Catalog,
    *,
    cache_dir: str | Path | None = None,
    allow_download: bool = True,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> tuple[Path, str]:
    """The checked weights file of a catalog model and where it was found, downloading them if needed."""
    found = local_weights(entry, catalog, cache_dir=cache_dir)
    if found:
        return found
    target = cached_weights_path(entry, cache_dir)
    if not allow_download:
        raise WeightsError(f"The weights of model {entry.spec.id} {entry.spec.version} are not on this computer. "
                           + offline_advice(entry, cache_dir))
    assert entry.weights.url and entry.weights.sha256 and entry.weights.size  # read_catalog requires them
    log.info("Downloading model %s %s from %s", entry.spec.id, entry.spec.version, entry.weights.url)
    download_file(entry.weights.url, target, sha256=entry.weights.sha256, size=entry.weights.size, timeout=timeout,
                  advice=offline_advice(entry, cache_dir))
    return target, f"downloaded from {entry.weights.url} to {target}"


def local_weights(
    entry: CatalogEntry, catalog: Catalog, *, cache_dir: str | Path | None = None
) -> tuple[Path, str] | None:
    """The weights already on this computer (embedded, then cached) whose sha256 matches the catalog's."""
    for kind, path in (("embedded", catalog.embedded_dir / entry.weights.file),
                       ("cached", cached_weights_path(entry, cache_dir))):
        if path.is_file():
            if sha256_file(path) == entry.weights.sha256:
                return path, f"{kind} {path}"
            # Refused, not fatal: a damaged copy must not hide a good one further down the list.
            log.warning("Ignoring %s: its sha256 does not match model %s %s in %s (damaged or replaced file).",
                        path, entry.spec.id, entry.spec.version, catalog.path)
    return None


def offline_advice(entry: CatalogEntry, cache_dir: str | Path | None = None) -> str:
    return (
        f"Without internet: download {entry.weights.url} on another computer, bring the file here and run "
        f"`responsepredictor models import FILE` (in Python: ResponsePredictorLib.catalog.import_model(FILE)); it "
        f"is checked and stored in {cache_root(cache_dir)}."
    )


def check_modality(spec: ModelSpec, modality: str | None) -> str | None:
    """A warning when the image's modality is not the one the model was trained on; None when it is."""
    if not modality:
        return None
    trained, given = (_MODALITY_ALIASES.get(m.upper(), m.upper()) for m in (spec.modality, modality))
    if trained == given:
        return None
    return (
        f"Model {spec.id} was trained on {trained} images but this image is {given}: its segmentation may be wrong. "
        f"Check it carefully, or use a model made for {given}."
    )


def _loaded(
    spec: ModelSpec, weights: Path, source: str, device: str | torch.device, sha256: str, *, card: Path | None
) -> LoadedModel:
    network = load_weights(build_network(spec), weights, model_id=spec.id)
    return LoadedModel(spec=spec, network=network.to(resolve_device(device)).eval(), source=source,
                       weights_sha256=sha256, card=card)


def _load_folder(folder: Path, device: str | torch.device) -> LoadedModel:
    if is_bundle(folder):
        return load_bundle(folder, device=device)
    if not (folder / "model.json").is_file():
        raise CatalogError(
            f"{folder} is not a model folder: expected model.json with a weights file (ResponsePredictor's layout) "
            "or configs/metadata.json (a MONAI bundle)."
        )
    entry = read_model_json(folder)
    weights = folder / entry.weights.file
    if not weights.is_file():
        raise WeightsError(f"The weights file {weights} named in {folder / 'model.json'} is missing.")
    sha256 = sha256_file(weights)
    if entry.weights.sha256 not in (None, sha256):
        raise WeightsError(
            f"{weights} does not match the sha256 in {folder / 'model.json'}: the file is damaged or was replaced."
        )
    card = folder / entry.card if entry.card else None
    return _loaded(entry.spec, weights, f"model folder {folder}", device, sha256,
                   card=card if card and card.is_file() else None)


def _entry_for_file(path: Path, catalog: Catalog) -> CatalogEntry:
    entry = catalog.find_by_sha256(sha256_file(path))
    if entry is None:
        raise CatalogError(
            f"{path} is not the weights file of any model in {catalog.path} (its sha256 matches none of "
            f"{', '.join(catalog.entries)}). For weights of your own, make a model folder: the weights file and a "
            "model.json describing the network."
        )
    return entry


def _card(entry: CatalogEntry, catalog: Catalog) -> Path | None:
    card = catalog.embedded_dir / entry.card if entry.card else None
    return card if card and card.is_file() else None


def _catalog(catalog: Catalog | str | Path | None) -> Catalog:
    return catalog if isinstance(catalog, Catalog) else read_catalog(catalog)
