"""``responsepredictor train TABLE.csv (--outcome COL | --time COL --event COL) -o MODEL_DIR``."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .scan_options import add_scan_options, scan_options

if TYPE_CHECKING:
    from ..features.recipe import FeatureRecipe


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a prediction model on a feature table and validate it by nested cross-validation",
        description="Train a model on a CSV table (one row per case, a 'case' column, feature columns and the "
        "outcome), print its nested cross-validated performance with 95% intervals beside its references on the same "
        "folds (tumor volume alone, clinical covariates alone, a plain L2 logistic or ridge-like Cox learner) with the "
        "paired difference against each, and save it with its model card. Text columns (e.g. histology) are one-hot encoded; empty cells take the training median. A run's "
        "results.csv (with the outcomes carried from its manifest) is used as it is: its cases done, without its "
        "status, error, warnings and prediction columns.",
    )
    parser.add_argument("table", type=Path, help="CSV table: 'case', features, outcome column(s)")
    outcome = parser.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--outcome", metavar="COL", help="binary outcome column (1 = e.g. responder, 0 = not)")
    outcome.add_argument("--time", metavar="COL", help="time-to-event column (needs --event)")
    parser.add_argument("--event", metavar="COL", help="event column for --time (1 = event, 0 = censored)")
    parser.add_argument("--model", metavar="NAME", help="binary: ensemble (default), lightgbm, logistic; survival: coxnet (default), rsf")
    parser.add_argument("--horizon", type=float, help="survival: time for survival probability and AUC (default: median follow-up)")
    parser.add_argument("--exclude", nargs="+", default=[], metavar="COL", help="columns that are not features")
    parser.add_argument("--clinical", nargs="+", metavar="COL",
                        help="the clinical covariates among the features, for the 'clinical alone' reference (default: "
                        "every column not named as a radiomic feature, <image type>_<class>_<feature>)")
    parser.add_argument("--batch", metavar="COL",
                        help="column naming each case's centre or scanner: harmonise the radiomic features across them "
                        "(ComBat, fitted inside every training fold and stored with the model; a new case then needs "
                        "its centre, one seen in training)")
    parser.add_argument("--folds", type=int, default=5, help="outer cross-validation folds (default 5)")
    parser.add_argument("--repeats", type=int, default=2, help="repeats of the outer folds (default 2)")
    parser.add_argument("--inner-folds", type=int, default=5, help="inner folds for tuning (default 5)")
    parser.add_argument("--bootstrap", type=int, default=100, help="bootstrap refits for per-patient intervals (default 100)")
    parser.add_argument("--permutations", type=int, default=0, help="permutation test with this many shuffles (slow; default off)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--jobs", type=int, default=1, help="outer folds fitted in parallel (default 1)")
    parser.add_argument("--name", default="ResponsePredictor model", help="model name for its card")
    parser.add_argument("--data-description", default="Not described.", help="training data, source and license, for the card")
    parser.add_argument("--outcome-definition", default="Not described.", help="how the outcome was defined, for the card")
    features = parser.add_mutually_exclusive_group()
    features.add_argument("--preset", metavar="NAME", help="radiomics preset the table's features were computed with "
                          "(recorded in the model, so that new cases and heatmaps use the same settings)")
    features.add_argument("--params", type=Path, metavar="FILE", help="pyradiomics parameter file of the table's features")
    add_scan_options(parser)
    parser.add_argument("-o", "--output", type=Path, required=True, help="model folder to write")
    parser.set_defaults(run=run, parser=parser)


def run(args: argparse.Namespace) -> None:
    from ..cohort.store import is_results_table, training_rows
    from ..features import load_settings
    from ..predict import BinaryOutcome, CardInfo, SurvivalOutcome, make_model, read_table, save_model, train_model

    if args.time and not args.event:
        args.parser.error("--time needs --event")
    if args.event and not args.time:
        args.parser.error("--event goes with --time, not with --outcome")
    outcome = BinaryOutcome(args.outcome) if args.outcome else SurvivalOutcome(args.time, args.event)
    feature_settings = load_settings(args.preset, args.params) if args.preset or args.params else None
    model = make_model(outcome.kind, args.model, args.horizon, inner_folds=args.inner_folds,
                       n_bootstrap=args.bootstrap, random_state=args.seed, batch=args.batch)
    info = CardInfo(name=args.name, data=args.data_description, outcome_definition=args.outcome_definition)
    started = time.perf_counter()
    table = read_table(args.table)
    if is_results_table(table):  # a run's results.csv, outcomes carried from its manifest
        table, note = training_rows(table)
        print(note)
    recipe = _recipe(args, feature_settings, table.columns)
    result = train_model(table, outcome, model=model, exclude=args.exclude, folds=args.folds, repeats=args.repeats,
                         permutations=args.permutations, n_jobs=args.jobs, info=info, clinical=args.clinical)
    fingerprint = save_model(result.model, outcome, args.output, result.card, result.card_markdown, feature_settings,
                             result.references, None if recipe is None else recipe.to_dict())
    settings = result.validation.settings
    print(f"{model.learner} on {settings['cases']} cases, nested cross-validation ({settings['repeats']} x "
          f"{settings['outer_folds']}-fold, inner {settings['inner_folds']}-fold):")
    print(result.validation.summary())
    print(f"Model saved to {args.output} (fingerprint {fingerprint}) in {time.perf_counter() - started:.1f} s")


def _recipe(args: argparse.Namespace, feature_settings: dict[str, Any] | None, columns: Iterable[str]) -> FeatureRecipe | None:
    """The other scans' settings, the shells and the deep features' source of a table, recorded with its primary
    settings."""
    from ..errors import SettingsError
    from ..features.columns import extended_columns
    from ..features.recipe import table_recipe

    options = scan_options(args)
    deep = None
    if options.deep:
        from ..embedding import deep_extractor

        deep = deep_extractor(options.deep, device="cpu").source
    given = options.given()
    if feature_settings is None:
        if given or options.body or options.deep:
            raise SettingsError("The other scans' settings and the deep features' source are recorded with the primary "
                                "scan's settings: give --preset or --params too.")
        if extended_columns(columns):
            print("Note: the table has columns of other scans, shells or deep features; without --preset or --params the "
                  "model records no settings, so it can predict from tables but 'run' cannot compute its features.")
        return None  # features computed elsewhere: nothing recorded, as for one scan
    if options.peritumoral:
        raise SettingsError("--peritumoral is read from the table's columns (peri<MM>mm_...) when training: leave it out.")
    return table_recipe(columns, feature_settings, given, options.body, args.preset, deep)
