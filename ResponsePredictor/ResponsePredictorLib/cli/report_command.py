"""``responsepredictor report OUT_DIR``: the cohort page (and, with the manifest, every case's picture) of a run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine_status import report_progress


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="cohort report of a run: index.html with ROC/calibration or Kaplan-Meier curves and the case list",
        description="Write OUT_DIR/index.html for the output folder of 'responsepredictor run': counts, every case "
        "with its status, prediction and picture, failed cases with their error, and curves of the predictions "
        "against the outcomes (ROC and calibration for binary models, Kaplan-Meier by predicted risk group with "
        "a log-rank test for survival models). The outcome defaults to the one the model was trained on, read "
        "from results.csv (the manifest's columns) or from --outcomes.",
    )
    parser.add_argument("out_dir", type=Path, help="output folder of 'responsepredictor run' (holds results.csv)")
    parser.add_argument("--outcomes", type=Path, help="CSV with a 'case' column and the outcome column(s)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--outcome", metavar="COL", help="binary (0/1) outcome column: ROC and calibration curves")
    target.add_argument("--time", metavar="COL", help="survival time column (with --event): Kaplan-Meier curves")
    parser.add_argument("--event", metavar="COL", help="event column, 1 = event, 0 = censored (with --time)")
    parser.add_argument("--groups", type=int, choices=(2, 3), default=2,
                        help="Kaplan-Meier risk groups: 2 = median split (default), 3 = tertiles")
    parser.add_argument("--model", type=Path, metavar="DIR",
                        help="the run's model folder: score it beside its references (tumor volume alone, clinical "
                        "covariates alone, a plain learner) on these patients, with the paired differences")
    parser.add_argument("--manifest", type=Path,
                        help="the run's manifest: redraw every done case's report.png (case folders do not keep the scans)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from ..report.cohort_report import cohort_report

    report_progress("report", None, "Writing the cohort report")
    if args.manifest is not None:
        redrawn = redraw_cases(args.out_dir, args.manifest)
        print(f"{redrawn} case picture(s) redrawn")
    index = cohort_report(args.out_dir, outcomes=args.outcomes, outcome=args.outcome, time=args.time, event=args.event,
                          groups=args.groups, model=args.model)
    print(f"Cohort report: {index}")


def redraw_cases(out_dir: Path, manifest_path: Path) -> int:
    """Draw report.png again in every done case folder of the manifest's cases; returns how many."""
    from ..cohort import case_folder, read_manifest
    from ..pipeline import DONE, read_record
    from ..report.case_report import case_report

    count = 0
    for case in read_manifest(manifest_path).cases:
        folder = case_folder(out_dir, case.case)
        record = read_record(folder)
        if record is not None and record.get("status") == DONE:
            case_report(folder, image=case.image,
                        scans={name: scan.image for name, scan in case.scans.items() if scan is not None})
            count += 1
    return count
