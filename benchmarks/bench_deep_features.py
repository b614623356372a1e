"""Benchmark: deep features (the shipped segmentation network's encoder levels averaged over the tumor,
``deep_0`` ... ``deep_359``) as predictors of overall survival on the public NSCLC crops, beside radiomics,
clinical covariates and tumor volume.

    nice .venv/bin/python benchmarks/bench_deep_features.py [--data-dir DIR] [--recompute-deep] [--jobs 2]

Every candidate is validated exactly as the default survival model's candidates are
(``scripts/train_default_model.py``: its table, its nested cross-validation, coxnet, its folds and seed):
deep features alone, radiomics alone, deep + radiomics + clinical, clinical alone, tumor volume alone.
Each is paired with clinical alone and with volume alone (fitted on the same folds, resampled with the
same patients), which gives the paired C-index differences.

The deep features of every crop are cached in ``benchmarks/data/nsclc_crops_deep_features.csv``, with
``.json`` beside it: the network they come from (model id, version, weights sha256), the crops without
features and why, and the embedding time per case (CPU, ``$RP_BENCH_THREADS`` torch threads, default
2). They are computed again with ``--recompute-deep`` or when the installed network differs from the
cached one. Results: ``benchmarks/results/deep_features.{json,md}``. About 4 minutes to embed the crops
and 3 minutes of cross-validation on 2 shared cores.
"""

from __future__ import annotations

from bench_threads import THREADS  # first: it caps the thread pools before numpy and torch load

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from revision import git_revision
from ResponsePredictorLib.embedding import deep_extractor
from ResponsePredictorLib.embedding.extractor import DeepFeatureExtractor
from ResponsePredictorLib.errors import InputError
from ResponsePredictorLib.predict import read_table
from ResponsePredictorLib.predict.persistence import library_versions
from ResponsePredictorLib.predict.references import Reference
from ResponsePredictorLib.predict.validation import Validation
from ResponsePredictorLib.tables import CASE_COLUMN, write_feature_table

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))
import train_default_model as default  # noqa: E402  (the scripts folder is not a package)
from nsclc_crops import case_id, crop_paths, read_crop  # noqa: E402
from nsclc_features import FEATURES_CSV  # noqa: E402

DEEP_CSV = FEATURES_CSV.with_name("nsclc_crops_deep_features.csv")
DEEP_RECORD = DEEP_CSV.with_suffix(".json")
SEGMENTATION_TRAINING = default.RESULTS / "segmentation_training.json"
COMMAND = "nice .venv/bin/python benchmarks/bench_deep_features.py"
BASELINES = ("clinical alone", "tumor volume alone")  # what every candidate is paired with


def deep_features(data_dir: Path, recompute: bool) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The cached deep feature table and its record, computed first when asked, missing or of other weights."""
    torch.set_num_threads(THREADS)
    started = time.perf_counter()
    extractor = deep_extractor("default", device="cpu")
    loaded = time.perf_counter() - started
    record = json.loads(DEEP_RECORD.read_text()) if DEEP_RECORD.is_file() and DEEP_CSV.is_file() else None
    if recompute or record is None or record["source"] != extractor.source:
        record = embed_crops(extractor, data_dir) | {"model_load_seconds": loaded}
        DEEP_RECORD.write_text(json.dumps(record, indent=2) + "\n")
    return read_table(DEEP_CSV), record


def embed_crops(extractor: DeepFeatureExtractor, data_dir: Path) -> dict[str, Any]:
    """Embed every crop into DEEP_CSV, one at a time; returns what the cache's record holds."""
    paths = crop_paths(data_dir)
    if not paths:
        raise SystemExit(f"No crops found in {data_dir / 'nsclc_crops' / 'images'} (set --data-dir or RP_DATA_DIR).")
    load = os.getloadavg()
    rows, excluded, seconds = [], [], []
    for path in paths:
        image, mask = read_crop(path)
        started = time.perf_counter()
        try:
            features = extractor.extract(image, mask)
        except InputError as error:  # an empty mask: recorded with its reason, as the product reports it
            excluded.append({"case": case_id(path), "reason": str(error)})
            continue
        seconds.append(time.perf_counter() - started)
        rows.append({CASE_COLUMN: case_id(path), **features})
    write_feature_table(rows, DEEP_CSV)
    timed = seconds[1:]  # the first embedding also pays torch's one-time start-up
    return {"source": extractor.source, "crops": len(paths), "embedded": len(rows), "excluded": excluded,
            "seconds_per_case": {"min": min(timed), "median": statistics.median(timed), "max": max(timed),
                                 "cases_timed": len(timed), "first_case": seconds[0]},
            "device": "cpu", "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores", "load_average": {"start": load, "end": os.getloadavg()},
            "date": datetime.date.today().isoformat(), "revision": git_revision()}


def survival_table(data_dir: Path, deep: pd.DataFrame, record: dict[str, Any]
                   ) -> tuple[pd.DataFrame, dict[str, list[str]], list[dict[str, str]]]:
    """The default model's table joined with the deep features (the cases with both, in its order, so that the
    folds are the default model's), the candidates' columns, and every crop left out with its reason."""
    table, excluded = default.build_table(data_dir, recompute=False)
    base = default.candidates(table)  # before the deep columns join, which it would count as radiomics
    excluded = [{**row, "what": "the default model's table"} for row in excluded]
    excluded += [{**row, "what": "deep features"} for row in record["excluded"]]
    # The inner join below keeps the cases with both; one without deep features and no recorded reason is named too.
    unexplained = table.index.difference(deep.index).difference([row["case"] for row in record["excluded"]])
    excluded += [{"case": case, "reason": "not in the deep feature cache", "what": "deep features"} for case in unexplained]
    columns = {
        "deep features alone": list(deep.columns),
        "radiomics alone": [c for c in base["radiomics + clinical"] if c not in default.CLINICAL],
        "deep + radiomics + clinical": [*deep.columns, *base["radiomics + clinical"]],
        "clinical alone": base["clinical alone"],
        "tumor volume alone": base["tumor volume alone"],
    }
    return table.join(deep, how="inner"), columns, sorted(excluded, key=lambda row: row["case"])


def validate_all(table: pd.DataFrame, columns: dict[str, list[str]], jobs: int) -> tuple[dict[str, Validation], dict[str, float]]:
    """Each candidate by nested cross-validation beside the baselines (but itself); with the seconds each took."""
    results, seconds = {}, {}
    for name, used in columns.items():
        references = [Reference(base, tuple(columns[base]), ("coxnet", None)) for base in BASELINES if base != name]
        started = time.perf_counter()
        results[name] = default.validate(table, used, jobs, references)
        seconds[name] = time.perf_counter() - started
        print(f"{name} ({len(used)} columns): C-index {results[name].metrics['c_index']} in {seconds[name]:.0f} s", flush=True)
    return results, seconds


def segmentation_overlap(source: dict[str, Any], cases: pd.Index) -> dict[str, int] | None:
    """How many of ``cases`` the segmentation network was trained on or validated with (its training record),
    None when that record is of other weights."""
    record = json.loads(SEGMENTATION_TRAINING.read_text()) if SEGMENTATION_TRAINING.is_file() else {}
    if record.get("weights", {}).get("sha256") != source["weights_sha256"]:
        return None
    ids = {int(case) for case in cases}
    return {"training": len(ids & set(record["split"]["training_ids"])),
            "validation": len(ids & set(record["split"]["validation_ids"])), "cases": len(ids)}


def caveat(overlap: dict[str, int] | None) -> str:
    seen = ("" if overlap is None else f" (of these {overlap['cases']} patients, {overlap['training']} were among its training "
            f"patients and {overlap['validation']} among the held-back patients it was validated on)")
    return ("**Caveat: the deep features do not come from an independent network.** The segmentation network that gives "
            "them was trained on crops of these same patients" + seen + ", for segmentation: it learned from the expert "
            "masks, never from survival, so no outcome leaks into the features. But its encoder has seen these tumors, "
            "and on new patients its features may describe tumors less well than they do here.")


def write_results(table: pd.DataFrame, columns: dict[str, list[str]], results: dict[str, Validation],
                  seconds: dict[str, float], record: dict[str, Any], excluded: list[dict[str, str]], runtime: float, jobs: int) -> None:
    y = default.OUTCOME.values(table)
    overlap = segmentation_overlap(record["source"], table.index)
    summary = {
        "command": COMMAND, "revision": git_revision(), "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "versions": library_versions(),
        "cases": len(table), "events": int(y["event"].sum()), "horizon_days": default.HORIZON,
        "folds": default.FOLDS, "repeats": default.REPEATS, "seed": default.SEED, "learner": "coxnet", "jobs": jobs,
        "deep_features": record, "segmentation_patients_seen": overlap, "excluded": excluded,
        "candidates": {name: {"columns": len(columns[name]), "seconds": seconds[name], **results[name].to_dict()}
                       for name in results},
        "runtime_seconds": runtime,
    }
    (default.RESULTS / "deep_features.json").write_text(json.dumps(summary, indent=2) + "\n")

    timing, source = record["seconds_per_case"], record["source"]
    lines = [
        "# Deep features against radiomics, clinical covariates and tumor volume: NSCLC overall survival", "",
        f"Generated by `{COMMAND}` (the deep features from their cache unless `--recompute-deep`); do not edit by "
        f"hand. {len(table)} patients ({summary['events']} deaths) of the public "
        f"NSCLC crops; nested cross-validation exactly as for the default model's candidates (`scripts/train_default_model.py`: "
        f"{default.REPEATS} x {default.FOLDS}-fold stratified by event, 5-fold inner folds, seed {default.SEED}, coxnet for "
        "every candidate); means over test folds with 95% intervals from resampling the patients. AUC at 2 years "
        "(730.5 days), weighted for censoring. Every figure is as measured; no candidate was picked out.", "",
        caveat(overlap), "",
        "| candidate | columns | C-index | 2-year AUC | minus clinical alone, C-index | minus volume alone, C-index | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        differences = {c.reference.name: c.differences["c_index"].signed() for c in result.comparisons}
        gaps = " | ".join(differences.get(base, "(itself)") for base in BASELINES)
        lines.append(f"| {name} | {len(columns[name])} | {default.cell(result.metrics['c_index'])} | "
                     f"{default.cell(result.metrics['auc_at_horizon'])} | {gaps} | {seconds[name]:.0f} |")
    lines += [
        "", "Differences are the candidate minus the baseline, both fitted on the same training folds and scored on the "
        "same test folds, resampled with the same patients; an interval above 0 means clearly better. Radiomics: our "
        "`ct` preset's features (`scripts/nsclc_features.py`); clinical: age, T, N and M stage, histology; volume: "
        f"`{default.VOLUME}`. The 2-year AUC differences and every fold's figures are in `deep_features.json`.", "",
        "## The deep features", "",
        f"`deep_extractor(\"default\", device=\"cpu\")`: {source['model']} {source['version']} (weights sha256 "
        f"`{source['weights_sha256']}`), layers {', '.join(f'`{layer}`' for layer in source['layers'])}, "
        f"{source['pooling']}. Embedding one crop on {record['torch_threads']} torch threads ({record['machine']}, "
        f"load average {record['load_average']['start'][0]:.1f} at the start, shared with other work; {record['date']}): "
        f"min {timing['min']:.2f} s, median {timing['median']:.2f} s, max {timing['max']:.2f} s over {timing['cases_timed']} "
        f"crops (the first crop, {timing['first_case']:.2f} s with torch's start-up, left out); loading the network "
        f"{record['model_load_seconds']:.1f} s. Cached in `benchmarks/data/{DEEP_CSV.name}` (record: `{DEEP_RECORD.name}`).", "",
        "## Crops left out", "",
        *[f"- {row['case']} ({row['what']}): {row['reason']}" for row in excluded], "",
        f"Cross-validation of the {len(results)} candidates, each with its baselines (the seconds column): "
        f"{runtime / 60:.0f} minutes on {summary['machine']} with {jobs} jobs.",
    ]
    (default.RESULTS / "deep_features.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default.nsclc_features.DEFAULT_DATA_DIR)
    parser.add_argument("--recompute-deep", action="store_true", help="embed the crops again")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    deep, record = deep_features(args.data_dir, args.recompute_deep)
    table, columns, excluded = survival_table(args.data_dir, deep, record)
    started = time.perf_counter()
    results, seconds = validate_all(table, columns, args.jobs)
    write_results(table, columns, results, seconds, record, excluded, time.perf_counter() - started, args.jobs)
    print(f"-> {default.RESULTS / 'deep_features.md'}")


if __name__ == "__main__":
    main()
