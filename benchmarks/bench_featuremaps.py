"""Benchmark: voxel-wise feature maps, fast backend (torch) against pyradiomics' voxel mode, in one run.

1. The issue's comparison: the lung2 tumor, kernel radius 1, pyradiomics' default settings on the
   original image (no resampling, binWidth 25), maps of firstorder Mean and Entropy and GLCM
   Contrast and JointEntropy: pyradiomics' voxel mode against the fast backend, with the agreement
   of every map.
2. A radiomics model's maps (``map_sets.CT_MODEL_MAPS``) with the ``ct`` preset (1 mm BSpline
   resampling, LoG sigma 1/2/3, binWidth 25): the fast backend's time; with ``--full-reference``
   also pyradiomics' voxel mode on the same maps and their agreement (many minutes).

    .venv/bin/python benchmarks/bench_featuremaps.py [--repeats 3] [--full-reference]

Data: ``$RP_DATA_DIR`` (default ``../shared/data``). Threads: ``$RP_BENCH_THREADS`` (default 2) for
torch and numpy. Results: ``benchmarks/results/featuremaps.{json,md}`` (the latest run).
"""

from __future__ import annotations

import os

from bench_threads import THREADS  # first: it caps the thread pools before numpy and torch load

import argparse
import datetime
import json
import platform
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from map_sets import CT_MODEL_MAPS, ISSUE_FEATURES

from ResponsePredictorLib.features import compute_feature_maps
from ResponsePredictorLib.features.agreement import agreements
from ResponsePredictorLib.features import load_settings
from ResponsePredictorLib.files import atomic_file
from ResponsePredictorLib.volume import Volume, read_mask, read_volume

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = Path(os.environ.get("RP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
ISSUE_SETTINGS = {"setting": {"binWidth": 25, "label": 1}}  # pyradiomics' defaults otherwise: no resampling
TOLERANCE = 1e-4
REFERENCE_BATCH = 2000


def timed(function: Callable[[], Any], repeats: int) -> tuple[dict[str, float], Any]:
    """Best wall and CPU (all threads) seconds of ``repeats`` calls; on a shared machine the minimum is the
    least disturbed, and CPU time is what the work itself costs whatever else runs."""
    wall, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        wall = min(wall, time.perf_counter() - start_wall)
        cpu = min(cpu, time.process_time() - start_cpu)
    return {"wall_s": wall, "cpu_s": cpu}, result


def ratios(slow: dict[str, float], fast: dict[str, float]) -> dict[str, float]:
    return {"wall": slow["wall_s"] / fast["wall_s"], "cpu": slow["cpu_s"] / fast["cpu_s"]}


def agreement_rows(fast: dict[str, Volume], reference: dict[str, Volume]) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "max_relative_difference": result.max_relative_difference,
            "nan_mismatches": result.nan_mismatches,
            "voxels": result.voxels,
            "within_tolerance": result.within(TOLERANCE),
        }
        for name, result in agreements(fast, reference).items()
    }


def run(data_dir: Path, repeats: int, full_reference: bool) -> dict[str, Any]:
    image = read_volume(data_dir / "pyradiomics" / "lung2_image.nrrd")
    mask = read_mask(data_dir / "pyradiomics" / "lung2_label.nrrd", image)
    tumor_voxels = int(np.count_nonzero(mask.array))
    # Warm-up (torch's first call, lazy imports), so that neither side pays start-up costs.
    compute_feature_maps(image, mask, ISSUE_FEATURES[:1], ISSUE_SETTINGS, device="cpu")

    print(f"lung2 tumor: {tumor_voxels} voxels, spacing {image.spacing}; torch threads {torch.get_num_threads()}")
    def run_fast() -> dict[str, Volume]:
        return compute_feature_maps(image, mask, ISSUE_FEATURES, ISSUE_SETTINGS, device="cpu")

    # The fast side is timed before and after the (long) pyradiomics run, so both see the same load.
    before, _ = timed(run_fast, repeats)
    reference_s, reference = timed(
        lambda: compute_feature_maps(image, mask, ISSUE_FEATURES, ISSUE_SETTINGS, backend="pyradiomics"), 1
    )
    after, fast = timed(run_fast, repeats)
    fast_s = {key: min(before[key], after[key]) for key in before}
    issue = {
        "settings": ISSUE_SETTINGS,
        "features": ISSUE_FEATURES,
        "radius": 1,
        "pyradiomics": reference_s,
        "fast": fast_s,
        "speedup": ratios(reference_s, fast_s),
        "agreement": agreement_rows(fast, reference),
    }
    print(
        f"issue maps: pyradiomics {reference_s['wall_s']:.2f} s, fast {fast_s['wall_s']:.3f} s, speed-up "
        f"{issue['speedup']['wall']:.0f}x wall, {issue['speedup']['cpu']:.0f}x CPU time"
    )

    names = CT_MODEL_MAPS
    ct = load_settings(preset="ct")
    model_s, model_maps = timed(lambda: compute_feature_maps(image, mask, names, ct, device="cpu"), repeats)
    map_voxels = int(np.count_nonzero(~np.isnan(next(iter(model_maps.values())).array)))
    model: dict[str, Any] = {"settings": "ct preset", "features": names, "fast": model_s, "kernels": map_voxels}
    print(
        f"default model's {len(names)} maps (ct preset, {map_voxels} kernels at 1 mm): fast {model_s['wall_s']:.2f} s "
        f"wall, {model_s['cpu_s']:.2f} s CPU"
    )
    if full_reference:
        mcc = [name for name in names if name.endswith("_MCC")]
        start, start_cpu = time.perf_counter(), time.process_time()
        # In one batch pyradiomics holds a dense (kernels x Ng x Ng x 13) GLCM: about 18 GB here. Batches
        # of 2000 kernels change none of these features (JointAverage would differ; it is not among them).
        batched = {**ct, "voxelSetting": {"voxelBatch": REFERENCE_BATCH}}
        reference = compute_feature_maps(image, mask, [n for n in names if n not in mcc], batched, backend="pyradiomics")
        # pyradiomics' default (one batch) voxel mode has no MCC map when any kernel lacks an angle's pairs;
        # one kernel per batch is its working form (see featuremaps.glcm).
        one_kernel = {**ct, "voxelSetting": {"voxelBatch": 1}}
        reference.update(compute_feature_maps(image, mask, mcc, one_kernel, backend="pyradiomics"))
        model["pyradiomics"] = {"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - start_cpu}
        model["speedup"] = ratios(model["pyradiomics"], model_s)
        model["agreement"] = agreement_rows(model_maps, reference)
        print(f"  pyradiomics {model['pyradiomics']['wall_s']:.1f} s, speed-up {model['speedup']['wall']:.0f}x wall")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus_visible": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "load_average_at_end": os.getloadavg(),
        },
        "packages": {name: version(name) for name in ("pyradiomics", "torch", "numpy", "SimpleITK")},
        "case": {"name": "lung2", "tumor_voxels": tumor_voxels, "spacing": image.spacing},
        "repeats": repeats,
        "tolerance": TOLERANCE,
        "issue_maps": issue,
        "default_model_maps": model,
    }


def markdown(results: dict[str, Any]) -> str:
    issue, model = results["issue_maps"], results["default_model_maps"]
    lines = [
        "# Voxel-wise feature maps: fast backend vs pyradiomics' voxel mode",
        "",
        f"Run {results['date']} on {results['machine']['platform']} ({results['machine']['threads']} torch threads, "
        f"{results['machine']['cpus_visible']} CPUs visible, load average at the end "
        f"{', '.join(f'{x:.1f}' for x in results['machine']['load_average_at_end'])}; a shared machine: read the ratios).",
        f"Case: lung2 tumor ({results['case']['tumor_voxels']} voxels, spacing {results['case']['spacing']} mm), "
        "kernel radius 1. Fast: best of "
        f"{results['repeats']} runs on the CPU (issue maps: {results['repeats']} before and {results['repeats']} "
        "after the pyradiomics run); pyradiomics: one run. Reproduce: "
        "`.venv/bin/python benchmarks/bench_featuremaps.py --full-reference`.",
        "",
        "## The issue's maps (Original image, pyradiomics defaults, binWidth 25, no resampling)",
        "",
        "| | pyradiomics voxel mode | fast backend | speed-up |",
        "|---|---|---|---|",
        f"| wall clock | {issue['pyradiomics']['wall_s']:.2f} s | {issue['fast']['wall_s']:.3f} s | "
        f"**{issue['speedup']['wall']:.0f}x** |",
        f"| CPU time (all threads) | {issue['pyradiomics']['cpu_s']:.2f} s | {issue['fast']['cpu_s']:.3f} s | "
        f"{issue['speedup']['cpu']:.0f}x |",
        "",
        *agreement_table(issue["agreement"]),
        "",
        f"## A radiomics model's {len(model['features'])} maps (`ct` preset; `map_sets.CT_MODEL_MAPS`)",
        "",
        f"{model['kernels']} kernels (the tumor at 1 mm). Fast backend: **{model['fast']['wall_s']:.2f} s** wall "
        f"({model['fast']['cpu_s']:.2f} s CPU) for all maps, preprocessing included (pyradiomics' BSpline "
        "resampling, three LoG filters).",
    ]
    if "pyradiomics" in model:
        lines += [
            f"pyradiomics' voxel mode on the same maps: {model['pyradiomics']['wall_s']:.1f} s "
            f"(speed-up **{model['speedup']['wall']:.0f}x** wall, {model['speedup']['cpu']:.0f}x CPU; `voxelBatch: {REFERENCE_BATCH}`, as one batch needs ~18 GB, "
            "and `voxelBatch: 1` for MCC).",
            "",
            *agreement_table(model["agreement"]),
        ]
    lines += [
        "",
        "MCC's reference is pyradiomics with `voxelBatch: 1`: with its default single batch, any kernel without "
        "pairs along an angle puts NaN into the GLCMs and `numpy.linalg.eigvals` rejects the whole batch, so "
        "pyradiomics returns no MCC map at all.",
    ]
    return "\n".join(lines) + "\n"


def agreement_table(rows: dict[str, dict[str, Any]]) -> list[str]:
    table = [
        f"| map | max relative difference | NaN mismatches | voxels | within {TOLERANCE:g} |",
        "|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        table.append(
            f"| {name} | {row['max_relative_difference']:.1e} | {row['nan_mismatches']} | {row['voxels']} | "
            f"{'yes' if row['within_tolerance'] else '**no**'} |"
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--repeats", type=int, default=3, help="fast-backend runs per measurement (best is kept)")
    parser.add_argument("--full-reference", action="store_true", help="also run pyradiomics on the default model's maps")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    results = run(args.data_dir, args.repeats, args.full_reference)
    with atomic_file(args.out / "featuremaps.json") as path:
        path.write_text(json.dumps(results, indent=2) + "\n")
    with atomic_file(args.out / "featuremaps.md") as path:
        path.write_text(markdown(results))
    print(f"results written to {args.out}/featuremaps.{{json,md}}")


if __name__ == "__main__":
    main()
