"""``responsepredictor features IMAGE MASK -o OUT.csv``: radiomic features of one case."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import SettingsError
from ..features import BACKENDS, FeatureExtractor, FeatureResult, available_presets, load_settings
from ..features.settings import DEFAULT_PRESET
from .scan_options import add_scan_options, named_value, scan_options
from ..tables import CASE_COLUMN, write_feature_table, write_json
from ..volume import read_mask, read_volume


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "features",
        help="radiomic features of one image and mask (pyradiomics' features and values)",
        description="Extract the radiomic features of one label of a mask, with pyradiomics' settings, names and "
        "values, and write them as a one-row CSV (first column 'case', then pyradiomics feature names). The "
        "default engine needs no pyradiomics; --backend pyradiomics uses pyradiomics itself where it is installed.",
    )
    parser.add_argument("image", type=Path, help="image file (NRRD, NIfTI, MHA) or DICOM series folder")
    parser.add_argument("mask", type=Path, help="label map on the image's grid (same formats)")
    settings = parser.add_mutually_exclusive_group()
    settings.add_argument("--preset", choices=available_presets(), help="settings preset (default: ct)")
    settings.add_argument("--params", type=Path, help="pyradiomics parameter file (YAML or JSON)")
    labels = parser.add_mutually_exclusive_group()
    labels.add_argument("--label", type=int, help="label to analyse (needed when the mask holds several)")
    labels.add_argument(
        "--all-labels", action="store_true", help="one row per label, case named CASE_labelN"
    )
    parser.add_argument("--case", help="case name for the 'case' column (default: the image file name)")
    parser.add_argument("--series", help="DICOM SeriesInstanceUID when the image folder holds several series")
    parser.add_argument(
        "--resample-mask", action="store_true", help="resample a mask on another grid onto the image grid (nearest neighbour)"
    )
    parser.add_argument(
        "--backend", choices=BACKENDS, default="fast",
        help="fast (our engine, default) or pyradiomics (pyradiomics itself, where installed; needed for LBP images)",
    )
    parser.add_argument("--device", default="auto", help="auto (a CUDA GPU when present), cpu or cuda (fast backend)")
    parser.add_argument("--scan", action="append", default=[], metavar="NAME=IMAGE",
                        help="another scan of the patient, co-registered with IMAGE (e.g. PET=pet.nii.gz): its features "
                        "are added, prefixed NAME_, over its own mask (--scan-mask) or the mask carried onto its grid")
    parser.add_argument("--scan-mask", action="append", default=[], metavar="NAME=MASK",
                        help="the tumor mask of the other scan NAME, on that scan's grid")
    add_scan_options(parser)
    parser.add_argument("--diagnostics", type=Path, help="also write the diagnostics (versions, settings, image and "
                        "region at each step, as pyradiomics' diagnostics_* entries) to this JSON file")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output CSV")
    parser.set_defaults(run=run)


def case_name(image_path: Path) -> str:
    """The image file name without its image suffix(es)."""
    name = image_path.name
    for suffix in (".nii.gz", ".nrrd", ".nhdr", ".nii", ".mha", ".mhd"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def run(args: argparse.Namespace) -> None:
    preset = None if args.params else (args.preset or DEFAULT_PRESET)
    settings = load_settings(preset=preset, params=args.params)
    extractor = FeatureExtractor(settings, backend=args.backend, device=args.device)
    image = read_volume(args.image, series_uid=args.series)
    mask = read_mask(args.mask, image, resample=args.resample_mask)
    case = args.case or case_name(args.image)
    options = scan_options(args)
    others = dict(named_value(text, "--scan") for text in args.scan)
    masks = dict(named_value(text, "--scan-mask") for text in args.scan_mask)
    if set(masks) - set(others):
        raise SettingsError(f"--scan-mask names scan(s) without --scan: {', '.join(sorted(set(masks) - set(others)))}.")
    extended = bool(others or options.peritumoral or options.deep)
    if args.all_labels:
        if extended:
            raise SettingsError("Other scans, peritumoral shells and deep features are of one tumor: choose its --label, "
                                "not --all-labels.")
        results = extractor.extract_labels(image, mask)
        named = [(f"{case}_label{result.label}", result) for result in results]
    else:
        result = extractor.extract(image, mask, args.label)
        named = [(case, result)]
        if extended:  # the label analysed, alone: the shells, the carried mask and the deep features are of it
            tumor = mask.with_array((mask.array == result.label).astype("uint8"))
            result.features.update(_region_features(args, settings, preset, options, image, tumor, others, masks))
    write_results(named, args.output, args.diagnostics)
    print(f"{len(named[0][1].features)} features of {len(named)} label(s) written to {args.output}")


def _region_features(args: argparse.Namespace, settings: dict, preset: str | None, options, image, tumor,
                     others: dict[str, str], masks: dict[str, str]) -> dict[str, float]:
    """The shells', the other scans' and the deep features of the case's ``tumor`` (a 0/1 mask), as a cohort run
    computes them."""
    from ..features.recipe import FeatureRecipe, given_scans
    from ..pipeline.case import ScanInput
    from ..pipeline.scans import CaseRegions, Primary, dicom_identity

    scans, modalities = given_scans(options.given())
    recipe = FeatureRecipe(settings, scans, options.peritumoral, options.body, preset, modalities=modalities)
    regions = CaseRegions(recipe, FeatureExtractor(settings, backend=args.backend, device=args.device), args.device,
                          args.backend)
    warnings: list[str] = []
    features = regions.shell_features(None, image, tumor, warnings)
    identity = (dicom_identity(args.image, recipe.primary_modality, "The scan", args.series) if args.image.is_dir()
                else None)
    inputs = {name: ScanInput(Path(path), masks.get(name)) for name, path in others.items()}
    features.update(regions.scans(inputs, Primary(image, tumor, identity), warnings)[1])
    if options.deep:
        from ..embedding import deep_extractor

        features.update(deep_extractor(options.deep, device=args.device).extract(image, tumor))
    for warning in warnings:
        print(f"Note: {warning}")
    return features


def write_results(named: list[tuple[str, FeatureResult]], output: Path, diagnostics: Path | None) -> None:
    write_feature_table(({CASE_COLUMN: case, **result.features} for case, result in named), output)
    if diagnostics:
        write_json({case: {"label": result.label, **result.diagnostics} for case, result in named}, diagnostics)
