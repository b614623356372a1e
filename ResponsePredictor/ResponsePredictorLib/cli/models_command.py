"""``responsepredictor models list|import|export-bundle|download|validate``: the segmentation model catalog."""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from ..segment.corrective_clicks import PROTOCOL_CLICKS

# The engine's model modules import torch and MONAI (seconds): they are imported by the actions
# that need them, so that other commands start fast.


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list, import, download, export or validate segmentation models",
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

    validating = actions.add_parser(
        "validate", help="Dice of a model on contoured cases, segmented from clicks and boxes as a user gives them",
        description="Segment every case of a manifest (columns case, image, mask: the expert's tumor mask) from a "
        "click at the tumor's centre, from random clicks on it and, for a model that takes one, from a box drawn "
        "around it; then correct each case click by click as the field's interactive protocol does (each next click "
        "at the point farthest from the edge of the largest error region: a tumor point where tumor was missed, a "
        "not-tumor point where the model added some, for a model that takes them). Print the mean Dice of each with "
        "its 95%% interval, the Dice after 1, 3 and 5 clicks and the clicks needed to reach Dice 0.85 (NoC@85), and "
        "write every case's figures.",
    )
    validating.add_argument("manifest", type=Path, help="CSV with columns case, image and mask (as for `run`)")
    validating.add_argument("--model", help="catalog id, model folder, MONAI bundle or weights file (default: the catalog's default)")
    validating.add_argument("--label", type=int, help="the tumor's label in the masks (default: every labelled voxel)")
    validating.add_argument("--clicks", type=at_least(0), default=3, help="random clicks per case beside the central one (default 3)")
    validating.add_argument("--protocol-clicks", type=at_least(1), default=PROTOCOL_CLICKS,
                            help=f"clicks of the interactive protocol per case, the cap of NoC@85 (default {PROTOCOL_CLICKS}; "
                            "1: the central click only)")
    validating.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    validating.add_argument("--offline", action="store_true", help="never download model weights")
    validating.add_argument("-o", "--output", type=Path, metavar="REPORT.json", help="write the figures and every case's row")
    validating.set_defaults(run=run_validate)


def at_least(minimum: int):
    """An argparse type: a whole number, ``minimum`` or more."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number, {minimum} or more; got {text!r}")
        return value

    return parse


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


def run_validate(args: argparse.Namespace) -> None:
    from ..catalog import load_model
    from ..cohort.manifest import read_manifest
    from ..segment.inference import Segmenter, precision_name
    from ..segment.site_validation import validate_cases
    from ..tables import write_json

    manifest = read_manifest(args.manifest)
    model = load_model(args.model, catalog=args.catalog, device="cpu", allow_download=not args.offline)
    segmenter = Segmenter(model.spec, model.network, device=args.device)

    def progress(case: str, outcome: dict | str) -> None:
        if isinstance(outcome, str):
            print(f"{case}: not validated: {outcome}", file=sys.stderr)
        else:
            box = f", box {outcome['dice_box']:.3f}" if "dice_box" in outcome else ""
            print(f"{case}: Dice central click {outcome['dice_central_click']:.3f}{box}", flush=True)

    report = validate_cases(segmenter, manifest.cases, label=args.label, clicks=args.clicks, progress=progress,
                            protocol_clicks=args.protocol_clicks)
    print(f"{model.spec.id} {model.spec.version} on {len(report['cases'])} cases "
          f"({len(report['failed'])} not validated), mean Dice (95% interval):")
    for name, key in (("click at the tumor's centre", "dice_central_click"), ("random clicks", "dice_random_clicks"),
                      ("box drawn around the tumor", "dice_box")):
        if key in report:
            figure = report[key]
            print(f"    {name}: {figure['mean']:.3f} ({figure['ci95'][0]:.3f}-{figure['ci95'][1]:.3f}), n={figure['n']}")
    for count, figure in report.get("dice_after_clicks", {}).items():
        print(f"    interactive protocol, after {count} click(s): {figure['mean']:.3f} "
              f"({figure['ci95'][0]:.3f}-{figure['ci95'][1]:.3f})")
    if "noc_85" in report:
        noc = report["noc_85"]
        print(f"    clicks to reach Dice 0.85 (NoC@85, at most {noc['cap']}): {noc['mean']:.1f} "
              f"({noc['ci95'][0]:.1f}-{noc['ci95'][1]:.1f}); {noc['cases_never_reaching']} case(s) never reached it")
    contour = report["share_of_wrong_voxels_near_contour"]
    print(f"    share of the wrong voxels within {contour['within_mm']:g} mm of the expert's contour: "
          + ", ".join(f"{share:.0%} after {n} click(s)" for n, share in contour["after_clicks"].items()))
    if args.output:
        write_json({"model": {"id": model.spec.id, "version": model.spec.version, "source": str(model.source)},
                    "manifest": str(args.manifest), "date": datetime.date.today().isoformat(), "label": args.label,
                    "random_clicks": args.clicks, "protocol_clicks": args.protocol_clicks, "device": str(segmenter.device),
                    "precision": precision_name(segmenter.bfloat16), **report}, args.output)
        print(f"report: {args.output}")
