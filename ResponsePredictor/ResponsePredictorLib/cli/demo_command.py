"""``responsepredictor demo``: the bundled sample case through everything the engine does so far."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from ..features import FeatureExtractor
from ..predict import load_model as load_outcome_model
from ..resources import resource_path
from ..volume import read_mask, read_volume, write_volume
from ..tables import write_feature_table
from .features_command import write_results

SAMPLE_IMAGE = ("SampleData", "nsclc070_ct.nrrd")
SAMPLE_MASK = ("SampleData", "nsclc070_tumor.nrrd")
SAMPLE_CLINICAL = ("SampleData", "nsclc070_clinical.json")
SURVIVAL_MODEL = ("Models", "nsclc_os_ct")
TOP_CONTRIBUTIONS = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the bundled sample case (NSCLC CT) end to end",
        description="Run the bundled sample case (a lung CT crop with its expert tumor mask, CC BY 3.0) through "
        "the engine with the embedded default models and write the results.",
    )
    parser.add_argument("-o", "--output-dir", type=Path, default=Path("out/demo"), help="output folder")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from ..catalog import load_model  # torch and MONAI: loaded by the commands that use them
    from ..segment.inference import Segmenter
    from ..segment.training import central_seed, dice

    clock = time.perf_counter()
    image = read_volume(resource_path(*SAMPLE_IMAGE))
    expert = read_mask(resource_path(*SAMPLE_MASK), image)
    print(f"Sample case nsclc070: CT {image.size} voxels of {image.spacing} mm")

    # 1. Segmentation from a click: the tumor voxel nearest the expert mask's centroid stands in for
    #    the radiologist's click.
    model = load_model(allow_download=False)
    seed = central_seed(expert)
    result = Segmenter(model.spec, model.network, device=args.device).segment_roi(image, seed=seed, probability=True)
    mask_path = write_volume(result.mask, args.output_dir / "tumor_auto.nrrd")
    write_volume(result.probability, args.output_dir / "tumor_probability.nrrd")
    print(f"1. segmentation ({model.spec.id} {model.spec.version}) from a click at "
          f"({', '.join(f'{c:.1f}' for c in seed)}) mm LPS: {int(result.mask.array.sum())} voxels, Dice "
          f"{dice(result.mask.array, expert.array):.3f} against the expert mask -> {mask_path}")

    # 2. Radiomic features of the expert mask (the reference segmentation of this case).
    features = FeatureExtractor.from_preset("ct").extract(image, expert)
    features_csv = args.output_dir / "features.csv"
    write_results([("nsclc070", features)], features_csv, args.output_dir / "diagnostics.json")
    print(f"2. {len(features.features)} radiomic features (ct preset) of the expert mask -> {features_csv}")
    for name in ("original_shape_MeshVolume", "original_shape_Sphericity", "original_firstorder_Mean",
                 "original_glcm_Contrast"):
        print(f"     {name:32s} {features.features[name]:.4g}")

    # 3. Overall survival from the default model: the features plus the patient's covariates.
    saved = load_outcome_model(resource_path(*SURVIVAL_MODEL))
    clinical = json.loads(resource_path(*SAMPLE_CLINICAL).read_text())
    table = pd.DataFrame([{**features.features, **clinical}], index=pd.Index(["nsclc070"], name="case"))
    prediction = saved.model.outputs(table).iloc[0]
    contributions = saved.model.contributions(table).iloc[0]
    top = contributions.reindex(contributions.abs().sort_values(ascending=False).index)[:TOP_CONTRIBUTIONS]
    prediction_csv = args.output_dir / "prediction.csv"
    write_feature_table([{"case": "nsclc070", **{k: float(v) for k, v in prediction.items()}}], prediction_csv)
    horizon_years = saved.model.horizon_ / 365.25
    print(f"3. {horizon_years:.0f}-year overall survival (default model, research use): "
          f"{prediction['survival']:.0%} (95% interval {prediction['survival_lower']:.0%}-"
          f"{prediction['survival_upper']:.0%}; in-sample: this patient is one of the model's training cases) "
          f"-> {prediction_csv}")
    for name, value in top.items():
        print(f"     {name:40s} {value:+.3f} to the risk score")
    print(f"done in {time.perf_counter() - clock:.1f} s; outputs in {args.output_dir}")
