"""Benchmark: a radiomics model's explanation heatmaps on the lung2 tumor, time per stage.

    .venv/bin/python benchmarks/bench_explain.py [--repeats 3] [--blocks 3]

Measured in one run on pyradiomics' lung2 CT (512 x 512 x 61, 0.63 x 0.63 x 5 mm) and its tumor
label, with the NSCLC overall-survival model on radiomics + clinical covariates
(``benchmarks/models/nsclc_radiomics_clinical``, the candidate of ``scripts/train_default_model.py``
trained on all 148 patients; its ``ct`` feature settings, no covariates: the model imputes them):

- the contribution map (fast feature-map backend, kernel radius 1), split in its stages (whole-tumor
  features for the notes, feature maps, the model's contributions per voxel, back to the input
  grid), median of ``--repeats`` runs after one warm-up; once more with the case's features handed
  in, as the pipeline does after its prediction;
- its peer in the same run: what the prediction itself costs, the whole-tumor extraction of every
  feature of the ``ct`` preset plus the model's outputs (the ratio says how much the heatmap adds);
- the occlusion map on a ``--blocks``^3 grid (one run: it is the slow, model-agnostic method).

It also draws docs/heatmap_example.png: the bundled sample case (nsclc070) with its contribution
map. Data: ``$RP_DATA_DIR`` (default ``../shared/data``). Threads: ``$RP_BENCH_THREADS`` (default 2).
Results: ``benchmarks/results/explain.{json,md}``.
"""

from __future__ import annotations

import os

from bench_threads import THREADS  # first: it caps the thread pools before numpy and torch load

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from radiomics_model import RADIOMICS_MODEL
from revision import git_revision

from ResponsePredictorLib.explain import contribution_map, occlusion_map
from ResponsePredictorLib.explain.scores import model_rows
from ResponsePredictorLib.features import FeatureExtractor
from ResponsePredictorLib.files import atomic_file
from ResponsePredictorLib.predict import load_model
from ResponsePredictorLib.report.overlay import save_overlay_picture
from ResponsePredictorLib.resources import resource_path
from ResponsePredictorLib.tables import write_json
from ResponsePredictorLib.volume import read_mask, read_volume

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("RP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
RESULTS = REPO_ROOT / "benchmarks" / "results"
EXAMPLE_PNG = REPO_ROOT / "docs" / "heatmap_example.png"
GOAL_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--blocks", type=int, default=3, help="occlusion blocks per axis")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    load_at_start = os.getloadavg()
    saved = load_model(RADIOMICS_MODEL)
    image = read_volume(DATA_DIR / "pyradiomics" / "lung2_image.nrrd")
    mask = read_mask(DATA_DIR / "pyradiomics" / "lung2_label.nrrd", image)
    extractor = FeatureExtractor(saved.feature_settings)

    def prediction() -> dict:
        features = extractor.extract(image, mask).features
        saved.model.outputs(model_rows(saved, features, 1))
        return features

    def contribution(**kwargs) -> dict:
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        contribution_map(saved, image, mask, device="cpu", timings=timings, **kwargs)
        return {"total": time.perf_counter() - clock, **timings}

    features = prediction()  # warm-up of both paths
    contribution()
    runs, given, peers = [], [], []
    for _ in range(args.repeats):  # interleaved, so that load from other processes falls on all alike
        runs.append(contribution())
        given.append(contribution(case_features=features))
        clock = time.perf_counter()
        prediction()
        peers.append(time.perf_counter() - clock)
    clock = time.perf_counter()
    occlusion = occlusion_map(saved, image, mask, blocks=args.blocks)
    occlusion_s = time.perf_counter() - clock

    stages = {stage: float(np.median([run[stage] for run in runs])) for stage in runs[0]}
    stages_given = {stage: float(np.median([run[stage] for run in given])) for stage in given[0]}
    peer = float(np.median(peers))
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {THREADS} threads; "
                   f"{platform.platform()}; Python {platform.python_version()}",
        "repository": git_revision(),
        "load_average_start": [round(v, 2) for v in load_at_start],
        "load_average_end": [round(v, 2) for v in os.getloadavg()],
        "case": {"name": "lung2 (pyradiomics)", "size": list(image.size), "spacing": list(image.spacing),
                 "tumor_voxels": int(np.count_nonzero(mask.array))},
        "model": "nsclc_radiomics_clinical (coxnet, ct preset)",
        "repeats": args.repeats,
        "contribution_s": stages,
        "contribution_with_case_features_s": stages_given,
        "prediction_peer_s": peer,
        "ratio_heatmap_to_prediction": stages["total"] / peer,
        "goal_s": GOAL_S,
        "goal_met": stages["total"] < GOAL_S,
        "goal_met_with_case_features": stages_given["total"] < GOAL_S,
        "occlusion": {"blocks": args.blocks, "seconds": occlusion_s, "value_range": list(occlusion.value_range)},
    }
    write_json(results, RESULTS / "explain.json")
    with atomic_file(RESULTS / "explain.md") as partial:
        partial.write_text(_markdown(results))
    _example_picture(saved)
    print(_markdown(results))


def _markdown(r: dict) -> str:
    rows = "\n".join(f"| {stage} | {seconds:.2f} | {r['contribution_with_case_features_s'][stage]:.2f} |"
                     for stage, seconds in r["contribution_s"].items())
    return f"""# Explanation heatmap benchmark

Written by `benchmarks/bench_explain.py` on {r['date']}; rerun it to refresh.

- Machine: {r['machine']}; repository {r['repository']}
- Load average (1, 5, 15 min) at start: {r['load_average_start']}; at end: {r['load_average_end']}
- Case: {r['case']['name']}, {r['case']['size']} voxels of {', '.join(f'{s:.3g}' for s in r['case']['spacing'])} mm, tumor {r['case']['tumor_voxels']} voxels
- Model: {r['model']}; median of {r['repeats']} runs after a warm-up, interleaved with the peer

## Contribution map (fast backend, kernel radius 1, CPU)

| stage | seconds | with the case's features given |
|---|---|---|
{rows}

Goal: under {r['goal_s']:.0f} s on 2 cores. On its own (`responsepredictor explain`, which extracts the
whole-tumor features first): **{'met' if r['goal_met'] else 'not met'}** ({r['contribution_s']['total']:.2f} s). After a prediction,
as the pipeline, `run` and the Slicer module make it (the case's features handed in):
**{'met' if r['goal_met_with_case_features'] else 'not met'}** ({r['contribution_with_case_features_s']['total']:.2f} s).

Peer in the same run, the prediction itself (whole-tumor extraction of every `ct` preset feature + the
model's outputs): {r['prediction_peer_s']:.2f} s; the heatmap costs **{r['ratio_heatmap_to_prediction']:.1f}x** the prediction.

## Occlusion map

{r['occlusion']['blocks']}^3 blocks over the tumor's bounding box, one pyradiomics extraction of the model's features
per block (and one of the whole tumor): {r['occlusion']['seconds']:.1f} s; values
{r['occlusion']['value_range'][0]:+.3g} to {r['occlusion']['value_range'][1]:+.3g} (risk score change).
"""


def _example_picture(saved) -> None:
    image = read_volume(resource_path("SampleData", "nsclc070_ct.nrrd"))
    mask = read_mask(resource_path("SampleData", "nsclc070_tumor.nrrd"), image)
    clinical = json.loads(resource_path("SampleData", "nsclc070_clinical.json").read_text())
    heatmap = contribution_map(saved, image, mask, clinical, device="cpu")
    save_overlay_picture(image, mask, heatmap, EXAMPLE_PNG,
                         title="Sample case nsclc070: contribution map of the default overall-survival model (research use)",
                         lines=[heatmap.description])


if __name__ == "__main__":
    main()
