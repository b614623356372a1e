"""MONAI bundles: our models exported as bundles, and bundles (ours or others') loaded as models.

A bundle is a folder ``configs/metadata.json`` + ``configs/inference.json`` (whose ``network_def``
builds a ``monai.networks.nets`` class) + ``models/model.pt`` (a plain state dict) + ``docs/``.
What MONAI's metadata has no field for (the spacing, window and region the network expects, and
whether it takes a seed channel) is kept in ``metadata.json`` under ``"responsepredictor"``, so a
bundle exported here loads back as the same model. A third-party bundle needs those fields added.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy
import torch

from . import __version__
from .bundle_network import BundleError, literal_network_def
from .catalog_file import CatalogError
from .files import read_json, sha256_file
from .loaded_model import LoadedModel
from .devices import resolve_device
from .segment.network import load_weights
from .segment.spec import ModelSpec

BUNDLE_KEY = "responsepredictor"
# What ModelSpec needs beyond what MONAI's metadata says (id and version come from the metadata).
BUNDLE_FIELDS = ("modality", "spacing", "roi_size", "intensity_window", "seed_channel")
# The metadata schema of current MONAI model-zoo bundles ("optional_packages_version" of the older
# schema became "required_packages_version"; MONAI warns about the old name).
METADATA_SCHEMA = (
    "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/meta_schema_20240725.json"
)
INFERENCE_CONFIGS = ("inference.json", "inference.yaml", "inference.yml")
_FIELDS_EXAMPLE = (
    '"responsepredictor": {"modality": "CT", "spacing": [1.0, 1.0, 1.0], "roi_size": [96, 96, 96], '
    '"intensity_window": [-1000, 500], "seed_channel": false}'
)


def is_bundle(folder: Path) -> bool:
    return (folder / "configs" / "metadata.json").is_file()


def export_bundle(model: LoadedModel, folder: str | Path) -> Path:
    """Write ``model`` as a MONAI bundle folder; ``folder`` must not exist or be empty."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BundleError(f"{folder} already exists and is not an empty folder; choose a new folder for the bundle.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Built beside its destination and renamed when complete: never a half-written bundle.
    building = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        _write_bundle(model, building)
        if folder.exists():
            folder.rmdir()
        os.replace(building, folder)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return folder


def load_bundle(folder: str | Path, *, device: str | torch.device = "cpu") -> LoadedModel:
    """The model of a MONAI bundle folder, its network built by ``monai.bundle.ConfigParser``."""
    from monai.bundle import ConfigParser

    folder = Path(folder)
    metadata = read_json(folder / "configs" / "metadata.json", "MONAI bundle metadata", error=CatalogError)
    config_path = next((p for p in (folder / "configs" / name for name in INFERENCE_CONFIGS) if p.is_file()), None)
    if config_path is None:
        raise BundleError(
            f"{folder / 'configs'} holds none of {', '.join(INFERENCE_CONFIGS)} (which defines 'network_def')."
        )
    try:
        config = ConfigParser.load_config_file(config_path)
    except Exception as error:  # noqa: BLE001 - JSON and YAML parsers raise their own types
        raise BundleError(f"Cannot read {config_path}: {error}") from None
    network_def = literal_network_def(config, source=str(config_path))
    spec = _spec(metadata, network_def, folder)
    try:
        network = ConfigParser({"network_def": network_def}).get_parsed_content("network_def")
    except Exception as error:  # noqa: BLE001 - MONAI wraps the class's own error (bad arguments)
        raise BundleError(f"{config_path}: cannot build 'network_def': {error.__cause__ or error}") from None
    weights = folder / "models" / "model.pt"
    load_weights(network, weights, model_id=spec.id)
    card = folder / "docs" / "README.md"
    return LoadedModel(
        spec=spec,
        network=network.to(resolve_device(device)).eval(),
        source=f"MONAI bundle {folder}",
        weights_sha256=sha256_file(weights),
        card=card if card.is_file() else None,
    )


def _spec(metadata: Any, network_def: dict[str, Any], folder: Path) -> ModelSpec:
    ours = metadata.get(BUNDLE_KEY) if isinstance(metadata, dict) else None
    missing = [name for name in BUNDLE_FIELDS if not isinstance(ours, dict) or name not in ours]
    if missing:
        raise BundleError(
            f"The MONAI bundle {folder} lacks what ResponsePredictor needs to prepare its input: "
            f"{', '.join(missing)}. Add them to configs/metadata.json with the values the network was trained "
            f"with (see the bundle's preprocessing), for example {_FIELDS_EXAMPLE}."
        )
    args = {k: v for k, v in network_def.items() if k != "_target_"}
    return ModelSpec.from_dict(
        {
            "id": metadata.get("name") or folder.name,
            "version": metadata.get("version", "0"),
            **ours,
            "network": {"name": network_def["_target_"].rsplit(".", 1)[-1], "args": args},
        },
        source=str(folder / "configs" / "metadata.json"),
    )


def _write_bundle(model: LoadedModel, folder: Path) -> None:
    spec = model.spec
    for part in ("configs", "models", "docs"):
        (folder / part).mkdir()
    _write_json(folder / "configs" / "metadata.json", _metadata(spec))
    _write_json(folder / "configs" / "inference.json", {
        "bundle_root": ".",
        "device": "$torch.device('cuda' if torch.cuda.is_available() else 'cpu')",
        "network_def": {"_target_": f"monai.networks.nets.{spec.network}", **spec.network_args},
        "network": "$@network_def.to(@device)",
    })
    # MONAI's bundle format: a plain state dict, which torch.load(weights_only=True) reads without running code.
    torch.save({k: v.detach().cpu() for k, v in model.network.state_dict().items()}, folder / "models" / "model.pt")
    readme = model.card.read_text(encoding="utf-8") if model.card else _readme(spec)
    (folder / "docs" / "README.md").write_text(readme, encoding="utf-8")
    if spec.extra.get("license"):
        (folder / "docs" / "license.txt").write_text(str(spec.extra["license"]) + "\n", encoding="utf-8")


def _metadata(spec: ModelSpec) -> dict[str, Any]:
    import monai

    tensor = {"type": "image", "spatial_shape": list(spec.roi_size), "dtype": "float32", "value_range": [],
              "is_patch_data": True}
    inputs = {"0": f"image, clipped to the intensity window {list(spec.intensity_window)}"}
    if spec.seed_channel:
        inputs["1"] = f"seed: a Gaussian of {spec.seed_sigma_mm:g} mm around each tumor point (the largest where they overlap)"
    if spec.box_channel:
        inputs[str(len(inputs))] = "box: 1 inside the box the user drew, 0 outside (all 0 for a click)"
    if spec.negative_channel:
        inputs[str(len(inputs))] = (f"not tumor: a Gaussian of {spec.seed_sigma_mm:g} mm around each not-tumor point "
                                    "(all 0 without one)")
    if spec.previous_mask_channel:
        inputs[str(len(inputs))] = ("previous mask: 1 where the mask the newest point corrects holds tumor (all 0 for "
                                    "the first point or a box)")
    classes = int(spec.network_args.get("out_channels", 1))
    outputs = {"0": "background", "1": "tumor"} if classes == 2 else {str(c): f"class {c}" for c in range(classes)}
    return {
        "schema": METADATA_SCHEMA,
        "version": spec.version,
        "changelog": {spec.version: f"exported from ResponsePredictor {__version__}"},
        "monai_version": monai.__version__,
        "pytorch_version": torch.__version__.split("+")[0],
        "numpy_version": numpy.__version__,
        "required_packages_version": {},
        "name": spec.id,
        "task": f"{spec.task} ({spec.modality})",
        "description": spec.extra.get("description", f"{spec.network} for {spec.task} in {spec.modality} images."),
        "authors": spec.extra.get("authors", "not stated"),
        "copyright": spec.extra.get("copyright", "not stated"),
        "license": spec.extra.get("license", "not stated"),
        "intended_use": "Research use only; not for clinical decisions.",
        "network_data_format": {
            "inputs": {"image": {**tensor, "format": "hounsfield" if spec.modality == "CT" else "magnitude",
                                 "modality": spec.modality, "num_channels": spec.in_channels, "channel_def": inputs}},
            "outputs": {"pred": {**tensor, "format": "labels", "num_channels": classes, "channel_def": outputs}},
        },
        BUNDLE_KEY: {k: v for k, v in spec.to_dict().items() if k != "network"},
    }


def _readme(spec: ModelSpec) -> str:
    return (
        f"# {spec.id} {spec.version}\n\n{spec.task}, {spec.modality}: a MONAI {spec.network}. Exported by "
        "ResponsePredictor; load it with `ResponsePredictorLib.bundle.load_bundle(folder)` or build "
        "`network_def` of configs/inference.json with `monai.bundle.ConfigParser` and load models/model.pt.\n"
    )


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
