"""radMLBench: our binary models on 15 public radiomics tables, honestly validated.

For every table of radMLBench (``$RP_DATA_DIR/radmlbench``): the nested cross-validated AUC of each
learner with its 95% interval (``predict.cross_validate``: repeated stratified 5-fold outer loop,
5-fold inner loop for the settings, everything fitted inside the folds), next to the benchmark's
own reference AUC (tuned by plain 10-fold cross-validation, so optimistic). Beside them, the same
optimistic protocol applied to our learners (every setting of their grids scored by plain 10-fold
cross-validation, the best one kept, no outer loop): it compares our learners with the reference on
equal terms and measures how much a tuned, non-nested estimate flatters. For the six WORC tables,
also the mean test AUC over WORC's own train/test splits (``radmlbench/worc_splits``) with the
corrected resampled t-test interval (Nadeau & Bengio), next to the AUCs of the WORC paper
(Starmans et al., arXiv 2108.08618). Then the time to train a model on each table and the latency
of one patient's prediction from a saved model.

    nice .venv/bin/python benchmarks/bench_radmlbench.py                  # 15-25 minutes on 2 shared cores
    .venv/bin/python benchmarks/bench_radmlbench.py --repeats 1 --worc-splits 5 --tables WORC-Lipo   # a quick look

Writes benchmarks/results/radmlbench.json and radmlbench.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats

from ResponsePredictorLib.predict import BinaryModel, BinaryOutcome, cross_validate, load_model, read_table, save_model
from ResponsePredictorLib.predict.metrics import auc
from ResponsePredictorLib.predict.model_card import CardInfo, build_card, render_markdown
from ResponsePredictorLib.predict.persistence import library_versions
from ResponsePredictorLib.predict.references import Reference
from ResponsePredictorLib.predict.table import feature_columns
from ResponsePredictorLib.predict.training import DEFAULT_LEARNER

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = Path(os.environ.get("RP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
RESULTS = REPO_ROOT / "benchmarks" / "results"
OUTCOME = BinaryOutcome("Target")
# The AUCs the WORC paper reports for its own method on these splits (Starmans et al., arXiv 2108.08618).
WORC_PAPER_AUC = {"WORC-Lipo": 0.83, "WORC-Desmoid": 0.82, "WORC-Liver": 0.81, "WORC-GIST": 0.77,
                  "WORC-CRLM": 0.68, "WORC-Melanoma": 0.51}
NEAR = 0.02  # "matches the reference": within this much of it, or above
UNNAMED_ROW = "row without ID "
LATENCY_TABLE = "WORC-Lipo"  # 1015 features: the widest tables of the benchmark


def load(data_dir: Path, name: str) -> tuple[pd.DataFrame, np.ndarray]:
    return read_radmlbench_table(data_dir / "radmlbench" / "datasets" / f"{name}.gz")


def read_radmlbench_table(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """A radMLBench table (gzipped CSV: ID, Target, features) as our features and binary outcome.

    Our tables refuse a row without a case name; a benchmark table with one (Hosny2018B has a row
    without ID) keeps it, named by its row number with ``UNNAMED_ROW``, so the results can say so."""
    raw = pd.read_csv(path, compression="gzip")
    raw["ID"] = [f"{UNNAMED_ROW}{row}" if pd.isna(case) else str(case) for row, case in enumerate(raw["ID"])]
    table = read_table(raw.rename(columns={"ID": "case"}))
    return table[feature_columns(table, OUTCOME)], OUTCOME.values(table)


def nested_cv(X: pd.DataFrame, y: np.ndarray, learner: str, repeats: int, jobs: int, against_plain: bool = False) -> dict:
    """The learner's nested AUC and Brier score; with ``against_plain``, also its paired AUC difference against the
    plain learner (``predict.references``) on the same folds and resamplings (``cv_seconds`` then covers both)."""
    references = [Reference("plain", tuple(X.columns))] if against_plain else []
    started = time.perf_counter()
    result = cross_validate(BinaryModel(learner=learner), X, y, folds=5, repeats=repeats, random_state=0, n_jobs=jobs,
                            references=references)
    elapsed = time.perf_counter() - started
    started = time.perf_counter()
    BinaryModel(learner=learner, n_bootstrap=0).fit(X, y)
    entry = {"auc": result.metrics["auc"].to_dict(), "brier": result.metrics["brier"].to_dict(),
             "cv_seconds": elapsed, "fit_seconds": time.perf_counter() - started}
    if against_plain:
        (plain,) = result.comparisons
        entry["against_plain"] = {"plain_auc": plain.metrics["auc"].to_dict(), "difference": plain.differences["auc"].to_dict()}
    return entry


def tuned_cv(X: pd.DataFrame, y: np.ndarray, learner: str) -> dict:
    """radMLBench's protocol on our learner: the mean AUC over plain 10-fold CV of the best setting
    of the learner's grid, chosen on those same folds (the inner CV of a model fitted on all cases)."""
    model = BinaryModel(learner=learner, inner_folds=10, n_bootstrap=0).fit(X, y)
    best = max(model.tuning_.scores, key=lambda entry: entry["score"])
    return {"auc": best["score"], "params": best["params"]}


def worc_splits(data_dir: Path, name: str, X: pd.DataFrame, y: np.ndarray, learner: str, count: int, jobs: int) -> dict:
    splits = pd.read_csv(data_dir / "radmlbench" / "worc_splits" / f"crossvalidationsplits_{name.split('-')[1]}.csv", index_col=0)
    outcome = pd.Series(y, index=X.index)
    known = set(X.index)
    indices = range(min(count, len(splits.columns) // 2))
    listed = set().union(*(set(splits[f"{k}_{part}"].dropna()) for k in indices for part in ("train", "test")))

    def one(k: int) -> float:
        train = [case for case in splits[f"{k}_train"].dropna() if case in known]
        test = [case for case in splits[f"{k}_test"].dropna() if case in known]
        model = BinaryModel(learner=learner, n_bootstrap=0).fit(X.loc[train], outcome[train].to_numpy())
        return auc(outcome[test].to_numpy(), model.predict_proba(X.loc[test])[:, 1])

    aucs = np.array(Parallel(n_jobs=jobs)(delayed(one)(k) for k in indices))
    n_test = splits["0_test"].notna().sum()
    n_train = splits["0_train"].notna().sum()
    # Corrected resampled t-test (Nadeau & Bengio 2003), the interval WORC reports: the splits overlap,
    # so the variance of their mean is inflated by n_test / n_train.
    half = stats.t.ppf(0.975, len(aucs) - 1) * np.sqrt((1 / len(aucs) + n_test / n_train) * aucs.var(ddof=1))
    return {"splits": len(aucs), "mean_auc": float(aucs.mean()), "lower": float(aucs.mean() - half),
            "upper": float(aucs.mean() + half), "paper_auc": WORC_PAPER_AUC[name],
            "cases_in_splits_not_in_table": sorted(listed - known)}


def latency(X: pd.DataFrame, y: np.ndarray, learner: str, repeats: int = 30) -> dict:
    started = time.perf_counter()
    model = BinaryModel(learner=learner).fit(X, y)
    train_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        # A card from a dummy validation is enough to save; the timings do not depend on it.
        from ResponsePredictorLib.predict.validation import evaluate

        card = build_card(CardInfo(name="latency"), model, OUTCOME, X, y, evaluate(model, X, y, n_resamples=0))
        save_model(model, OUTCOME, folder, card, render_markdown(card))
        size = sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
        timings = {"load": [], "probability_and_interval": [], "contributions": [], "probability_only": []}
        for index in range(repeats):
            patient = X.iloc[[index % len(X)]]
            for name, action in (("load", lambda: load_model(folder)),
                                 ("probability_only", lambda: model.predict_proba(patient)),
                                 ("probability_and_interval", lambda: model.outputs(patient)),
                                 ("contributions", lambda: model.contributions(patient))):
                started = time.perf_counter()
                action()
                timings[name].append(time.perf_counter() - started)
    return {"learner": learner, "train_seconds_with_bootstrap": train_seconds, "bootstrap_refits": model.n_bootstrap,
            "model_folder_bytes": size, **{f"{name}_ms": 1000 * statistics.median(values) for name, values in timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--learners", nargs="+", default=["logistic", "lightgbm"])
    parser.add_argument("--worc-learner", default=DEFAULT_LEARNER["binary"], help="learner run on the WORC splits (default: the default)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the outer 5 folds (default 3)")
    parser.add_argument("--worc-splits", type=int, default=100, help="WORC splits used, the first N of 100 (default all)")
    parser.add_argument("--jobs", type=int, default=2, help="folds or splits fitted in parallel (default 2)")
    parser.add_argument("--tables", nargs="+", help="only these tables")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    catalog = pd.read_csv(args.data_dir / "radmlbench" / "datasets.csv").set_index("dataset")
    names = args.tables or list(catalog.index)
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    rows = []
    for name in names:
        X, y = load(args.data_dir, name)
        row = {"table": name, "cases": len(y), "features": X.shape[1], "positives": int(y.sum()),
               "reference_auc": float(catalog.loc[name, "reference_auc"]), "learners": {}}
        for learner in args.learners:
            row["learners"][learner] = nested_cv(X, y, learner, args.repeats, args.jobs)
            print(f"{name:26s} {learner:9s} AUC {row['learners'][learner]['auc']['value']:.3f} "
                  f"({row['learners'][learner]['auc']['lower']:.3f}-{row['learners'][learner]['auc']['upper']:.3f}) "
                  f"reference {row['reference_auc']:.3f}  [{row['learners'][learner]['cv_seconds']:.0f} s]", flush=True)
        tuned = Parallel(n_jobs=args.jobs)(delayed(tuned_cv)(X, y, learner) for learner in args.learners)
        row["tuned_cv"] = dict(zip(args.learners, tuned))
        print(f"{name:26s} reference protocol (tuned 10-fold CV): "
              + ", ".join(f"{learner} {entry['auc']:.3f}" for learner, entry in row["tuned_cv"].items()), flush=True)
        if name in WORC_PAPER_AUC and args.worc_splits:
            row["worc"] = worc_splits(args.data_dir, name, X, y, args.worc_learner, args.worc_splits, args.jobs)
            print(f"{name:26s} WORC splits: mean AUC {row['worc']['mean_auc']:.3f} (paper {row['worc']['paper_auc']:.2f})", flush=True)
        rows.append(row)
    latency_name = LATENCY_TABLE if LATENCY_TABLE in names else names[0]
    X, y = load(args.data_dir, latency_name)
    latencies = [latency(X, y, learner) for learner in args.learners]
    results = {
        "settings": {"outer_folds": 5, "repeats": args.repeats, "inner_folds": 5, "random_state": 0,
                     "ci_resamples": 1000, "worc_splits": args.worc_splits, "worc_learner": args.worc_learner,
                     "jobs": args.jobs, "latency_table": latency_name},
        "machine": machine(started, load_start), "versions": library_versions(), "tables": rows, "latency": latencies,
    }
    write_results(args.out, "radmlbench", results, markdown(results))


def machine(started: float, load_start: float) -> dict:
    """The machine and its load over a run that began at ``started`` (perf_counter) with ``load_start``."""
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "load_average_start": load_start,
            "load_average_end": os.getloadavg()[0], "total_minutes": (time.perf_counter() - started) / 60}


def write_results(out: Path, stem: str, results: dict, text: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2))
    (out / f"{stem}.md").write_text(text)
    print(f"results in {out / f'{stem}.md'} after {results['machine']['total_minutes']:.1f} min")


def markdown(results: dict) -> str:
    settings, learners = results["settings"], list(results["tables"][0]["learners"])
    lines = [
        "# radMLBench: nested cross-validated AUC", "",
        "Generated by `benchmarks/bench_radmlbench.py`; do not edit by hand. "
        f"Nested cross-validation: {settings['repeats']} x 5-fold stratified outer folds, 5-fold inner folds for the "
        "hyper-parameters, every step (encoding, constant and correlated-feature removal, standardisation, tuning) "
        "fitted inside the training folds; AUC is the mean over test folds, the 95% interval resamples the patients "
        f"({settings['ci_resamples']} resamples). The reference AUC is radMLBench's own: the best of 616 pipelines' "
        "10-fold CV AUCs, no outer loop, hence optimistic (see radmlbench_unseen.md).", "",
        "| table | cases | features | " + " | ".join(f"{learner} AUC (95% CI)" for learner in learners)
        + " | reference AUC | " + " | ".join(f"{learner} fit s" for learner in learners) + " |",
        "|---|---|---|" + "---|" * (2 * len(learners) + 1),
    ]
    for row in results["tables"]:
        cells = [f"{r['auc']['value']:.3f} ({r['auc']['lower']:.3f}-{r['auc']['upper']:.3f})" for r in row["learners"].values()]
        times = [f"{r['fit_seconds']:.1f}" for r in row["learners"].values()]
        lines.append(f"| {row['table']} | {row['cases']} | {row['features']} | " + " | ".join(cells)
                     + f" | {row['reference_auc']:.3f} | " + " | ".join(times) + " |")
    default = settings["worc_learner"]
    if default in learners:
        own = [row["learners"][default]["auc"] for row in results["tables"]]
        references = [row["reference_auc"] for row in results["tables"]]
        reached = sum(auc["value"] >= reference - NEAR for auc, reference in zip(own, references))
        within = sum(reference <= auc["upper"] for auc, reference in zip(own, references))
        lines += ["", f"Default learner (`{default}`): within {NEAR} of the reference AUC or above it on {reached} of {len(own)} "
                  f"tables; its 95% interval reaches the reference on {within} of {len(own)}."]
    lines += ["", "'fit s' is the time to train one model on the whole table: inner-CV tuning and the final fit, without the "
              "bootstrap refits (see the last table for a full training)."]
    if all("tuned_cv" in row for row in results["tables"]):
        lines += ["", "## The reference's protocol on our learners", "",
                  "Every setting of each learner's grid scored by plain stratified 10-fold cross-validation on the whole table, "
                  "the best kept: tuning and scoring on the same folds, as radMLBench's reference (which also picks the best of "
                  "many methods). 'best of ours' is the better of our learners, the way the reference is the best of its "
                  "methods; 'optimism' is how much it exceeds the default learner's nested estimate above.", "",
                  "| table | " + " | ".join(f"{learner} tuned-CV AUC" for learner in learners)
                  + " | best of ours | reference AUC | best of ours - reference | optimism (tuned-CV - nested, default) |",
                  "|---|" + "---|" * (len(learners) + 4)]
        gaps, optimism = [], []
        for row in results["tables"]:
            best = max(entry["auc"] for entry in row["tuned_cv"].values())
            gaps.append(best - row["reference_auc"])
            if default in row["learners"]:
                optimism.append(row["tuned_cv"][default]["auc"] - row["learners"][default]["auc"]["value"])
            lines.append(f"| {row['table']} | " + " | ".join(f"{row['tuned_cv'][learner]['auc']:.3f}" for learner in learners)
                         + f" | {best:.3f} | {row['reference_auc']:.3f} | {gaps[-1]:+.3f} | "
                         + (f"{optimism[-1]:+.3f} |" if default in row["learners"] else "- |"))
        reached = sum(gap >= -NEAR for gap in gaps)
        lines += ["", f"With the reference's protocol, the best of our learners is within {NEAR} of the reference AUC or above "
                  f"it on {reached} of {len(gaps)} tables (mean difference {np.mean(gaps):+.3f})"
                  + (f"; the protocol flatters the default learner by {np.mean(optimism):+.3f} AUC on average over its "
                     "nested estimate." if optimism else ".")]
    worc = [row for row in results["tables"] if "worc" in row]
    if worc:
        lines += ["", "## WORC tables on WORC's own train/test splits", "",
                  f"`{settings['worc_learner']}` trained on each split's training cases (inner CV for its settings) and "
                  f"tested on its test cases; {settings['worc_splits']} of WORC's 100 random 80/20 splits (the first ones); mean "
                  "test AUC with the corrected resampled t-test 95% interval (the interval WORC reports).", "",
                  "| table | splits | mean AUC (95% CI) | WORC paper AUC |", "|---|---|---|---|"]
        for row in worc:
            w = row["worc"]
            lines.append(f"| {row['table']} | {w['splits']} | {w['mean_auc']:.3f} ({w['lower']:.3f}-{w['upper']:.3f}) | {w['paper_auc']:.2f} |")
        missing = {row["table"]: row["worc"]["cases_in_splits_not_in_table"] for row in worc if row["worc"]["cases_in_splits_not_in_table"]}
        if missing:
            lines += ["", "Cases listed in WORC's splits but absent from the radMLBench table (left out of those splits): "
                      + "; ".join(f"{table}: {', '.join(cases)}" for table, cases in missing.items()) + "."]
    lines += ["", f"## Single-patient prediction ({settings['latency_table']}, saved model loaded from disk)", "",
              "| learner | train s (with bootstrap refits) | model folder | load ms | probability ms | probability + interval ms | contributions ms |",
              "|---|---|---|---|---|---|---|"]
    for entry in results["latency"]:
        lines.append(f"| {entry['learner']} | {entry['train_seconds_with_bootstrap']:.1f} ({entry['bootstrap_refits']}) | "
                     f"{entry['model_folder_bytes'] / 1e6:.1f} MB | {entry['load_ms']:.0f} | {entry['probability_only_ms']:.1f} | "
                     f"{entry['probability_and_interval_ms']:.1f} | {entry['contributions_ms']:.1f} |")
    machine = results["machine"]
    lines += ["", f"Medians of 30 single-patient calls. Machine: {machine['cpus']} CPUs ({machine['platform']}), load average "
              f"{machine['load_average_start']:.1f} at start and {machine['load_average_end']:.1f} at end (shared); "
              f"{machine['total_minutes']:.0f} minutes in all with {settings['jobs']} parallel jobs. Versions: "
              + ", ".join(f"{k} {v}" for k, v in results["versions"].items()) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
