"""Candidates for the default binary learner, on radMLBench's 15 tables and the same nested folds.

``bench_radmlbench.py`` validates each learner on its own. This asks whether combining our two
learners would make a better default: on every outer fold of the same nested cross-validation
(3 x 5 stratified folds, seed 0; 5-fold inner folds for each learner's settings), logistic and
lightgbm are fitted once and their test-fold decisions are scored

- each alone (equal to bench_radmlbench's figures, a check that the folds are the same);
- averaged: the mean of their log-odds (a model whose contributions would stay exact: the mean of
  the two learners' contributions), and the mean of their probabilities;
- chosen: the learner whose best inner-CV AUC is higher, fold by fold (learner choice as one more
  setting of the inner loop).

AUC is the mean over the test folds, as in bench_radmlbench; a candidate is "near" the reference
when within 0.02 of radMLBench's reference AUC or above it.

    nice .venv/bin/python benchmarks/bench_radmlbench_candidates.py      # about 5 minutes on 2 cores

Writes benchmarks/results/radmlbench_candidates.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_radmlbench import DEFAULT_DATA_DIR, NEAR, RESULTS, load
from joblib import Parallel, delayed
from sklearn.model_selection import RepeatedStratifiedKFold

from ResponsePredictorLib.predict import BinaryModel
from ResponsePredictorLib.predict.metrics import auc
from ResponsePredictorLib.predict.models import outcome_strata
from ResponsePredictorLib.predict.persistence import library_versions
from ResponsePredictorLib.predict.training import DEFAULT_LEARNER

LEARNERS = ("logistic", "lightgbm")
CANDIDATES = ("logistic", "lightgbm", "mean log-odds", "mean probability", "chosen by inner CV")


def fold_decisions(X: pd.DataFrame, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
    """Each candidate's test-fold decision values (any monotone score: only AUC is computed)."""
    decision, inner = {}, {}
    for learner in LEARNERS:
        model = BinaryModel(learner=learner, n_bootstrap=0).fit(X.iloc[train], y[train])
        decision[learner] = model.decision_function(X.iloc[test])
        inner[learner] = max(entry["score"] for entry in model.tuning_.scores)
    logistic, lightgbm = decision["logistic"], decision["lightgbm"]
    return {
        "logistic": logistic, "lightgbm": lightgbm,
        "mean log-odds": (logistic + lightgbm) / 2,
        "mean probability": (_sigmoid(logistic) + _sigmoid(lightgbm)) / 2,
        "chosen by inner CV": decision[max(LEARNERS, key=inner.get)],
    }


def _sigmoid(value: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-value))


def table_aucs(X: pd.DataFrame, y: np.ndarray, repeats: int, jobs: int) -> dict[str, float]:
    # The outer folds of predict.cross_validate: the same splitter, seed and strata.
    splits = list(RepeatedStratifiedKFold(n_splits=5, n_repeats=repeats, random_state=0).split(X, outcome_strata(y)))
    folds = Parallel(n_jobs=jobs, max_nbytes=None)(delayed(fold_decisions)(X, y, train, test) for train, test in splits)
    return {name: float(np.mean([auc(y[test], fold[name]) for (_, test), fold in zip(splits, folds)]))
            for name in CANDIDATES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tables", nargs="+", help="only these tables")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    catalog = pd.read_csv(args.data_dir / "radmlbench" / "datasets.csv").set_index("dataset")
    started = time.perf_counter()
    rows = []
    for name in args.tables or list(catalog.index):
        X, y = load(args.data_dir, name)
        row = {"table": name, "reference_auc": float(catalog.loc[name, "reference_auc"]),
               "auc": table_aucs(X, y, args.repeats, args.jobs)}
        rows.append(row)
        print(f"{name:26s} " + "  ".join(f"{k} {v:.3f}" for k, v in row["auc"].items()), flush=True)
    results = {"settings": {"outer_folds": 5, "repeats": args.repeats, "inner_folds": 5, "random_state": 0},
               "minutes": (time.perf_counter() - started) / 60, "versions": library_versions(), "tables": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "radmlbench_candidates.json").write_text(json.dumps(results, indent=2))
    (args.out / "radmlbench_candidates.md").write_text(markdown(results))
    print(f"results in {args.out / 'radmlbench_candidates.md'} after {results['minutes']:.1f} min")


def markdown(results: dict) -> str:
    rows = results["tables"]
    lines = [
        "# radMLBench: candidates for the default binary learner", "",
        "Generated by `benchmarks/bench_radmlbench_candidates.py`; do not edit by hand. Nested cross-validation "
        f"({results['settings']['repeats']} x 5 stratified outer folds, seed 0, 5-fold inner folds), the folds of "
        "`bench_radmlbench.py`; mean AUC over the test folds. Combinations of the two learners' test-fold outputs: "
        "the mean of their log-odds, the mean of their probabilities, and the learner with the higher inner-CV AUC, "
        "fold by fold.", "",
        "| table | " + " | ".join(CANDIDATES) + " | reference AUC |",
        "|---|" + "---|" * (len(CANDIDATES) + 1),
    ]
    for row in rows:
        lines.append(f"| {row['table']} | " + " | ".join(f"{row['auc'][c]:.3f}" for c in CANDIDATES)
                     + f" | {row['reference_auc']:.3f} |")
    default_name = DEFAULT_LEARNER["binary"]
    default = np.array([row["auc"][default_name] for row in rows])
    lines.append("")
    for candidate in CANDIDATES:
        values = np.array([row["auc"][candidate] for row in rows])
        near = sum(row["auc"][candidate] >= row["reference_auc"] - NEAR for row in rows)
        line = (f"- {candidate}: mean AUC {values.mean():.3f}; within {NEAR} of the reference or above on {near} of "
                f"{len(rows)} tables")
        if candidate != default_name:
            difference = values - default
            line += (f"; against {default_name} (the default) {difference.mean():+.3f} on average, higher on "
                     f"{int((difference > 0).sum())} tables, from {difference.min():+.3f} to {difference.max():+.3f}")
        lines.append(line + ".")
    lines += ["", f"{results['minutes']:.0f} minutes. Versions: "
              + ", ".join(f"{k} {v}" for k, v in results["versions"].items()) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
