"""``responsepredictor featuremap IMAGE MASK --features NAMES -o OUT_DIR``: voxel-wise radiomic feature maps."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..features import BACKENDS, available_presets, load_settings
from ..features.settings import DEFAULT_PRESET
from ..volume import read_mask, read_volume, write_volume


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "featuremap",
        help="voxel-wise radiomic feature maps of one tumor (pyradiomics' voxel mode, its values, fast)",
        description="Compute each feature in a small kernel around every voxel of the mask, with the same "
        "preprocessing as the case-level features, and write one NRRD per feature named by its pyradiomics name "
        "(e.g. original_glcm_Contrast.nrrd). Maps are on pyradiomics' voxel-mode grid (the settings' resampled "
        "grid cropped to the mask's box plus the radius), NaN outside the mask.",
    )
    parser.add_argument("image", type=Path, help="image file (NRRD, NIfTI, MHA) or DICOM series folder")
    parser.add_argument("mask", type=Path, help="label map on the image's grid (same formats)")
    parser.add_argument(
        "--features", nargs="+", required=True, metavar="NAME",
        help="pyradiomics feature names, space- or comma-separated (e.g. original_glcm_Contrast)",
    )
    parser.add_argument("--radius", type=int, default=1, help="kernel radius in voxels (default 1: a 3x3x3 kernel)")
    settings = parser.add_mutually_exclusive_group()
    settings.add_argument("--preset", choices=available_presets(), help="settings preset (default: ct)")
    settings.add_argument("--params", type=Path, help="pyradiomics parameter file (YAML or JSON)")
    parser.add_argument("--label", type=int, help="label to analyse (needed when the mask holds several)")
    parser.add_argument(
        "--backend", choices=BACKENDS, default="fast",
        help="fast (our engine, torch, default) or pyradiomics' own voxel mode (where installed; much slower)",
    )
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda (fast backend)")
    parser.add_argument("--series", help="DICOM SeriesInstanceUID when the image folder holds several series")
    parser.add_argument(
        "--resample-mask", action="store_true", help="resample a mask on another grid onto the image grid (nearest neighbour)"
    )
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT_DIR", help="output folder")
    parser.set_defaults(run=run)


def feature_names(arguments: list[str]) -> list[str]:
    """Names given as separate arguments, comma-separated, or both."""
    return [name.strip() for argument in arguments for name in argument.split(",") if name.strip()]


def run(args: argparse.Namespace) -> None:
    # torch loads here, not when the command line starts.
    from ..features import compute_feature_maps
    from ..features.names import parse_feature_names

    names = feature_names(args.features)
    parse_feature_names(names)  # refuse unmappable names before reading any image
    settings = load_settings(preset=None if args.params else (args.preset or DEFAULT_PRESET), params=args.params)
    image = read_volume(args.image, series_uid=args.series)
    mask = read_mask(args.mask, image, resample=args.resample_mask)
    maps = compute_feature_maps(
        image, mask, names, settings, radius=args.radius, label=args.label, device=args.device, backend=args.backend
    )
    # Every map is computed before the first file is written; each file appears whole or not at all.
    for name, volume in maps.items():
        write_volume(volume, args.output / f"{name}.nrrd")
    print(f"{len(maps)} feature map(s) written to {args.output}")
