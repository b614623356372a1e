"""``responsepredictor models list|import|export-bundle|download``: the segmentation model catalog."""

from __future__ import annotations

import argparse
from pathlib import Path

# The engine's model modules import torch and MONAI (seconds): they are imported by the actions
# that need them, so that other commands start fast.


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list, import, download or export segmentation models",
        description="The segmentation models of the catalog (Resources/Models.json): where their weights are, "
        "importing weights or model folders on computers without internet, exporting a model as a MONAI bundle.",
    )
    parser.add_argument("--catalog", type=Path, metavar="FILE", help="a model catalog JSON file (default: the module's Models.json)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="the catalog's models and whether their weights are here")
    listing.set_defaults(run=run_list)

    importing = actions.add_parser(
        "import", help="check a weights file, model folder or MONAI bundle; catalog weights go into the cache"
    )
    importing.add_argument("path", type=Path, help="weights file (.safetensors, .pt), model folder or bundle folder")
    importing.set_defaults(run=run_import)

    exporting = actions.add_parser("export-bundle", help="write a model as a MONAI bundle folder")
    exporting.add_argument("model", help="catalog id, model folder, bundle folder or weights file")
    exporting.add_argument("folder", type=Path, help="the bundle folder to create (must not exist, or be empty)")
    exporting.set_defaults(run=run_export)

    downloading = actions.add_parser("download", help="download a catalog model's weights into the cache")
    downloading.add_argument("id", help="catalog id")
    downloading.set_defaults(run=run_download)


def run_list(args: argparse.Namespace) -> None:
    from ..catalog import local_weights
    from ..catalog_file import read_catalog

    catalog = read_catalog(args.catalog)
    for entry in catalog.entries.values():
        spec, weights = entry.spec, entry.weights
        found = local_weights(entry, catalog)
        where = found[1] if found else f"not on this computer ({weights.size / 1e6:.1f} MB from {weights.url})"
        default = " (default)" if spec.id == catalog.default_id else ""
        print(f"{spec.id} {spec.version}{default}: {spec.task}, {spec.modality}, {spec.network}")
        print(f"    weights: {where}")
        print(f"    license: {entry.license}")


def run_import(args: argparse.Namespace) -> None:
    from ..catalog import import_model

    model = import_model(args.path, catalog=args.catalog)
    use = model.spec.id if args.path.is_file() else str(args.path)
    print(f"Model {model.spec.id} {model.spec.version} loads ({model.source}); use it as --model {use}")


def run_export(args: argparse.Namespace) -> None:
    from ..bundle import export_bundle
    from ..catalog import load_model

    model = load_model(args.model, catalog=args.catalog)
    export_bundle(model, args.folder)
    print(f"Model {model.spec.id} {model.spec.version} ({model.source}) written as a MONAI bundle to {args.folder}")


def run_download(args: argparse.Namespace) -> None:
    from ..catalog import fetch_weights
    from ..catalog_file import read_catalog

    catalog = read_catalog(args.catalog)
    _, source = fetch_weights(catalog.get(args.id), catalog)
    print(f"Model {args.id}: weights {source}")
