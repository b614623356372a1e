"""Benchmark: the whole NSCLC crop cohort end to end, killed with SIGKILL midway and started again,
then the same cohort on a Dask LocalCluster.

    .venv/bin/python benchmarks/bench_cohort_resume.py                 # every crop, ~20 minutes on 2 cores
    .venv/bin/python benchmarks/bench_cohort_resume.py --cases 12      # a quick look

1. ``responsepredictor run`` on every crop (masks given, the NSCLC radiomics + clinical survival model
   with its clinical covariates, the contribution heatmap and the case report), 2 workers, in its own process group;
   SIGKILL to the whole group once ``--kill-after`` of the cases are done; then the same command
   again. Checked: every case ends done exactly once (``runs`` = 1 in each result.json, the first
   run's result.json files unchanged), every NRRD, JSON and PNG reads, results.csv parses with one
   row per case, no partial file is left.
2. The same manifest without heatmap and report (prediction and features: what results.csv holds)
   on the local pool and on a Dask ``LocalCluster`` over loopback: the two results.csv files must be
   identical.

Data: ``$RP_DATA_DIR`` (default ``../shared/data``). Results: ``benchmarks/results/cohort_resume.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cohort import RESULTS, write_crops, manifest  # noqa: E402  (the sibling benchmark's data helpers)

from radiomics_model import RADIOMICS_MODEL  # noqa: E402
from ResponsePredictorLib.cohort import run_cohort  # noqa: E402
from ResponsePredictorLib.pipeline import DONE, PipelineSettings, read_record  # noqa: E402
from ResponsePredictorLib.volume import read_volume  # noqa: E402


def killed_and_resumed(folder: Path, manifest_path: Path, kill_after: int) -> dict[str, Any]:
    out = folder / "out"
    command = [sys.executable, "-m", "ResponsePredictorLib.cli", "run", str(manifest_path), "-o", str(out),
               "--model", str(RADIOMICS_MODEL), "--workers", "2", "--quiet"]
    clock = time.perf_counter()
    # Its own session, so that the kill takes the workers too, as a power cut would.
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while len(list(out.glob("cases/*/result.json"))) < kill_after:
        if process.poll() is not None:
            raise RuntimeError("the run ended before it could be killed")
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = time.perf_counter() - clock
    first = {path.parent.name: path.read_bytes() for path in out.glob("cases/*/result.json")}
    partial_after_kill = sorted(str(p.relative_to(out)) for p in out.rglob("*.partial*"))

    clock = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    resumed_s = time.perf_counter() - clock
    return {"killed_after_s": killed_at, "cases_done_before_kill": len(first),
            "partial_files_right_after_kill": len(partial_after_kill), "resumed_run_s": resumed_s,
            **check_output(out, first)}


def check_output(out: Path, first: dict[str, bytes]) -> dict[str, Any]:
    """Every case done once, the first run's results kept, every file readable, nothing partial."""
    cases = sorted(path for path in (out / "cases").iterdir() if path.is_dir())
    records = {case.name: read_record(case) for case in cases}
    table = pd.read_csv(out / "results.csv", dtype={"case": str})
    unreadable = []
    for path in out.rglob("*"):
        try:
            if path.suffix == ".nrrd":
                read_volume(path)
            elif path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".png" and not path.read_bytes().startswith(b"\x89PNG"):
                unreadable.append(str(path.relative_to(out)))
        except Exception:  # noqa: BLE001 (any failure to read is what is counted)
            unreadable.append(str(path.relative_to(out)))
    return {
        "cases": len(cases),
        "done": sum(record is not None and record["status"] == DONE for record in records.values()),
        "runs_per_case": sorted({record["runs"] for record in records.values() if record}),
        "first_results_unchanged": all((out / "cases" / case / "result.json").read_bytes() == content
                                       for case, content in first.items()),
        "results_csv_rows": len(table), "results_csv_done": int((table["status"] == DONE).sum()),
        "unreadable_files": unreadable, "partial_files_left": len(list(out.rglob("*.partial*"))),
    }


def dask_versus_local(folder: Path, manifest_path: Path) -> dict[str, Any]:
    from distributed import Client, LocalCluster

    settings = PipelineSettings(heatmap=None, report=False)
    clock = time.perf_counter()
    local = run_cohort(manifest_path, folder / "local", settings, workers=2, progress_bar=False)
    local_s = time.perf_counter() - clock
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        clock = time.perf_counter()
        on_dask = run_cohort(manifest_path, folder / "dask", settings, client=client, progress_bar=False)
        dask_s = time.perf_counter() - clock
    same = (folder / "dask" / "results.csv").read_bytes() == (folder / "local" / "results.csv").read_bytes()
    return {"local_s": local_s, "dask_s": dask_s, "local_done": local.done, "dask_done": on_dask.done,
            "identical_results_csv": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000, help="at most this many crops (default: all)")
    parser.add_argument("--kill-after", type=float, default=0.5, help="fraction of the cases done before the kill")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_resume_"))
    try:
        crops = write_crops(folder, args.cases)
        path = manifest(folder, [(crop, crop) for crop in crops], "cohort.csv")
        results: dict[str, Any] = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(), "cases": len(crops),
            "settings": "masks given, default survival model with clinical covariates, contribution heatmap, report",
        }
        results["kill_and_resume"] = killed_and_resumed(folder, path, max(1, int(args.kill_after * len(crops))))
        print("kill and resume:", results["kill_and_resume"])
        results["dask"] = dask_versus_local(folder, path)
        print("dask:", results["dask"])
        results["load_average_at_end"] = os.getloadavg()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cohort_resume.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "cohort_resume.md").write_text(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    k, d = r["kill_and_resume"], r["dask"]
    ok = (k["done"] == k["cases"] == k["results_csv_done"] == k["results_csv_rows"] and k["runs_per_case"] == [1]
          and k["first_results_unchanged"] and not k["unreadable_files"] and not k["partial_files_left"])
    return f"""# Whole cohort, killed and resumed; local pool vs Dask (`benchmarks/bench_cohort_resume.py`)

Run {r['date']} on {r['cpus']} CPU cores (load average at start {', '.join(f'{v:.1f}' for v in r['load_average_at_start'])},
at end {', '.join(f'{v:.1f}' for v in r['load_average_at_end'])}). {r['cases']} NSCLC crops with a tumor; {r['settings']}.

## Killed with SIGKILL midway, then started again ({'every check holds' if ok else 'A CHECK FAILED'})

| | |
|---|---|
| first run, 2 workers, killed (whole process group) after | {k['killed_after_s']:.0f} s, {k['cases_done_before_kill']} cases done |
| partial files right after the kill (cleared by the next run) | {k['partial_files_right_after_kill']} |
| second run (same command) | {k['resumed_run_s']:.0f} s |
| cases done / in results.csv | {k['done']} of {k['cases']} / {k['results_csv_done']} rows done of {k['results_csv_rows']} |
| runs per case (result.json `runs`) | {k['runs_per_case']} |
| first run's result.json files unchanged | {k['first_results_unchanged']} |
| unreadable files (every NRRD, JSON, PNG read back) | {len(k['unreadable_files'])} |
| partial files left | {k['partial_files_left']} |

## The same cohort on a Dask LocalCluster (loopback, 2 workers) and the local pool (2 processes)

Without heatmap and report (results.csv holds the features and predictions): local {d['local_s']:.0f} s,
Dask {d['dask_s']:.0f} s; cases done {d['local_done']} and {d['dask_done']}; results.csv identical: **{d['identical_results_csv']}**.
"""


if __name__ == "__main__":
    main()
