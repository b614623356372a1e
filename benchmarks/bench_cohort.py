"""Benchmark: one case end to end, cohort throughput with 1 and 2 workers, our feature stage next to the
``pyradiomics`` command-line batch with ``--jobs 2``, and memory over a 1,000-row manifest.

    .venv/bin/python benchmarks/bench_cohort.py                       # all parts, ~15 minutes on 2 idle cores
    .venv/bin/python benchmarks/bench_cohort.py --cases 4 --rows 100  # a quick look

Goals (issue 6): one case (segment from a click, features, prediction, heatmap, report) under 15 s with
peak memory under 3 GB; 2 workers at least 1.8x the throughput of 1; the feature stage faster than
pyradiomics' batch with --jobs 2 on the same cases; memory flat over 1,000 cases.

Data: the NSCLC crops in ``$RP_DATA_DIR`` (default ``../shared/data``), written as NRRD files first.
Results: ``benchmarks/results/cohort.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import yaml
from radiomics_model import RADIOMICS_MODEL

from ResponsePredictorLib.cohort import run_cohort
from ResponsePredictorLib.features import load_settings
from ResponsePredictorLib.pipeline import CaseInput, Pipeline, PipelineSettings
from ResponsePredictorLib.volume import write_volume

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("RP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
RESULTS = REPO_ROOT / "benchmarks" / "results"
sys.path.insert(0, str(REPO_ROOT / "scripts"))
from nsclc_crops import case_id, crop_paths, read_crop  # noqa: E402  (the scripts folder is not a package)
SINGLE_CASE = "020"  # a mid-sized tumor (31k voxels)
# Features only, for the 1,000-row memory run: the runner is what is measured there, not pyradiomics.
LIGHT = {"imageType": {"Original": {}}, "featureClass": {"firstorder": None}, "setting": {"binWidth": 25, "label": 1}}
CLINICAL = {"age": "65", "Tstage": "2", "Nstage": "0", "Mstage": "0", "Histology": "adenocarcinoma"}


def write_crops(folder: Path, count: int) -> list[str]:
    """The first ``count`` crops with a tumor, as NRRD image and mask files; returns their ids."""
    ids = []
    for path in crop_paths(DATA_DIR):
        patient = case_id(path)
        if write_crop(folder, patient):
            ids.append(patient)
        if len(ids) == count:
            break
    return ids


def write_crop(folder: Path, patient: str) -> bool:
    """One crop as NRRD image and mask; False (nothing written) when its mask is empty."""
    image, mask = read_crop(DATA_DIR / "nsclc_crops" / "images" / f"patient_{patient}.npz")
    if not mask.array.any():
        return False
    write_volume(image, folder / f"{patient}.nrrd")
    write_volume(mask, folder / f"{patient}_mask.nrrd")
    return True


def manifest(folder: Path, rows: list[tuple[str, str]], name: str) -> Path:
    """A manifest of (case id, crop id) rows, masks given, clinical columns filled."""
    lines = ["case,image,mask," + ",".join(CLINICAL)]
    lines += [f"{case},{crop}.nrrd,{crop}_mask.nrrd," + ",".join(CLINICAL.values()) for case, crop in rows]
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


# -- 1. one case end to end, in a fresh process (its peak memory is the case's) -----------------

def single_case(folder: Path) -> dict[str, Any]:
    from ResponsePredictorLib.segment.validation import central_seed
    from ResponsePredictorLib.volume import read_mask, read_volume

    image_path, mask_path = folder / f"{SINGLE_CASE}.nrrd", folder / f"{SINGLE_CASE}_mask.nrrd"
    seed = central_seed(read_mask(mask_path, read_volume(image_path)))
    clock = time.perf_counter()
    pipeline = Pipeline.from_settings(PipelineSettings(model=str(RADIOMICS_MODEL), heatmap="contribution", report=True))
    pipeline.segmentation_model  # warm: the models are loaded once per process, before the first case
    load_s = time.perf_counter() - clock
    case = CaseInput(SINGLE_CASE, image_path, seed=seed, extra=CLINICAL)
    clock = time.perf_counter()
    result = pipeline.run(case)
    pipeline.write(result, folder / "single" / SINGLE_CASE)
    total_s = time.perf_counter() - clock
    return {"case": SINGLE_CASE, "seconds": total_s, "model_load_s": load_s, "stages_s": result.timings,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}


# -- 2. throughput, 3. features against pyradiomics' batch --------------------------------------

def timed_cohort(manifest_path: Path, out: Path, settings: PipelineSettings, workers: int) -> tuple[float, float]:
    """Wall time of the run, and its steady rate in cases per second (first to last case finished:
    without the workers' start-up)."""
    shutil.rmtree(out, ignore_errors=True)
    finished: list[float] = []
    clock = time.perf_counter()
    summary = run_cohort(manifest_path, out, settings, workers=workers, progress_bar=False,
                         progress=lambda *_: finished.append(time.perf_counter()))
    seconds = time.perf_counter() - clock
    if summary.failed:
        raise RuntimeError(f"{summary.failed} case(s) failed: {summary.failures}")
    steady = (len(finished) - 1) / (finished[-1] - finished[0]) if len(finished) > 1 else float("nan")
    return seconds, steady


def pyradiomics_batch(folder: Path, crops: list[str], jobs: int) -> float:
    """pyradiomics' own command line on the same cases and settings (the model's: the ct preset)."""
    batch = folder / "pyradiomics_batch.csv"
    batch.write_text("ID,Image,Mask\n" + "".join(f"{c},{folder / c}.nrrd,{folder / c}_mask.nrrd\n" for c in crops))
    params = folder / "ct.yaml"
    params.write_text(yaml.safe_dump(load_settings(preset="ct")))
    command = [str(Path(sys.executable).with_name("pyradiomics")), str(batch), "--param", str(params),
               "--jobs", str(jobs), "--format", "csv", "--out", str(folder / "pyradiomics_out.csv")]
    clock = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - clock


# -- 4. memory over a long manifest --------------------------------------------------------------

class MemorySampler:
    """The resident memory of this process and its children, every ``interval`` seconds."""

    def __init__(self, interval: float = 0.5) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        me = psutil.Process()
        start = time.perf_counter()
        while not self._stop.wait(interval):
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    pass
            self.samples.append((time.perf_counter() - start, total / 1024**3))

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def memory_over_rows(folder: Path, crops: list[str], rows: int, workers: int) -> dict[str, Any]:
    path = manifest(folder, [(f"row{index:04d}", crops[index % len(crops)]) for index in range(rows)], "long.csv")
    params = folder / "light.yaml"
    params.write_text(yaml.safe_dump(LIGHT))
    settings = PipelineSettings(model=None, params=str(params), heatmap=None, report=False)
    out = folder / "long_out"
    shutil.rmtree(out, ignore_errors=True)
    done: list[float] = []  # when each case finished, to split the run into its first and last tenth
    clock = time.perf_counter()
    with MemorySampler() as sampler:
        run_cohort(path, out, settings, workers=workers, progress_bar=False,
                   progress=lambda outcome, completed, total: done.append(time.perf_counter() - clock))
    seconds = time.perf_counter() - clock
    tenth = max(1, rows // 10)
    first_end, last_start = done[tenth - 1], done[-tenth]
    # From the first case finished on: the workers' start-up (imports, model loading) is not the run's growth.
    first = [gb for t, gb in sampler.samples if done[0] <= t <= first_end] or [sampler.samples[0][1]]
    last = [gb for t, gb in sampler.samples if t >= last_start] or [sampler.samples[-1][1]]
    return {"rows": rows, "workers": workers, "seconds": seconds, "peak_gb": max(gb for _, gb in sampler.samples),
            "first_tenth_peak_gb": max(first), "last_tenth_peak_gb": max(last)}


# -- the run -----------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=24, help="crops for throughput and the pyradiomics comparison")
    parser.add_argument("--rows", type=int, default=1000, help="rows of the long manifest (memory)")
    parser.add_argument("--single-case-only", type=Path, help=argparse.SUPPRESS)  # the child process of part 1
    args = parser.parse_args()
    if args.single_case_only:
        print(json.dumps(single_case(args.single_case_only)))
        return

    folder = Path(tempfile.mkdtemp(prefix="bench_cohort_"))
    try:
        crops = write_crops(folder, max(args.cases, 1))
        if SINGLE_CASE not in crops:
            write_crop(folder, SINGLE_CASE)
        results: dict[str, Any] = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_average_at_start": os.getloadavg()},
        }
        child = subprocess.run([sys.executable, __file__, "--single-case-only", str(folder)], check=True,
                               capture_output=True, text=True)
        results["single_case"] = json.loads(child.stdout.strip().splitlines()[-1])
        print("one case:", results["single_case"])

        cohort = manifest(folder, [(crop, crop) for crop in crops], "cohort.csv")
        full = PipelineSettings(heatmap=None, report=False)
        one, one_rate = timed_cohort(cohort, folder / "w1", full, 1)
        two, two_rate = timed_cohort(cohort, folder / "w2", full, 2)
        results["throughput"] = {"cases": len(crops), "settings": "default model, masks given, no heatmap, no report",
                                 "one_worker_s": one, "two_workers_s": two, "speedup": one / two,
                                 "one_worker_cases_per_s": one_rate, "two_workers_cases_per_s": two_rate,
                                 "steady_speedup": two_rate / one_rate}
        print("throughput:", results["throughput"])

        features = PipelineSettings(model=None, preset="ct", heatmap=None, report=False)
        ours, _ = timed_cohort(cohort, folder / "features", features, 2)
        theirs = pyradiomics_batch(folder, crops, 2)
        results["features_vs_pyradiomics"] = {"cases": len(crops), "settings": "ct preset", "jobs": 2,
                                              "ours_s": ours, "pyradiomics_batch_s": theirs, "ratio": theirs / ours}
        print("features:", results["features_vs_pyradiomics"])

        results["memory"] = memory_over_rows(folder, crops, args.rows, 2)
        print("memory:", results["memory"])
        results["machine"]["load_average_at_end"] = os.getloadavg()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cohort.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "cohort.md").write_text(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    s, t, f, m = r["single_case"], r["throughput"], r["features_vs_pyradiomics"], r["memory"]
    stages = ", ".join(f"{name[:-2]} {seconds:.2f}" for name, seconds in s["stages_s"].items())
    return f"""# Cohort benchmark (`benchmarks/bench_cohort.py`)

Run {r['date']} on {r['machine']['cpus']} CPU cores (Python {r['machine']['python']}; load average at start
{', '.join(f'{v:.1f}' for v in r['machine']['load_average_at_start'])}, at end
{', '.join(f'{v:.1f}' for v in r['machine']['load_average_at_end'])}; above 1 before the run, other work shared the cores).

| what | measured | goal |
|---|---|---|
| one case end to end (crop {s['case']}: segment from a click, features, predict, heatmap, report, write), models loaded | {s['seconds']:.1f} s, peak memory {s['peak_rss_gb']:.2f} GB | < 15 s, < 3 GB |
| throughput, {t['cases']} crops ({t['settings']}) | wall (with start-up): 1 worker {t['one_worker_s']:.1f} s, 2 workers {t['two_workers_s']:.1f} s: **{t['speedup']:.2f}x**; steady: {t['one_worker_cases_per_s']:.3f} vs {t['two_workers_cases_per_s']:.3f} cases/s: **{t['steady_speedup']:.2f}x** | >= 1.8x |
| feature stage, {f['cases']} crops, {f['settings']}, 2 workers vs `pyradiomics --jobs 2` | ours {f['ours_s']:.1f} s, pyradiomics {f['pyradiomics_batch_s']:.1f} s: pyradiomics takes **{f['ratio']:.2f}x** ours | > 1x |
| memory over {m['rows']} rows ({m['workers']} workers, features only: firstorder) | peak in the first tenth {m['first_tenth_peak_gb']:.2f} GB, in the last tenth {m['last_tenth_peak_gb']:.2f} GB (whole run {m['peak_gb']:.2f} GB, {m['seconds']:.0f} s) | flat |

Stages of the single case (s): {stages}; loading the models first took {s['model_load_s']:.1f} s.
Throughput and the pyradiomics comparison include each run's start-up (worker processes loading the
models), as a user pays it. Memory: resident set of the main process and its workers, sampled every 0.5 s.
"""


if __name__ == "__main__":
    main()
