"""``responsepredictor predict MODEL_DIR TABLE.csv -o OUT.csv``: per-patient predictions."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..tables import CASE_COLUMN, write_feature_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict with a saved model: probability or risk, interval, top feature contributions",
        description="Predict every case of a CSV table (a 'case' column and the model's feature columns; other "
        "columns are ignored). Binary models write probability, lower, upper, predicted (0/1 at the model's "
        "threshold); survival models write risk, lower, upper, and survival at the horizon with its bounds. Then "
        "the features with the largest contributions (log-odds or risk-score units).",
    )
    add_model_arguments(parser)
    parser.add_argument("--top", type=int, default=5, help="contributions listed per case (default 5)")
    parser.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    parser.add_argument("--times", type=float, nargs="+", metavar="T",
                        help="survival models: also write the survival curve at these times (columns survival_at_T)")
    parser.add_argument("--contributions", type=Path, help="also write every feature's contribution per case to this CSV")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output CSV")
    parser.set_defaults(run=run)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_dir", type=Path, help="model folder written by 'train'")
    parser.add_argument("table", type=Path, help="CSV table with a 'case' column and the model's features")
    parser.add_argument("--fingerprint", help="refuse the model unless its fingerprint (SHA-256 of manifest.json) is this")


def run(args: argparse.Namespace) -> None:
    from ..predict import load_model, read_table, top_contributions

    saved = load_model(args.model_dir, args.fingerprint)
    if args.times and saved.model.kind != "survival":
        raise InputError(f"--times is for survival models; {args.model_dir} predicts a binary outcome.")
    table = read_table(args.table)
    contributions = saved.model.contributions(table)
    outputs = saved.model.outputs(table, args.level)
    if saved.model.kind == "survival":
        outputs.insert(3, "horizon", saved.model.horizon_)
        if args.times:
            curve = saved.model.predict_survival(table, args.times)
            outputs = outputs.assign(**{f"survival_at_{time:g}": curve[:, index] for index, time in enumerate(args.times)})
    write_table(pd.concat([outputs, top_contributions(contributions, args.top)], axis=1), args.output)
    if args.contributions:
        write_table(contributions, args.contributions)
    print(f"{len(table)} case(s) predicted with {args.model_dir} -> {args.output}")


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """A DataFrame indexed by case as CSV (atomically, through ``tables``)."""
    write_feature_table(({CASE_COLUMN: case, **row} for case, row in zip(frame.index, frame.to_dict("records"))), path)
