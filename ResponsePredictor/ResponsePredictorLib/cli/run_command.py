"""``responsepredictor run MANIFEST.csv -o OUT_DIR``: a cohort end to end, resumable, locally or on Dask."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine_status import report_progress
from ..features import available_presets
from ..pipeline.settings import DEFAULT_MODEL, HEATMAP_METHODS, PipelineSettings
from .scan_options import add_scan_options, scan_options

if TYPE_CHECKING:
    from ..cohort import CaseOutcome

NO_MODEL = "none"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a cohort from a manifest: segment, features, predict, heatmap, report per case",
        description="Run every case of MANIFEST.csv (columns case, image, and mask or seed 'x,y,z' or roi "
        "'x0,y0,z0,x1,y1,z1' in LPS mm; a case's other co-registered scans in columns image_NAME with an optional "
        "mask_NAME, e.g. image_PET, image_MR_T1; other columns, such as the clinical values the model needs, are carried). "
        "Each case is written to OUT_DIR/cases/CASE/ and the table to OUT_DIR/results.csv. Run it again to resume: "
        "cases done with the same inputs and settings are skipped, failed ones are retried. A failed case is "
        "recorded (status and error) and the others go on.",
    )
    parser.add_argument("manifest", type=Path, help="manifest CSV")
    parser.add_argument("-o", "--output-dir", type=Path, required=True, help="output folder")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"outcome model folder (default: the embedded model); '{NO_MODEL}': features only")
    parser.add_argument("--segmentation-model", help="segmentation model id or folder (default: the catalog's default)")
    settings = parser.add_mutually_exclusive_group()
    settings.add_argument("--preset", choices=available_presets(),
                          help="feature settings, only with --model none or a model that does not record its own")
    settings.add_argument("--params", type=Path, help="pyradiomics parameter file (same condition as --preset)")
    add_scan_options(parser)
    parser.add_argument("--heatmap", choices=[*HEATMAP_METHODS, "none"], default=None,
                        help="heatmap method (default: contribution; none without a model)")
    parser.add_argument("--no-report", action="store_true", help="do not draw each case's report picture")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="local worker processes (default: one per CPU core as memory allows)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="Dask scheduler address (tcp://host:8786); OUT_DIR must be visible to every worker")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    parser.add_argument("--keep-identifiers", action="store_true",
                        help="keep patient identifiers of DICOM inputs in DICOM outputs (left out by default)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def pipeline_settings(args: argparse.Namespace) -> PipelineSettings:
    model = None if args.model.lower() == NO_MODEL else args.model
    heatmap = args.heatmap if args.heatmap is not None else ("contribution" if model else "none")
    scans = scan_options(args)
    return PipelineSettings(
        model=model, segmentation_model=args.segmentation_model, preset=args.preset,
        params=str(args.params) if args.params else None, heatmap=None if heatmap == "none" else heatmap,
        report=not args.no_report, device=args.device, keep_identifiers=args.keep_identifiers,
        scan_presets=scans.presets, scan_params=scans.params, peritumoral=scans.peritumoral, peritumoral_body=scans.body,
        deep_features=scans.deep,
    )


def run(args: argparse.Namespace) -> None:
    from ..cohort import read_manifest, run_cohort

    manifest = read_manifest(args.manifest)
    report_progress("load", 0.0, f"Loading the models; {len(manifest.cases)} case(s) to run")
    summary = run_cohort(manifest, args.output_dir, pipeline_settings(args), workers=args.workers,
                         scheduler=args.scheduler, progress=report_cases_done, progress_bar=not args.quiet)
    print(summary)


def report_cases_done(outcome: CaseOutcome, completed: int, total: int) -> None:
    report_progress("cohort", completed / total, f"{completed} of {total} cases done")
