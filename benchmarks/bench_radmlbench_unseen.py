"""radMLBench beyond its 15 shared tables: tables our defaults were never chosen on, and what the reference is.

The default learner and the learners' grids were chosen on the 15 tables of the shared data folder
(``bench_radmlbench.py``). radMLBench holds more. Given a checkout of its repository
(https://github.com/aydindemircioglu/radMLBench; ``--checkout`` or ``$RP_RADMLBENCH_DIR``), this runs
what ``bench_radmlbench.py`` runs on every other table whose data the checkout holds: each learner's
nested cross-validated AUC with its 95% interval, and radMLBench's protocol on our learners.

It also shows what the reference AUC is. The checkout keeps the search behind it
(``examples/decorrelation/results/trial_<table>_1.0.csv``, 1.0 meaning no decorrelation): 616
pipelines (4 feature selectors x 7 feature counts x 22 classifier settings), each scored by one
10-fold cross-validation of the whole table. The reference is the highest of the 616 scores (checked
here against the shared ``datasets.csv``). A maximum over 616 noisy estimates is optimistic; the
score of one fixed pipeline is not. So each nested AUC of ours is placed among the 616 scores (the
share of pipelines it exceeds, their median and 90th percentile), for the 15 shared tables from
``radmlbench_candidates.json`` (the run the default was chosen on) without refitting. And one fixed pipeline is chosen the way our default was, by
its mean AUC over the 15 shared tables, and read off on the other tables.

    git clone https://github.com/aydindemircioglu/radMLBench /tmp/radMLBench   # results: commit f757f7b
    nice .venv/bin/python benchmarks/bench_radmlbench_unseen.py --checkout /tmp/radMLBench   # about 12 min, 2 cores

Writes benchmarks/results/radmlbench_unseen.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_radmlbench import (DEFAULT_DATA_DIR, NEAR, RESULTS, UNNAMED_ROW, machine, nested_cv, read_radmlbench_table,
                              tuned_cv, write_results)
from joblib import Parallel, delayed

from ResponsePredictorLib.predict.persistence import library_versions
from ResponsePredictorLib.predict.training import DEFAULT_LEARNER
from ResponsePredictorLib.predict.validation import Estimate

SEARCH_RECORDS = Path("examples") / "decorrelation" / "results"


def search_scores(checkout: Path, name: str) -> pd.Series:
    """The cross-validated AUC of every pipeline radMLBench's reference search tried on ``name``, by pipeline."""
    trials = pd.read_csv(checkout / SEARCH_RECORDS / f"trial_{name}_1.0.csv", compression="gzip")
    settings = sorted(column for column in trials.columns if column.startswith("params_"))
    pipelines = trials[settings].apply(
        lambda row: ", ".join(f"{s.removeprefix('params_')}={row[s]}" for s in settings if pd.notna(row[s])), axis=1)
    return pd.Series(trials["value"].to_numpy(), index=pipelines)


def pipelines(scores: pd.Series) -> dict:
    """The pipelines' scores on one table (their maximum is the reference AUC)."""
    return {"count": len(scores), "median": float(scores.median()), "p90": float(scores.quantile(0.9))}


def share_below(scores: pd.Series, value: float) -> float:
    """The share of the pipelines whose score an AUC exceeds."""
    return float((scores < value).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", type=Path, default=os.environ.get("RP_RADMLBENCH_DIR"),
                        help="a clone of github.com/aydindemircioglu/radMLBench (default $RP_RADMLBENCH_DIR)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the shared data (its 15 tables are 'seen')")
    parser.add_argument("--learners", nargs="+", default=[DEFAULT_LEARNER["binary"]],
                        help="learners run (default: the default learner; it is also compared with the plain learner)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the outer 5 folds (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="folds fitted in parallel (default 2)")
    parser.add_argument("--tables", nargs="+", help="only these of the unseen tables")
    parser.add_argument("--commit", help="radMLBench's commit, for a checkout that is not a git clone (default: read from it)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.checkout is None or not (args.checkout / SEARCH_RECORDS).is_dir():
        parser.error(f"--checkout must be a clone of radMLBench holding {SEARCH_RECORDS} (got {args.checkout}).")

    default = DEFAULT_LEARNER["binary"]
    if default not in args.learners:
        parser.error(f"--learners must include the default learner, {default}: the tables place its AUCs.")
    seen = pd.read_csv(args.data_dir / "radmlbench" / "datasets.csv").set_index("dataset")["reference_auc"]
    # The AUCs the default was chosen on (bench_radmlbench_candidates.py), on the same folds.
    seen_results = json.loads((RESULTS / "radmlbench_candidates.json").read_text())
    searched = sorted(path.name[len("trial_"):-len("_1.0.csv")] for path in (args.checkout / SEARCH_RECORDS).glob("trial_*_1.0.csv"))
    scores = {name: search_scores(args.checkout, name) for name in searched}
    with_data = {path.name[:-len(".gz")] for path in (args.checkout / "datasets").glob("*.gz")}
    unseen = args.tables or [name for name in searched if name in with_data and name not in seen.index]
    # A fixed pipeline chosen as our default was: by its mean AUC over the 15 shared tables.
    chosen = pd.DataFrame({name: scores[name] for name in seen.index}).mean(axis=1).idxmax()

    started, load_start = time.perf_counter(), os.getloadavg()[0]
    rows = []
    for name in unseen:
        X, y = read_radmlbench_table(args.checkout / "datasets" / f"{name}.gz")
        row = {"table": name, "cases": len(y), "features": X.shape[1], "positives": int(y.sum()),
               "reference_auc": float(scores[name].max()), "pipelines": pipelines(scores[name]),
               "chosen_pipeline_auc": float(scores[name][chosen]), "rows_without_id": [case for case in X.index if case.startswith(UNNAMED_ROW)], "learners": {}}
        for learner in args.learners:
            result = nested_cv(X, y, learner, args.repeats, args.jobs, against_plain=learner == default)
            row["learners"][learner] = {**result, "exceeds": share_below(scores[name], result["auc"]["value"])}
        tuned = Parallel(n_jobs=args.jobs)(delayed(tuned_cv)(X, y, learner) for learner in args.learners)
        row["tuned_cv"] = dict(zip(args.learners, tuned))
        rows.append(row)
        print(f"{name:28s} " + ", ".join(f"{learner} {entry['auc']['value']:.3f} (exceeds {percent(entry['exceeds'])})"
                                         for learner, entry in row["learners"].items())
              + f"; {default} minus plain {row['learners'][default]['against_plain']['difference']['value']:+.3f}"
              + f"; reference {row['reference_auc']:.3f}, median pipeline {row['pipelines']['median']:.3f}",
              flush=True)
    seen_rows = [{"table": row["table"], "reference_auc": row["reference_auc"], "pipelines": pipelines(scores[row["table"]]),
                  "chosen_pipeline_auc": float(scores[row["table"]][chosen]),
                  "learners": {learner: {"auc": {"value": row["auc"][learner]}, "exceeds": share_below(scores[row["table"]], row["auc"][learner])}
                               for learner in args.learners}}
                 for row in seen_results["tables"]]
    results = {
        "settings": {"outer_folds": 5, "repeats": args.repeats, "inner_folds": 5, "random_state": 0, "jobs": args.jobs,
                     "default_learner": default, "near": NEAR, "checkout_commit": args.commit or commit(args.checkout)},
        "reference_check": {name: {"datasets_csv": float(seen[name]), "search_maximum": float(scores[name].max())} for name in seen.index},
        "chosen_pipeline": chosen,
        "searched_without_data": sorted(set(searched) - with_data),
        "machine": machine(started, load_start), "versions": library_versions(), "unseen": rows, "seen": seen_rows,
    }
    write_results(args.out, "radmlbench_unseen", results, markdown(results))


def commit(checkout: Path) -> str:
    run = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return run.stdout.strip() or "unknown"


def percent(share: float) -> str:
    """Rounded down: exceeding 615 of 616 pipelines is not exceeding them all."""
    return f"{math.floor(100 * share + 1e-9)}%"


def placement_summary(rows: list[dict], learner: str) -> str:
    shares = [row["learners"][learner]["exceeds"] for row in rows]
    above_median = sum(row["learners"][learner]["auc"]["value"] > row["pipelines"]["median"] for row in rows)
    above_p90 = sum(row["learners"][learner]["auc"]["value"] > row["pipelines"]["p90"] for row in rows)
    return (f"`{learner}`'s nested AUC is above the median pipeline on {above_median} of {len(rows)} tables and above the "
            f"90th percentile on {above_p90}; it exceeds {percent(np.median(shares))} of the {rows[0]['pipelines']['count']} "
            "pipelines on the median table")


def markdown(results: dict) -> str:
    settings, rows, default = results["settings"], results["unseen"], results["settings"]["default_learner"]
    learners = list(rows[0]["learners"])
    check = results["reference_check"]
    equal = sum(abs(entry["datasets_csv"] - entry["search_maximum"]) < 5e-4 for entry in check.values())
    lines = [
        "# radMLBench: tables our defaults were never chosen on, and what the reference is", "",
        "Generated by `benchmarks/bench_radmlbench_unseen.py` from a checkout of radMLBench's repository (commit "
        f"{settings['checkout_commit']}); do not edit by hand. Our default learner and grids were chosen on the 15 tables "
        "of `radmlbench.md`; the tables below are the other ones whose data the checkout holds. Same protocol as "
        f"`radmlbench.md`: nested cross-validation, {settings['repeats']} x 5-fold stratified outer folds, 5-fold inner folds, "
        "everything fitted inside the training folds, 95% interval from resampling the patients (each drawn patient counts in every repeat).", "",
        "## What the reference AUC is", "",
        "radMLBench's repository keeps the search behind its reference: 616 pipelines (feature selection by ANOVA, "
        "Bhattacharyya distance, LASSO or extra trees, keeping 1 to 64 features; then logistic regression, an RBF SVM or a "
        "random forest at 7 settings each, or naive Bayes), each scored by one 10-fold cross-validation of the whole table. "
        f"The reference is the highest of the 616 scores: it equals `datasets.csv`'s reference AUC on {equal} of "
        f"{len(check)} shared tables. The score of one fixed pipeline is an honest estimate for that pipeline; the highest "
        "of 616 such scores is not (it picks the pipeline that was luckiest on these very folds). So beside the reference, "
        "the tables give the 616 scores' median and 90th percentile, and the share of the pipelines that our nested AUC "
        "exceeds. 'chosen pipeline' is the one fixed pipeline with the best mean AUC on the 15 shared tables, chosen the way "
        f"our default was: `{results['chosen_pipeline']}`.", "",
        f"## {len(rows)} tables never used to choose our defaults", "",
        "| table | cases | features | " + " | ".join(f"{learner} AUC (95% CI)" for learner in learners)
        + f" | {default} minus plain learner (95% CI) | reference AUC | pipelines' median / 90th pct | default exceeds | chosen pipeline | "
        f"best of ours, reference's protocol | {default} fit s |",
        "|---|---|---|" + "---|" * (len(learners) + 7),
    ]
    for row in rows:
        own = row["learners"][default]
        cells = [f"{r['auc']['value']:.3f} ({r['auc']['lower']:.3f}-{r['auc']['upper']:.3f})" for r in row["learners"].values()]
        best = max(entry["auc"] for entry in row["tuned_cv"].values())
        difference = own["against_plain"]["difference"]
        lines.append(f"| {row['table']} | {row['cases']} | {row['features']} | " + " | ".join(cells)
                     + f" | {Estimate.from_dict(difference).signed()}"
                     f" | {row['reference_auc']:.3f} | {row['pipelines']['median']:.3f} / {row['pipelines']['p90']:.3f} | "
                     f"{percent(own['exceeds'])} | {row['chosen_pipeline_auc']:.3f} | {best:.3f} | {own['fit_seconds']:.1f} |")
    near = sum(row["learners"][default]["auc"]["value"] >= row["reference_auc"] - NEAR for row in rows)
    reaches = sum(row["reference_auc"] <= row["learners"][default]["auc"]["upper"] for row in rows)
    protocol = sum(max(e["auc"] for e in row["tuned_cv"].values()) >= row["reference_auc"] - NEAR for row in rows)
    mean = {key: np.mean(values) for key, values in {
        "default": [row["learners"][default]["auc"]["value"] for row in rows],
        "chosen": [row["chosen_pipeline_auc"] for row in rows],
        "reference": [row["reference_auc"] for row in rows],
        "median": [row["pipelines"]["median"] for row in rows],
        "plain": [row["learners"][default]["against_plain"]["plain_auc"]["value"] for row in rows]}.items()}
    differences = [row["learners"][default]["against_plain"]["difference"] for row in rows]
    lines += [
        "",
        f"- Against the plain learner (ridge logistic regression on every feature, the same folds; the paired AUC difference "
        f"resamples the patients): the default learner (`{default}`) has mean AUC {mean['default']:.3f} against "
        f"{mean['plain']:.3f}, a mean difference of {mean['default'] - mean['plain']:+.3f} (from "
        f"{min(d['value'] for d in differences):+.3f} to {max(d['value'] for d in differences):+.3f}); higher on "
        f"{sum(d['value'] > 0 for d in differences)} of {len(rows)} tables; the interval lies above 0 on "
        f"{sum(d['lower'] > 0 for d in differences)} and below 0 on {sum(d['upper'] < 0 for d in differences)}.",
        f"- Against the reference: the default learner (`{default}`) is within {NEAR} of it or above on {near} of {len(rows)} "
        f"tables, its interval reaches it on {reaches}; by the reference's own protocol the better of our learners is within "
        f"{NEAR} on {protocol} of {len(rows)}.",
        f"- Among the reference's pipelines: {placement_summary(rows, default)}.",
        f"- Mean AUC over these tables: default (nested) {mean['default']:.3f}; the chosen pipeline {mean['chosen']:.3f}; the "
        f"median pipeline {mean['median']:.3f}; the reference (the best of 616 on each table) {mean['reference']:.3f}.",
        "",
        "## The 15 shared tables among the reference's pipelines", "",
        "Nested AUCs from `radmlbench_candidates.json`, the run the default was chosen on (not refitted). The chosen pipeline's "
        "AUC is in-sample here: it was chosen on these tables.", "",
        "| table | " + " | ".join(f"{learner} AUC (exceeds)" for learner in learners)
        + " | reference AUC | pipelines' median / 90th pct | chosen pipeline |",
        "|---|" + "---|" * (len(learners) + 3),
    ]
    for row in results["seen"]:
        lines.append(f"| {row['table']} | " + " | ".join(f"{e['auc']['value']:.3f} ({percent(e['exceeds'])})"
                                                        for e in row["learners"].values())
                     + f" | {row['reference_auc']:.3f} | {row['pipelines']['median']:.3f} / {row['pipelines']['p90']:.3f} | "
                     f"{row['chosen_pipeline_auc']:.3f} |")
    lines += ["", f"- {placement_summary(results['seen'], default)}."]
    unnamed = {row["table"]: len(row["rows_without_id"]) for row in rows if row["rows_without_id"]}
    if unnamed:
        lines += ["", "Rows without an ID, kept under their row number (our tables refuse them): "
                  + ", ".join(f"{table} {count}" for table, count in unnamed.items()) + "."]
    if results["searched_without_data"]:
        lines += ["", "Searched by radMLBench but without data in this checkout (its data files were not in the clone), so not run: "
                  + ", ".join(results["searched_without_data"]) + "."]
    run = results["machine"]
    lines += ["", f"Machine: {run['cpus']} CPUs ({run['platform']}), load average {run['load_average_start']:.1f} "
              f"at start and {run['load_average_end']:.1f} at end; {run['total_minutes']:.0f} minutes with "
              f"{settings['jobs']} parallel jobs. Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
