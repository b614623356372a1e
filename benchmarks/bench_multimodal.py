"""Benchmark: multimodal cases of ``sts_dev`` (PET primary, CT with its own mask, MR T1 with the mask
carried, peritumoral shells of 5 and 10 mm), next to the same scans run as single-scan cases (each with its
own mask and preset, no shells), and contours carried from one scan onto another against the contour
drawn on that scan, with nearest-neighbour resampling as the peer.

    .venv/bin/python benchmarks/bench_multimodal.py            # ~4 minutes on 2 idle cores

Time: one case at a time in this process (features only, no report: the stages a cohort adds are
measured in bench_cohort), the median of 2 runs per patient, 2 torch threads. Carrying: the PET's mask
onto the CT's and the MR's grids, and theirs onto the PET's, by ``regions.carry_mask`` and by nearest
neighbour, each compared with the contour drawn on the target scan (Dice, volume difference, centroid
distance); the nearest-neighbour peer shows what the coverage rule adds.

Results: ``benchmarks/results/multimodal.{json,md}``.
"""

from __future__ import annotations

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

import numpy as np
import torch

from revision import git_revision
from ResponsePredictorLib.features import load_settings
from ResponsePredictorLib.pipeline import CaseInput, Pipeline
from ResponsePredictorLib.pipeline.case import ScanInput
from ResponsePredictorLib.regions import carry_mask
from ResponsePredictorLib.volume import Volume, read_mask, read_volume, resample_to_grid

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("RP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
RESULTS = REPO_ROOT / "benchmarks" / "results"
sys.path.insert(0, str(REPO_ROOT / "scripts"))
from sts_manifest import manifest_rows  # noqa: E402  (the scripts folder is not a package)

SHELLS = (5.0, 10.0)
REPEATS = 2


def case_inputs(row: dict[str, str]) -> tuple[CaseInput, dict[str, CaseInput]]:
    """The multimodal case of a manifest row, and each of its scans as a single-scan case with its own mask."""
    scans = {"CT": ScanInput(row["image_CT"], row["mask_CT"]) if row["image_CT"] else None,
             "MR_T1": ScanInput(row["image_MR_T1"]) if row["image_MR_T1"] else None}
    folder = Path(row["image"]).parent
    single = {"pet": CaseInput(row["case"], row["image"], row["mask"])}
    for name, preset in (("CT", "ct"), ("MR_T1", "mr")):
        if scans[name] is not None:
            single[preset] = CaseInput(row["case"], folder / f"{name}_image.nii.gz", folder / f"{name}_mask.nii.gz")
    return CaseInput(row["case"], row["image"], row["mask"], scans=scans), single


def timed(pipeline: Pipeline, case: CaseInput) -> tuple[float, dict[str, float], int]:
    runs, result = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = pipeline.run(case)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), result.timings, len(result.features)


def overlap(mask: np.ndarray, reference: np.ndarray, grid: Volume) -> dict[str, float]:
    a, b = mask > 0, reference > 0
    voxel = float(np.prod(grid.spacing))

    def centroid(array: np.ndarray) -> np.ndarray:
        k, j, i = np.nonzero(array)
        return grid.index_to_physical(np.array([i.mean(), j.mean(), k.mean()]))

    return {"dice": 2 * float((a & b).sum()) / float(a.sum() + b.sum()),
            "volume_difference": float(a.sum() - b.sum()) / float(b.sum()),
            "centroid_mm": float(np.linalg.norm(centroid(a) - centroid(b))),
            "volume_ml": float(a.sum()) * voxel / 1000}


# From the scan a contour was drawn on to another: the PET's onto the finer CT and MR grids, and theirs
# onto the coarser PET grid (where one nearest-neighbour sample decides a 4.7 mm voxel).
DIRECTIONS = (("PET", "CT"), ("PET", "MR_T1"), ("CT", "PET"), ("MR_T1", "PET"))


def carrying(row: dict[str, str]) -> list[dict[str, Any]]:
    """Each scan's contour carried onto each other scan that has its own, by coverage and by nearest neighbour."""
    folder = Path(row["image"]).parent
    scans = {}
    for scan in ("PET", "CT", "MR_T1"):
        if (folder / f"{scan}_image.nii.gz").is_file():
            image = read_volume(folder / f"{scan}_image.nii.gz")
            scans[scan] = (image, read_mask(folder / f"{scan}_mask.nii.gz", image))
    rows = []
    for source, target in DIRECTIONS:
        if source not in scans or target not in scans:
            continue
        (_, mask), (image, own) = scans[source], scans[target]
        rows.append({"case": row["case"], "from": source, "onto": target,
                     "coverage": overlap(carry_mask(mask, image).array, own.array, image),
                     "nearest_neighbour": overlap(resample_to_grid(mask, image).array, own.array, image),
                     "own_volume_ml": float((own.array > 0).sum()) * float(np.prod(image.spacing)) / 1000})
    return rows


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Multimodal cases: time per case and carried masks",
        "",
        f"Run {report['date']} on {report['machine']} ({report['threads']} torch threads), revision {report['revision']}. "
        "Reproduce: `.venv/bin/python benchmarks/bench_multimodal.py`.",
        "",
        f"Cases: the {len(report['cases'])} patients of `sts_dev`; PET primary (pet preset), CT with its own mask (ct "
        f"preset), MR T1 with the PET mask carried (mr preset), shells {', '.join(f'{s:g}' for s in SHELLS)} mm on every "
        "scan. Features only (no segmentation, model or report), median of "
        f"{REPEATS} runs per case. Peer: the same scans as single-scan cases, one after the other, each with its own "
        "mask and preset and no shells (what a user without multimodal cases would run).",
        "",
        "| case | scans | features | multimodal, with shells (s) | its scans one by one (s) | ratio |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for case in report["cases"]:
        lines.append(f"| {case['case']} | {case['scans']} | {case['features']} | {case['multimodal_s']:.2f} | "
                     f"{case['single_scans_s']:.2f} | {case['multimodal_s'] / case['single_scans_s']:.2f}x |")
    summary = report["summary"]
    lines += [
        "",
        f"Over the {summary['full_cases']} cases with all three scans: {summary['full_s']['min']:.1f} / "
        f"{summary['full_s']['median']:.1f} / {summary['full_s']['max']:.1f} s per case (min / median / max), "
        f"{summary['ratio']['min']:.2f}x / {summary['ratio']['median']:.2f}x / {summary['ratio']['max']:.2f}x the time "
        "of its scans one by one (the shells and the carried mask are the difference).",
        "",
        "## A contour carried onto another scan of the patient, against the contour drawn on that scan",
        "",
        "| from, onto | cases | Dice, coverage rule | Dice, nearest neighbour | volume difference, coverage | volume "
        "difference, nearest neighbour | centroid distance (mm), coverage |",
        "| --- | ---: | --- | --- | --- | --- | --- |",
    ]
    for direction, part in report["carrying_summary"].items():
        def cell(key: str, method: str, percent: bool = False) -> str:
            values = part[method][key]
            shown = [f"{100 * values[k]:+.1f}%" if percent else f"{values[k]:.3f}" for k in ("min", "median", "max")]
            return " / ".join(shown)

        lines.append(f"| {direction} | {part['cases']} | {cell('dice', 'coverage')} | {cell('dice', 'nearest_neighbour')} | "
                     f"{cell('volume_difference', 'coverage', True)} | {cell('volume_difference', 'nearest_neighbour', True)} | "
                     f"{cell('centroid_mm', 'coverage')} |")
    lines += ["", "Ranges are min / median / max over the cases. Each scan's contour is `sts_dev`'s own for that scan "
              "(prepared by the IBSI from one GTV per patient, so the contours of a patient largely agree); what they "
              "differ by beyond the carrying (what each modality shows, each grid's voxels) no carrying removes. Onto "
              "a finer grid the two rules agree (one sample per voxel is enough there); onto the coarser PET grid the "
              "comparison of the rules on the same cases is what this measures.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = manifest_rows(DATA_DIR)
    multimodal = Pipeline(None, feature_settings=load_settings(preset="pet"), heatmap=None, report=False,
                          peritumoral=SHELLS, primary_modality="pet")
    single = {preset: Pipeline(None, feature_settings=load_settings(preset=preset), heatmap=None, report=False)
              for preset in ("pet", "ct", "mr")}
    cases, carried = [], []
    for row in rows:
        fused_case, single_cases = case_inputs(row)
        multimodal.run(fused_case)  # warm: first reads and imports
        fused_s, timings, count = timed(multimodal, fused_case)
        single_s = sum(timed(single[preset], case)[0] for preset, case in single_cases.items())
        present = ["PET"] + [name for name, scan in fused_case.scans.items() if scan is not None]
        cases.append({"case": row["case"], "scans": "+".join(present), "features": count, "multimodal_s": fused_s,
                      "single_scans_s": single_s, "timings": timings})
        carried += carrying(row)
        print(f"{row['case']}: {fused_s:.2f} s ({'+'.join(present)}, {count} features), its scans one by one "
              f"{single_s:.2f} s", flush=True)
    full = [case for case in cases if case["scans"] == "PET+CT+MR_T1"]
    carrying_summary = {}
    for source, target in DIRECTIONS:
        part = [row for row in carried if (row["from"], row["onto"]) == (source, target)]
        carrying_summary[f"{source} onto {target}"] = {
            "cases": len(part), **{method: {key: spread([row[method][key] for row in part])
                                            for key in ("dice", "volume_difference", "centroid_mm")}
                                   for method in ("coverage", "nearest_neighbour")}}
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs", "threads": torch.get_num_threads(),
        "revision": git_revision(), "shells_mm": list(SHELLS), "cases": cases, "carrying": carried,
        "carrying_summary": carrying_summary,
        "summary": {"full_cases": len(full), "full_s": spread([case["multimodal_s"] for case in full]),
                    "ratio": spread([case["multimodal_s"] / case["single_scans_s"] for case in full])},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "multimodal.json").write_text(json.dumps(report, indent=1))
    (args.out / "multimodal.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
