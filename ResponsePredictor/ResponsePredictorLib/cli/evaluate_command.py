"""``responsepredictor evaluate MODEL_DIR TABLE.csv``: a saved model on held-out cases with known outcomes."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..tables import write_json
from .predict_command import add_model_arguments, write_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure a saved model on a held-out table with known outcomes",
        description="Score a saved model on cases it was not trained on (the table holds the model's features and "
        "its outcome column(s)): AUC, sensitivity and specificity at the model's threshold and Brier score, or "
        "C-index, AUC and Brier score at the horizon; each with a 95% bootstrap interval, plus calibration; beside "
        "the references saved with the model (tumor volume alone, clinical covariates alone, a plain learner, "
        "fitted on its training table), with the paired difference of the model against each.",
    )
    add_model_arguments(parser)
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples for the intervals (default 1000)")
    parser.add_argument("--predictions", type=Path, help="also write the per-case predictions to this CSV")
    parser.add_argument("-o", "--output", type=Path, help="write the metrics, intervals and calibration as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from ..predict import evaluate, load_model, read_table

    saved = load_model(args.model_dir, args.fingerprint)
    table = read_table(args.table)
    result = evaluate(saved.model, table, saved.outcome.values(table), n_resamples=args.resamples,
                      references=saved.references)
    print(f"{args.model_dir} on {len(table)} held-out case(s):")
    print(result.summary())
    for row in result.calibration:
        print(f"{'calibration':>24}: predicted {row['predicted']:.3f}, observed {row['observed']:.3f} ({row['cases']} cases)")
    if args.output:
        write_json({**result.to_dict(), "model_fingerprint": saved.fingerprint}, args.output)
    if args.predictions:
        write_table(result.predictions, args.predictions)
