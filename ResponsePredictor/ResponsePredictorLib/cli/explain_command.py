"""``responsepredictor explain MODEL_DIR IMAGE MASK -o HEATMAP.nrrd``: where in the tumor a prediction comes from."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ..files import read_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="heatmap of where in the tumor a saved model's prediction comes from",
        description="Write a heatmap on the image's grid (NRRD, with a JSON beside it naming its colour map, range "
        "and notes). 'contribution' (default): the model's own per-feature contributions computed in a small "
        "neighbourhood of every tumor voxel (for a model of deep features: the change in the prediction when blocks "
        "of the tumor are left out of the features' averages); 'occlusion': the change in the prediction when blocks "
        "of the tumor are left out of the mask (any model of one scan's radiomics, slower). See docs/explain.md for "
        "how to read it.",
    )
    parser.add_argument("model_dir", type=Path, help="model folder written by 'train' (with its feature settings)")
    parser.add_argument("image", type=Path, help="image file (NRRD, NIfTI, MHA) or DICOM series folder")
    parser.add_argument("mask", type=Path, help="tumor label map on the image's grid")
    parser.add_argument("--method", choices=("contribution", "occlusion"), default="contribution")
    parser.add_argument("--clinical", type=Path, help="JSON file of the case's covariates, e.g. {\"age\": 68, \"Histology\": \"adenocarcinoma\"}")
    parser.add_argument("--radius", type=int, default=1, help="contribution: kernel radius in voxels (default 1)")
    parser.add_argument("--blocks", type=int, default=3, help="occlusion: blocks per axis over the tumor (default 3)")
    parser.add_argument("--device", default="auto", help="contribution: auto (GPU when present), cpu or cuda")
    parser.add_argument("--fingerprint", help="refuse the model unless its fingerprint (SHA-256 of manifest.json) is this")
    parser.add_argument("-o", "--output", type=Path, required=True, help="heatmap NRRD (a .json is written beside it)")
    parser.add_argument("--png", type=Path, help="also write a picture: slices through the tumor with the heatmap")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from ..explain import contribution_map, occlusion_map, write_heatmap
    from ..explain.model_inputs import model_inputs
    from ..predict import load_model
    from ..volume import read_mask, read_volume

    if not args.output.name.lower().endswith(".nrrd"):
        raise InputError(f"-o must name a .nrrd file; got {args.output}.")
    saved = load_model(args.model_dir, args.fingerprint)
    covariates = read_clinical(args.clinical) if args.clinical else None
    image = read_volume(args.image)
    mask = read_mask(args.mask, image)
    if args.method == "contribution" and model_inputs(saved).extended:
        # Deep features, shells and other scans need every feature of the case: the pipeline computes them as a
        # run would (other scans, not given here, are taken as unknown, which its warnings say).
        from ..pipeline import CaseInput, Pipeline

        case = CaseInput(args.image.name, image, mask, extra=covariates or {})
        result = Pipeline(saved, heatmap="contribution", report=False, device=args.device).run(case)
        for warning in result.warnings:
            print(f"  note: {warning}")
        if result.heatmap is None:
            raise InputError("The model maps nothing over this scan: " + "; ".join(result.warnings))
        heatmap = result.heatmap
    elif args.method == "contribution":
        heatmap = contribution_map(saved, image, mask, covariates, radius=args.radius, device=args.device)
    else:
        heatmap = occlusion_map(saved, image, mask, covariates, blocks=args.blocks)
    write_heatmap(heatmap, args.output)
    print(f"{heatmap.method} heatmap ({heatmap.units}, range {heatmap.value_range[0]:+.3g} to {heatmap.value_range[1]:+.3g}) "
          f"-> {args.output}")
    for note in heatmap.notes:
        print(f"  note: {note}")
    if args.png:
        from ..report.overlay import save_overlay_picture

        save_overlay_picture(image, mask, heatmap, args.png, title=f"{heatmap.method} heatmap: {args.model_dir.name}",
                             lines=[heatmap.description])
        print(f"picture -> {args.png}")


def read_clinical(path: Path) -> dict:
    """The case's covariates from a JSON object (column name -> value)."""
    values = read_json(path, "clinical file")
    if not isinstance(values, dict):
        raise InputError(f"{path} must hold one JSON object of covariates (name -> value), e.g. {{\"age\": 68}}.")
    return values
