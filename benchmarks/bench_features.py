"""Benchmark: radiomic features through our FeatureExtractor, pyradiomics itself, and fastrad (CPU).

What a user of our API pays (``FeatureExtractor.extract(Volume, Volume)``, including the conversion
to SimpleITK; and the whole path from files) is timed against direct pyradiomics calls measured in
the same run, so the ratios hold on any machine. fastrad (a PyTorch reimplementation) is timed as a
possible faster engine, and its values are compared with pyradiomics' feature by feature.

    .venv/bin/python benchmarks/bench_features.py          # or: make bench
    .venv/bin/python benchmarks/bench_features.py --crops 5 --repeats 3 --crop-repeats 1   # a quick look

Data: ``$RP_DATA_DIR`` (default ``../shared/data`` beside the repository). Threads: ``$RP_BENCH_THREADS``
(default 2) for every library. Results: ``benchmarks/results/features.{json,md}`` (the latest run).
"""

from __future__ import annotations

import os

from bench_threads import THREADS  # first: it caps the thread pools before numpy and torch load

import argparse
import cProfile
import datetime
import gc
import json
import logging
import math
import pstats
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import fastrad
import numpy as np
import SimpleITK as sitk
import torch
from radiomics import imageoperations
from radiomics.featureextractor import RadiomicsFeatureExtractor

from ResponsePredictorLib import features as rp_features
from ResponsePredictorLib.features import FeatureExtractor, load_settings
from ResponsePredictorLib.volume import Volume, read_mask, read_volume

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))
from nsclc_crops import crop_paths, read_crop  # noqa: E402  (the scripts folder is not a package)
DEFAULT_DATA_DIR = Path(os.environ.get("RP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
TOLERANCES = (1e-6, 1e-3, 1e-2)
WORST_SHOWN = 10
PACKAGES = ("responsepredictor", "pyradiomics", "SimpleITK", "numpy", "torch", "fastrad")
PATH_LABELS = {
    "ours": "ours: FeatureExtractor.extract(Volume, Volume)",
    "pyradiomics": "pyradiomics: execute(sitk, sitk)",
    "ours_files": "ours from files: read_volume + read_mask + extract",
    "pyradiomics_files": "pyradiomics from files: execute(path, path)",
    "fastrad": "fastrad CPU (incl. resampling)",
}

# ------------------------------------------------------------------------------------------------
# Settings


def benchmark_settings() -> tuple[dict[str, Any], list[str]]:
    """The ``ct`` preset cut down to what all three engines compute, and the list of cuts made."""
    ct = load_settings(preset="ct")
    # fastrad's default class list is every 3D class it implements.
    supported = fastrad.FeatureSettings().feature_classes
    classes = [name for name in ct["featureClass"] if name in supported]
    setting = dict(ct["setting"])
    cuts = [f"imageType: Original only (ct also has {', '.join(k for k in ct['imageType'] if k != 'Original')})"]
    cuts += [f"featureClass {name}: not in fastrad" for name in ct["featureClass"] if name not in supported]
    if setting.get("voxelArrayShift", 0):
        # fastrad has no such shift; it changes only the energy-type first-order features.
        cuts.append(f"voxelArrayShift: 0 (ct uses {setting['voxelArrayShift']}; fastrad has no such setting)")
        setting["voxelArrayShift"] = 0
    settings = {"imageType": {"Original": {}}, "featureClass": {name: None for name in classes}, "setting": setting}
    return settings, cuts


FASTRAD_DIFFERENCES = [
    "no resampling in fastrad: its input is the image and mask as pyradiomics resamples and crops them "
    "(radiomics.imageoperations.resampleImage with the same settings), timed as part of the fastrad path",
    "label: fastrad takes a binary mask; it is given mask == label",
    "minimumROIDimensions / minimumROISize and geometryTolerance: no fastrad equivalent (not exercised here)",
    "shape: fastrad's own marching cubes and an all-pairs distance matrix over surface vertices for the "
    "diameters (memory grows with the square of the tumour surface)",
    "fastrad also returns features pyradiomics deprecated (StandardDeviation, Compactness1/2, "
    "SphericalDisproportion, GLDM GrayLevelNonUniformityNormalized): listed, not compared",
]

# ------------------------------------------------------------------------------------------------
# Cases


@dataclass
class Case:
    name: str
    image: Volume  # what a user of our API holds
    mask: Volume
    sitk_image: sitk.Image  # what a user of pyradiomics holds
    sitk_mask: sitk.Image
    files: tuple[Path, Path] | None = None  # image and mask files, where the case has them

    @property
    def roi_voxels(self) -> int:
        return int(np.count_nonzero(self.mask.array))


def lung2_case(data_dir: Path) -> Case:
    image_path, mask_path = (data_dir / "pyradiomics" / f"lung2_{part}.nrrd" for part in ("image", "label"))
    image = read_volume(image_path)
    return Case(
        "lung2", image, read_mask(mask_path, image), sitk.ReadImage(str(image_path)), sitk.ReadImage(str(mask_path)),
        files=(image_path, mask_path),
    )


def nsclc_cases(data_dir: Path, count: int) -> tuple[list[Case], list[dict[str, str]]]:
    """The first ``count`` crops (sorted) with a tumour in the mask, and those passed over on the way."""
    cases: list[Case] = []
    passed_over: list[dict[str, str]] = []
    for path in crop_paths(data_dir):
        if len(cases) == count:
            break
        image, mask_volume = read_crop(path)
        if not mask_volume.array.any():
            passed_over.append({"case": path.stem, "reason": "empty mask (no voxel above 0); next crop taken"})
            continue
        cases.append(Case(path.stem, image, mask_volume, image.to_sitk(), mask_volume.to_sitk()))
    return cases, passed_over


# ------------------------------------------------------------------------------------------------
# fastrad


@dataclass
class FastradResult:
    values: dict[str, float] = field(default_factory=dict)  # fastrad's own names, "glcm:joint_average"
    failed: dict[str, str] = field(default_factory=dict)  # feature class -> why
    seconds: dict[str, float] = field(default_factory=dict)  # "resample" and each feature class


class FastradPath:
    """fastrad fed the same resampled, cropped image and mask that pyradiomics computes on.

    One extractor per feature class, so that a class that runs out of memory (shape, on large
    tumours) leaves the other classes' values to compare and says which class failed.
    """

    def __init__(self, pyradiomics_settings: dict[str, Any], classes: list[str]) -> None:
        self.settings = pyradiomics_settings  # pyradiomics' merged settings, as resampleImage reads them
        bin_width = float(pyradiomics_settings["binWidth"])
        self.extractors = {
            name: fastrad.FeatureExtractor(
                fastrad.FeatureSettings(feature_classes=[name], bin_width=bin_width, device="cpu")
            )
            for name in classes
        }

    def __call__(self, case: Case) -> FastradResult:
        result = FastradResult()
        start = time.perf_counter()
        if self.settings.get("resampledPixelSpacing"):
            image, mask = imageoperations.resampleImage(case.sitk_image, case.sitk_mask, **self.settings)
        else:
            box, _ = imageoperations.checkMask(case.sitk_image, case.sitk_mask, **self.settings)
            image, mask = imageoperations.cropToTumorMask(case.sitk_image, case.sitk_mask, box, **self.settings)
        spacing = tuple(reversed(image.GetSpacing()))  # fastrad wants (z, y, x)
        image_t = fastrad.MedicalImage(torch.from_numpy(sitk.GetArrayFromImage(image).astype(np.float32)), spacing)
        mask_t = fastrad.Mask(torch.from_numpy(sitk.GetArrayViewFromImage(mask) == self.settings["label"]), spacing)
        result.seconds["resample"] = time.perf_counter() - start
        for name, extractor in self.extractors.items():
            start = time.perf_counter()
            try:
                result.values.update(extractor.extract(image_t, mask_t))
            except (RuntimeError, MemoryError) as error:  # torch reports a refused allocation as RuntimeError
                result.failed[name] = _short_reason(error)
            result.seconds[name] = time.perf_counter() - start
        return result


def _short_reason(error: Exception) -> str:
    asked = re.search(r"allocate (\d+) bytes", str(error))
    if asked:  # torch's message is a C++ assertion; the size asked for is what matters
        return f"out of memory: one allocation of {int(asked.group(1)) / 2**30:.1f} GiB refused"
    return str(error).strip().splitlines()[-1][:200]


def fastrad_key(name: str) -> str:
    """Match key for a fastrad name ("firstorder:10th_percentile") or a pyradiomics one
    ("original_firstorder_10Percentile"): the names differ only in case, underscores and "th"."""
    feature_class, feature = name.split(":") if ":" in name else name.split("_", 2)[1:]
    return feature_class.lower() + ":" + re.sub(r"[^a-z0-9]", "", re.sub(r"(\d+)th", r"\1", feature).lower())


# ------------------------------------------------------------------------------------------------
# Timing


Seconds = dict[str, list[float]]  # path -> one figure per repeat


def time_paths(
    paths: dict[str, Callable[[], Any]], repeats: int, limits: dict[str, int] | None = None
) -> tuple[Seconds, Seconds]:
    """Wall and CPU seconds per call of each path, ``repeats`` times (fewer for a path in ``limits``),
    interleaved so that drift in the machine's load falls on all paths alike; the order rotates so
    no path always runs first.

    Wall time is what a user waits. CPU time (this process, all its threads) is what the work costs,
    and other processes' load disturbs it less (not entirely: they still share caches and memory)."""
    names = list(paths)
    wall: Seconds = {name: [] for name in names}
    cpu: Seconds = {name: [] for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            if repeat >= (limits or {}).get(name, repeats):
                continue
            gc.collect()  # garbage from the previous call is not this call's cost
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            paths[name]()
            wall[name].append(time.perf_counter() - wall_start)
            cpu[name].append(time.process_time() - cpu_start)
    return wall, cpu


class ExecuteTimer:
    """Stands in for pyradiomics' ``execute`` inside our extractor and times each call, so that the
    time our ``extract`` spends outside pyradiomics is measured within the very same call: free of
    the run-to-run noise that a difference between two separately timed calls carries."""

    def __init__(self, ours: FeatureExtractor) -> None:
        self._inner = ours._extractor.execute  # the wrapped RadiomicsFeatureExtractor (private, on purpose)
        ours._extractor.execute = self  # an instance attribute shadows the method
        self.last = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self._inner(*args, **kwargs)
        finally:
            self.last = time.perf_counter() - start


def profile_ours(call: Callable[[], Any], shown_from: float = 1e-3) -> dict[str, float]:
    """Cumulative seconds of each ResponsePredictorLib function that takes at least ``shown_from``
    seconds of one profiled ``call`` (nested functions count in their callers too), largest first."""
    profiler = cProfile.Profile()
    profiler.runcall(call)
    package = Path(rp_features.__file__).resolve().parent
    seconds = {}
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # (file, line, function) -> timings
    for (filename, _line, function), (_, _, _, cumulative, _) in stats.items():
        ours = Path(filename).resolve().is_relative_to(package) and function not in ("extract", "extract_labels")
        if ours and cumulative >= shown_from:
            seconds[f"{Path(filename).stem}.{function}"] = cumulative
    return dict(sorted(seconds.items(), key=lambda item: -item[1]))


def ours_from_files(ours: FeatureExtractor, image_path: Path, mask_path: Path) -> Any:
    """Our whole path from files, as the CLI takes it."""
    image = read_volume(image_path)
    return ours.extract(image, read_mask(mask_path, image))


def run_case(case: Case, ours: FeatureExtractor, timer: ExecuteTimer, reference: RadiomicsFeatureExtractor,
             fast: FastradPath, repeats: int, fastrad_repeats: int) -> dict[str, Any]:
    """Warm up every path once (keeping its values), then time them interleaved."""
    inside: list[float] = []  # pyradiomics' share of each timed "ours" call

    def ours_call() -> Any:
        result = ours.extract(case.image, case.mask)
        inside.append(timer.last)
        return result

    paths: dict[str, Callable[[], Any]] = {
        "ours": ours_call,
        "pyradiomics": lambda: reference.execute(case.sitk_image, case.sitk_mask),
    }
    if case.files:
        image_path, mask_path = case.files
        paths["ours_files"] = lambda: ours_from_files(ours, image_path, mask_path)
        paths["pyradiomics_files"] = lambda: reference.execute(str(image_path), str(mask_path))
    warm = {name: path() for name, path in paths.items()}
    inside.clear()
    fast_warm = fast(case)
    fast_runs: list[FastradResult] = []
    if not fast_warm.failed:  # an incomplete fastrad run has no comparable time: don't repeat it
        paths["fastrad"] = lambda: fast_runs.append(fast(case))
    wall, cpu = time_paths(paths, repeats, {"fastrad": fastrad_repeats})
    return {
        "case": case.name,
        "roi_voxels": case.roi_voxels,
        "seconds": wall,
        "cpu_seconds": cpu,
        "median": {name: statistics.median(values) for name, values in wall.items()},
        "median_cpu": {name: statistics.median(values) for name, values in cpu.items()},
        # extract() minus pyradiomics' execute, call by call
        "median_ours_outside_pyradiomics": statistics.median(t - i for t, i in zip(wall["ours"], inside)),
        "median_ours_inside_pyradiomics": statistics.median(inside),
        "fastrad_median_by_part": {
            part: statistics.median(run.seconds[part] for run in fast_runs) for part in fast_warm.seconds
        } if fast_runs else {},
        "fastrad_failed": fast_warm.failed,
        "values": {
            "ours": warm["ours"].features,
            "pyradiomics": {k: float(v) for k, v in warm["pyradiomics"].items() if not k.startswith("diagnostics_")},
            "fastrad": fast_warm.values,
        },
    }


# ------------------------------------------------------------------------------------------------
# Agreement


def relative_difference(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|): symmetric, 0 when equal (NaN == NaN), and no blow-up near zero."""
    if (math.isnan(a) and math.isnan(b)) or a == b:
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


def agreement(results: list[dict[str, Any]], engine: str) -> dict[str, Any]:
    """Per pyradiomics feature: relative difference of ``engine``'s value over the cases."""
    per_feature: dict[str, list[tuple[float, str]]] = {}
    engine_only: set[str] = set()
    reference_only: set[str] = set()
    for result in results:
        reference = result["values"]["pyradiomics"]
        theirs = result["values"][engine]
        if engine == "fastrad":  # rename fastrad's values to pyradiomics' names
            names = {fastrad_key(name): name for name in reference}
            engine_only |= {name for name in theirs if fastrad_key(name) not in names}
            theirs = {names[fastrad_key(name)]: value for name, value in theirs.items() if fastrad_key(name) in names}
        reference_only |= {name for name in reference if name not in theirs}
        for name, value in theirs.items():
            per_feature.setdefault(name, []).append((relative_difference(value, reference[name]), result["case"]))
    rows = []
    for name, diffs in per_feature.items():
        worst, worst_case = max(diffs)
        rows.append({"feature": name, "median": statistics.median(d for d, _ in diffs), "max": worst,
                     "max_case": worst_case, "cases": len(diffs)})
    rows.sort(key=lambda row: row["max"], reverse=True)
    return {
        "features_compared": len(rows),
        "within": {str(tol): sum(row["max"] <= tol for row in rows) for tol in TOLERANCES},
        "worst": rows[:WORST_SHOWN],
        "all": rows,
        f"{engine}_only": sorted(engine_only),
        "not_computed_by_" + engine: sorted(reference_only - set(per_feature)),
    }


# ------------------------------------------------------------------------------------------------
# Machine and report


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), cpu)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "cpu": cpu, "cpu_count": os.cpu_count(), "cpus_usable": usable, "threads_used": THREADS,
        "platform": platform.platform(), "python": platform.python_version(), "repository": commit,
        "versions": {pkg: version(pkg) for pkg in PACKAGES},
    }


def limit_threads() -> None:
    torch.set_num_threads(THREADS)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(THREADS)
    try:  # optional: covers BLAS pools that ignore the environment variables
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(THREADS)


def cap_memory(gib: float) -> str:
    """Cap this process's address space, so that an oversized allocation fails as an exception in
    the class that made it instead of the kernel killing the whole benchmark."""
    if gib <= 0:
        return "none"
    try:
        import resource
    except ImportError:
        return "none (not available on this platform)"
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = int(gib * 2**30)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return f"{limit / 2**30:g} GiB address space"


def summarize(results: list[dict[str, Any]], paths: tuple[str, ...]) -> dict[str, Any]:
    """Sums of per-case medians, our overhead and fastrad's speed over the cases fastrad completed."""
    present = [path for path in paths if all(path in r["median"] for r in results)]
    total = {path: sum(r["median"][path] for r in results) for path in present}
    total_cpu = {path: sum(r["median_cpu"][path] for r in results) for path in present}
    complete = [r for r in results if "fastrad" in r["median"]]
    summary: dict[str, Any] = {"cases": len(results), "seconds": total, "cpu_seconds": total_cpu}
    outside = sum(r["median_ours_outside_pyradiomics"] for r in results)
    summary["ours_outside_pyradiomics_seconds"] = outside
    summary["overhead_ours_same_call_pct"] = 100 * outside / sum(r["median_ours_inside_pyradiomics"] for r in results)
    for ours, theirs in (("ours", "pyradiomics"), ("ours_files", "pyradiomics_files")):
        if ours in total:
            summary[f"overhead_{ours}_pct"] = 100 * (total[ours] / total[theirs] - 1)
            summary[f"overhead_{ours}_cpu_pct"] = 100 * (total_cpu[ours] / total_cpu[theirs] - 1)
    if complete:
        pyr = sum(r["median"]["pyradiomics"] for r in complete)
        fast = sum(r["median"]["fastrad"] for r in complete)
        compute = sum(sum(v for k, v in r["fastrad_median_by_part"].items() if k != "resample") for r in complete)
        summary["fastrad"] = {
            "cases_complete": len(complete), "pyradiomics_seconds": pyr, "fastrad_seconds": fast,
            "fastrad_features_only_seconds": compute,
            "speed_ratio": pyr / fast,  # > 1: fastrad is faster than pyradiomics
            "speed_ratio_features_only": pyr / compute,
        }
    return summary


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _seconds(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    m, summary = report["machine"], report["summary"]
    groups = ("lung2", "crops")
    lines = [
        "# Feature extraction benchmark", "",
        f"Written by `benchmarks/bench_features.py` on {report['date']}; rerun it to refresh "
        "(see benchmarks/README.md).", "",
        f"- Machine: {m['cpu']}, {m['cpu_count']} CPUs ({m['cpus_usable']} usable), {m['threads_used']} threads "
        f"for every library; {m['platform']}; Python {m['python']}; repository {m['repository']}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- Load average (1, 5, 15 min) at start: {report['load_start']}; at end: {report['load_end']}",
        "- Timing: extractors built once; every path warmed up once per case, then interleaved repeats in "
        f"rotating order ({report['repeats']['lung2']} for lung2, {report['repeats']['crop']} per crop, fastrad "
        f"at most {report['repeats']['fastrad']}); the figure is the per-case median, summed over cases. "
        f"Memory cap: {report['memory_cap']}",
        f"- Run time: {report['wall_seconds']:.0f} s", "",
        "## Settings (all three engines)", "", "```json", json.dumps(report["settings"], indent=1), "```", "",
        "Cut from the `ct` preset for comparability: " + "; ".join(report["settings_cuts"]) + ".", "",
        "What fastrad does differently: " + "; ".join(report["fastrad_differences"]) + ".", "",
        "## Cases", "",
        f"- lung2: pyradiomics' CT test case, {report['lung2']['roi_voxels']} ROI voxels",
        f"- nsclc crops: the first {len(report['crops'])} sorted crops with a tumour: "
        + ", ".join(f"{r['case']} ({r['roi_voxels']})" for r in report["crops"]),
        *(f"- passed over: {p['case']}: {p['reason']}" for p in report["passed_over"]),
        "", "## Time", "",
        "Wall time is what a user waits; CPU time (this process, all threads) is less disturbed by other "
        "processes. Both compare calls timed separately, so they carry run-to-run noise (lung2 spread: "
        "(max - min) / median of its repeats); the overhead measured within the same calls does not.", "",
        _row("path", "lung2 wall (s)", "lung2 spread", "lung2 CPU (s)", "crops wall, sum (s)", "crops CPU, sum (s)"),
        _row("---", "---:", "---:", "---:", "---:", "---:"),
    ]
    for path, label in PATH_LABELS.items():
        repeats = report["lung2"]["seconds"].get(path, [])
        spread = f"{(max(repeats) - min(repeats)) / statistics.median(repeats):.0%}" if len(repeats) > 1 else "–"
        lung2_cells = [_seconds(summary["lung2"]["seconds"].get(path)), spread,
                       _seconds(summary["lung2"]["cpu_seconds"].get(path))]
        lines.append(_row(label, *lung2_cells, *(_seconds(summary["crops"][clock].get(path))
                                                 for clock in ("seconds", "cpu_seconds"))))
    lines += ["", _row("ratio", "lung2", "nsclc crops"), _row("---", "---:", "---:")]
    for key, label in (
        ("overhead_ours_pct", "our overhead over pyradiomics (goal < 5%), wall"),
        ("overhead_ours_cpu_pct", "our overhead, CPU"),
        ("overhead_ours_same_call_pct", "our overhead within the same calls (extract() outside / inside execute)"),
        ("overhead_ours_files_pct", "our overhead from files, wall"),
        ("overhead_ours_files_cpu_pct", "our overhead from files, CPU"),
    ):
        lines.append(_row(label, *(f"{summary[g][key]:+.1f}%" if key in summary[g] else "–" for g in groups)))
    for key, label in (("speed_ratio", "fastrad speed vs pyradiomics (x; > 1 = faster)"),
                       ("speed_ratio_features_only", "fastrad speed, features only (no resampling)")):
        lines.append(_row(label, *(
            f"{summary[g]['fastrad'][key]:.2f} ({summary[g]['fastrad']['cases_complete']}/{summary[g]['cases']} cases)"
            if "fastrad" in summary[g] else "–" for g in groups)))

    profiles = report["profile_lung2"]
    lines += ["", f"### Where our time goes: lung2 ({profiles['voxels'] / 1e6:.1f}M voxels), one profiled call each",
              "", "cProfile, cumulative seconds from 1 ms; nested calls count in their callers too.", "",
              _row("function", "extract(Volume, Volume)", "from files"), _row("---", "---:", "---:")]
    for function in dict.fromkeys([*profiles["ours"], *profiles["ours_files"]]):  # union, in order
        lines.append(_row(function, *(_seconds(profiles[p].get(function), 4) for p in ("ours", "ours_files"))))

    parts = report["fastrad_parts"]
    lines += ["", "### fastrad by part (median s, cases it completed)", "",
              _row("part", "lung2", "nsclc crops, sum"), _row("---", "---:", "---:")]
    for part in dict.fromkeys([*parts["lung2"], *parts["crops"]]):
        lines.append(_row(part, *(_seconds(parts[g].get(part)) for g in groups)))
    failures = [(r, cls, why) for r in [report["lung2"], *report["crops"]] for cls, why in r["fastrad_failed"].items()]
    if failures:
        lines += ["", f"fastrad failed on {len({r['case'] for r, _, _ in failures})} case(s) "
                  "(not timed; its other classes' values are still compared):"]
        lines += [f"- {r['case']} ({r['roi_voxels']} ROI voxels): {cls}: {why}" for r, cls, why in failures]

    lines += ["", "## Values", "",
              "Relative difference |a - b| / max(|a|, |b|) against pyradiomics, per feature over all cases.", ""]
    for engine, agreed in report["agreement"].items():
        within = ", ".join(f"{n} within {tol}" for tol, n in agreed["within"].items())
        lines.append(f"- {engine}: {agreed['features_compared']} features compared; {within}")
    fast = report["agreement"]["fastrad"]
    lines += [f"- fastrad only (not compared): {', '.join(fast['fastrad_only']) or 'none'}",
              "- pyradiomics features fastrad does not compute: "
              + (", ".join(fast["not_computed_by_fastrad"]) or "none"),
              "", "Worst fastrad features:", "",
              _row("feature", "median rel. diff", "max rel. diff", "case of max"), _row("---", "---:", "---:", "---")]
    lines += [_row(r["feature"], f"{r['median']:.2e}", f"{r['max']:.2e}", r["max_case"]) for r in fast["worst"]]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for features.json and features.md")
    parser.add_argument("--crops", type=int, default=20, help="number of nsclc crops with a tumour")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats for lung2 (median taken)")
    parser.add_argument("--crop-repeats", type=int, default=3, help="timed repeats per nsclc crop (median taken)")
    parser.add_argument("--fastrad-repeats", type=int, default=1,
                        help="timed fastrad runs per case (after its warm-up); its runs take most of the time, "
                        "raise it for a finer fastrad ratio")
    parser.add_argument("--memory-cap-gib", type=float, default=8.0,
                        help="address-space cap for this process, 0 for none")
    args = parser.parse_args(argv)
    if not (args.data_dir / "pyradiomics").is_dir() or not (args.data_dir / "nsclc_crops").is_dir():
        print(f"Data folder not found or incomplete: {args.data_dir} (needs pyradiomics/ and nsclc_crops/). "
              "Set RP_DATA_DIR or --data-dir to the shared data folder.", file=sys.stderr)
        return 2

    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    started = time.perf_counter()
    limit_threads()
    memory_cap = cap_memory(args.memory_cap_gib)
    logging.getLogger("radiomics").setLevel(logging.ERROR)  # its per-case warnings would bury the progress

    settings, cuts = benchmark_settings()
    ours = FeatureExtractor(settings)
    reference = RadiomicsFeatureExtractor(json.loads(json.dumps(settings)))  # a deep copy: nothing shared
    fast = FastradPath(reference.settings, list(settings["featureClass"]))
    timer = ExecuteTimer(ours)

    lung2 = lung2_case(args.data_dir)
    crops, passed_over = nsclc_cases(args.data_dir, args.crops)
    if len(crops) < args.crops:
        print(f"Only {len(crops)} nsclc crops with a tumour found (asked for {args.crops}).", file=sys.stderr)
    results = []
    for case in [lung2, *crops]:
        repeats = args.repeats if case is lung2 else args.crop_repeats
        result = run_case(case, ours, timer, reference, fast, repeats, min(repeats, args.fastrad_repeats))
        results.append(result)
        medians = ", ".join(f"{k} {v:.3f}s" for k, v in result["median"].items())
        failed = f"; fastrad failed: {', '.join(result['fastrad_failed'])}" if result["fastrad_failed"] else ""
        print(f"{case.name:12s} {case.roi_voxels:7d} voxels: {medians}{failed}", flush=True)

    crop_results = results[1:]
    paths = ("ours", "pyradiomics", "ours_files", "pyradiomics_files", "fastrad")

    def parts_sum(rows: list[dict[str, Any]]) -> dict[str, float]:
        complete = [r["fastrad_median_by_part"] for r in rows if r["fastrad_median_by_part"]]
        return {part: sum(parts[part] for parts in complete) for part in (complete[0] if complete else {})}

    report = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "load_start": [round(x, 2) for x in load_start] if load_start else None,
        "load_end": [round(x, 2) for x in os.getloadavg()] if load_start else None,
        "repeats": {"lung2": args.repeats, "crop": args.crop_repeats, "fastrad": args.fastrad_repeats},
        "memory_cap": memory_cap,
        "settings": settings,
        "settings_cuts": cuts,
        "fastrad_differences": FASTRAD_DIFFERENCES,
        "passed_over": passed_over,
        "summary": {"lung2": summarize(results[:1], paths), "crops": summarize(crop_results, paths)},
        "profile_lung2": {"voxels": lung2.image.array.size,
                          "ours": profile_ours(lambda: ours.extract(lung2.image, lung2.mask)),
                          "ours_files": profile_ours(lambda: ours_from_files(ours, *lung2.files))},
        "fastrad_parts": {"lung2": parts_sum(results[:1]), "crops": parts_sum(crop_results)},
        "agreement": {"ours": agreement(results, "ours"), "fastrad": agreement(results, "fastrad")},
        "lung2": {k: v for k, v in results[0].items() if k != "values"},
        "crops": [{k: v for k, v in r.items() if k != "values"} for r in crop_results],
    }
    report["wall_seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "features.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
    (args.out / "features.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
