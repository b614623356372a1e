"""``responsepredictor demo``: the bundled sample case end to end, as a radiologist would run it.

A click on the tumor -> MONAI segmentation -> radiomic features -> 2-year overall survival with its
interval and top contributions -> contribution heatmap (when the default model has inputs that vary
over the tumor) -> case report, with the embedded default models and nothing downloaded. The same
``Pipeline`` runs cohorts and the Slicer module.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..prediction_text import prediction_headline, ranked_contributions
from ..resources import sample_case
from ..volume import read_mask, read_volume

TOP_CONTRIBUTIONS = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the bundled sample case (NSCLC CT) end to end",
        description="Run the bundled sample case (a lung CT crop with its expert tumor mask, CC BY 3.0) end to end "
        "with the embedded default models: segmentation from a click, features, overall-survival prediction, "
        "contribution heatmap and case report.",
    )
    parser.add_argument("-o", "--output-dir", type=Path, default=Path("out/demo"), help="output folder")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from ..pipeline import CaseInput, Pipeline  # torch and MONAI: loaded by the commands that use them
    from ..segment.validation import central_seed, dice

    clock = time.perf_counter()
    sample = sample_case()
    image = read_volume(sample.image)
    expert = read_mask(sample.mask, image)
    clinical = json.loads(sample.clinical.read_text())
    print(f"Sample case {sample.case}: CT {image.size} voxels of {image.spacing} mm; clinical: {clinical}")

    pipeline = Pipeline.from_defaults(heatmap="contribution", device=args.device)
    # The tumor voxel nearest the expert mask's centroid stands in for the radiologist's click.
    seed = central_seed(expert)
    result = pipeline.run(CaseInput(sample.case, sample.image, seed=seed, extra=clinical))
    folder = args.output_dir / sample.case
    pipeline.write(result, folder)

    timings = result.timings
    print(f"1. segmentation from a click at ({', '.join(f'{c:.1f}' for c in seed)}) mm LPS: "
          f"{int(result.mask.array.sum())} voxels, Dice {dice(result.mask.array, expert.array):.3f} against the "
          f"expert mask ({timings['segment_s']:.1f} s)")
    print(f"2. {len(result.features)} radiomic features of the segmented tumor ({timings['features_s']:.1f} s)")
    big, small = prediction_headline(result.prediction_kind, result.prediction, result.provenance["outcome_model"])
    print(f"3. {big}\n   {small}\n   (default model, research use only; this patient is one of its training cases)")
    for name, value in ranked_contributions(result.contributions, TOP_CONTRIBUTIONS):
        print(f"     {name:44s} {value:+.3f} to the risk score")
    if result.heatmap is not None:
        print(f"4. contribution heatmap ({timings['heatmap_s']:.1f} s): {result.heatmap.description}")
    else:  # the model's inputs are one number per tumor; the pipeline's note says so below
        print("4. no contribution heatmap for this model")
    for warning in result.warnings:
        print(f"   note: {warning}")
    print(f"Outputs in {folder}: " + ", ".join(sorted(path.name for path in folder.iterdir())))
    print(f"done in {time.perf_counter() - clock:.1f} s")
