"""Train the default click-guided tumor segmentation model on the public NSCLC crops, reproducibly.

    python scripts/train_segmentation.py [--data-dir ../shared/data] [--steps 4000] [--device auto]
    python scripts/train_segmentation.py --init PREVIOUS.safetensors --learning-rate 1e-3 ...   # fine-tune
    python scripts/train_segmentation.py --evaluate-only   # validate the recorded weights again
    python scripts/train_segmentation.py --store-half OLD.safetensors   # OLD in float16 as Models.json's new version

Reads ``nsclc_crops`` (150 CT crops of 92 mm around the primary tumor with expert masks; 1 mm
voxels as the provider states), leaves out the crops whose mask is empty (listed in the results),
splits the rest by a fixed seed into training and validation cases (stratified by source cohort),
trains the network of the catalog entry, and then, on the validation cases only:

- runs the trained model through the product's own inference path (``Segmenter.segment_roi``),
  clicked at the tumor voxel nearest to its centroid, and at 3 random tumor voxels per case;
- runs a classical baseline in the same way: a HU threshold (chosen on the training cases) and the
  connected component at the click, holes filled.

It writes the weights (safetensors) into the output folder, ``segmentation_training.json`` (split,
seed, settings, hardware, time, loss curve, per-case Dice and wrong voxels) and a figure of the
lowest-Dice validation cases into the results folder, and the model
card (scripts/segmentation_model_card.py; for a results file outside the repository, a trial run, the
card lands beside it). Then put the weights' sha256 and size into Models.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ResponsePredictorLib.files import sha256_file
from ResponsePredictorLib.devices import resolve_device
from ResponsePredictorLib.segment.inference import Segmenter, precision_name
from ResponsePredictorLib.segment.network import build_network, load_weights, save_weights
from ResponsePredictorLib.segment.postprocess import clean_mask
from ResponsePredictorLib.segment.spec import ModelSpec
from ResponsePredictorLib.segment.training import TrainingConfig, train, training_sample, uses_bfloat16
from ResponsePredictorLib.segment.validation import (
    LabeledCase,
    central_seed,
    dice,
    summarize,
    summary,
    validate_case,
)
from ResponsePredictorLib.volume import Volume
from nsclc_crops import case_id, cohorts, crop_paths, read_crop

REPO = Path(__file__).resolve().parents[1]
MODEL_ID = "nsclc-ct-tumor-seeded"
VALIDATION_FRACTION = 0.2
SPLIT_SEED = 7
BASELINE_THRESHOLDS = range(-700, -99, 100)  # HU
# The baseline's threshold is chosen on this many training cases (the first by id): enough to
# settle a 100 HU grid, and quick.
BASELINE_TUNING_CASES = 40
WORST_CASES_FIGURE = "segmentation_worst_cases.png"  # written beside the results file


def spec_from_catalog() -> ModelSpec:
    catalog = json.loads((REPO / "ResponsePredictor" / "Resources" / "Models.json").read_text())
    entry = next(m for m in catalog["models"] if m["id"] == MODEL_ID)
    return ModelSpec.from_dict(entry, source="Models.json")


def load_cases(data_dir: Path) -> tuple[list[dict], list[dict]]:
    """(usable cases, excluded cases with the reason), each a dict with id, cohort, image, mask."""
    cohort_of = cohorts(data_dir)
    usable, excluded = [], []
    for path in crop_paths(data_dir):
        patient = int(case_id(path))
        image, mask = read_crop(path)
        case = {"id": patient, "cohort": cohort_of.get(patient, "?"), "image": image, "mask": mask}
        if not case["mask"].array.any():
            excluded.append({"id": patient, "reason": "empty expert mask"})
            continue
        usable.append(case)
    return usable, excluded


def split(cases: list[dict]) -> tuple[list[dict], list[dict]]:
    """Fixed, cohort-stratified split: the same cases for the same data, whatever the machine."""
    rng = np.random.default_rng(SPLIT_SEED)
    validation_ids: set[int] = set()
    for cohort in sorted({c["cohort"] for c in cases}):
        ids = sorted(c["id"] for c in cases if c["cohort"] == cohort)
        count = int(round(VALIDATION_FRACTION * len(ids)))
        validation_ids.update(int(i) for i in rng.choice(ids, size=count, replace=False))
    return [c for c in cases if c["id"] not in validation_ids], [c for c in cases if c["id"] in validation_ids]


def check_split(results: dict, training_cases: list[dict]) -> None:
    """Refuses to validate recorded weights on crops other than the ones held back from their training:
    new crops in the data folder would move the fixed split, and training crops into the validation."""
    recorded = results["split"]["training_ids"]
    if sorted(c["id"] for c in training_cases) != recorded:
        raise SystemExit("The data folder's crops split differently from the ones these weights were trained on "
                         f"({len(recorded)} training crops recorded), so validating here would score training crops. "
                         "To validate on other crops, run `responsepredictor models validate` on them.")


def threshold_segmentation(image: Volume, seed: tuple[float, float, float], threshold: float) -> np.ndarray:
    seed_index = image.physical_to_index(seed)[::-1]
    return clean_mask(image.array > threshold, seed_index)


def choose_threshold(cases: list[dict]) -> float:
    scores = {t: np.mean([dice(threshold_segmentation(c["image"], central_seed(c["mask"]), t), c["mask"].array)
                          for c in cases]) for t in BASELINE_THRESHOLDS}
    return float(max(scores, key=scores.get))


def evaluate(segmenter: Segmenter, cases: list[dict], threshold: float) -> tuple[list[dict], dict[int, np.ndarray]]:
    """Per case: the validation row (``segment.validation.validate_case``: Dice from the central and the
    random clicks and from a drawn box, the central click's wrong voxels) with the cohort and the
    baseline's Dice from the same central click; and the central click's masks by id."""
    rows, masks = [], {}
    for case in cases:
        row, masks[case["id"]] = validate_case(segmenter, LabeledCase(case["id"], case["image"], case["mask"], seed=case["id"]))
        baseline = threshold_segmentation(case["image"], central_seed(case["mask"]), threshold)
        rows.append({**row, "cohort": case["cohort"], "baseline_dice": dice(baseline, case["mask"].array)})
    return rows, masks


def draw_worst_cases(cases: list[dict], rows: list[dict], masks: dict[int, np.ndarray], path: Path, count: int = 4) -> Path:
    """The ``count`` validation cases of lowest Dice (central click): three planes through the click, the
    expert's contour beside the model's, so a reader sees what kind of disagreement the mean Dice hides."""
    from matplotlib.figure import Figure

    from ResponsePredictorLib.report.curves import save_figure

    worst = sorted(rows, key=lambda row: row["dice_central_click"])[:count]
    by_id = {case["id"]: case for case in cases}
    figure = Figure(figsize=(9.0, 3.0 * len(worst)), layout="constrained")
    for line, row in zip(figure.subplots(len(worst), 3, squeeze=False), worst):
        case = by_id[row["id"]]
        k, j, i = np.round(case["image"].physical_to_index(central_seed(case["mask"]))[::-1]).astype(int)
        planes = {"axial": np.s_[k], "coronal": np.s_[:, j], "sagittal": np.s_[:, :, i]}
        for axes, (plane, cut) in zip(line, planes.items()):
            # Arrays are (k, j, i): flip the patient axis up for the coronal and sagittal planes.
            view = (lambda a: a) if plane == "axial" else np.flipud
            axes.imshow(view(case["image"].array[cut]), cmap="gray", vmin=-1000, vmax=400)
            axes.contour(view(case["mask"].array[cut]), [0.5], colors="lime", linewidths=1)
            axes.contour(view(masks[row["id"]][cut].astype(np.uint8)), [0.5], colors="red", linewidths=1)
            axes.set_title(f"patient {row['id']} ({plane}), Dice {row['dice_central_click']:.2f}", fontsize=9)
            axes.axis("off")
    figure.suptitle("Lowest-Dice validation cases, central click: expert mask green, model red")
    return save_figure(figure, path)


def lineage(init: Path | None, results: Path) -> dict | None:
    """The weights a fine-tuning starts from and the training stages that made them, taken from the
    results file of the run that wrote them (when ``results`` is that file)."""
    if init is None:
        return None
    digest = sha256_file(init)
    previous = recorded_results(results)
    stages = []
    if describes(previous, init):
        earlier = (previous.get("initial_weights") or {}).get("stages", [])
        stage = {key: previous.get(key) for key in ("version", "date", "code", "command", "training")}
        if "stored_from" in previous:  # weights stored anew (--store-half): the training is that version's
            stage["stored_from"] = previous["stored_from"]["version"]
        stages = [*earlier, stage]
    return {"file": init.name, "sha256": digest, "stages": stages}


def weights_path(spec: ModelSpec, output: Path) -> Path:
    """Where a run writes the weights of ``spec``'s version (the name Models.json gives them)."""
    return output / f"{spec.id}-{spec.version}.safetensors"


def recorded_results(path: Path) -> dict:
    """The results file an earlier run wrote, or {} when there is none."""
    return json.loads(path.read_text()) if path.is_file() else {}


def this_command() -> str:
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])


def describes(record: dict, weights: Path) -> bool:
    """Whether a results record is that of the run that wrote ``weights``."""
    return weights.is_file() and record.get("weights", {}).get("sha256") == sha256_file(weights)


def code_version() -> str:
    """The commit of this training code, ``-dirty`` when the working tree differs from it."""
    described = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True)
    return described.stdout.strip() or "unknown (not a git checkout)"


def hardware(device: str) -> str:
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda}), torch {torch.__version__}"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("RP_DATA_DIR", REPO.parent / "shared" / "data")))
    parser.add_argument("--output", type=Path, default=REPO / "ResponsePredictor" / "Resources" / "Models")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "segmentation_training.json")
    parser.add_argument("--steps", type=int, default=TrainingConfig.steps)
    parser.add_argument("--batch-size", type=int, default=TrainingConfig.batch_size)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=TrainingConfig.seed)
    parser.add_argument("--learning-rate", type=float, default=TrainingConfig.learning_rate)
    parser.add_argument("--init", type=Path, default=None, help="fine-tune from these weights (recorded with their sha256)")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop training after this time budget")
    parser.add_argument("--central-click-fraction", type=float, default=TrainingConfig.central_click_fraction,
                        help="share of training clicks drawn from the tumor's inner half")
    parser.add_argument("--box-fraction", type=float, default=TrainingConfig.box_fraction,
                        help="share of training samples guided by a box around the tumor (a model with a box channel)")
    parser.add_argument("--corrective-clicks", type=int, default=TrainingConfig.corrective_clicks,
                        help="for a model with a negative channel: the most corrective clicks simulated before a step")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="no training: validate the weights the results file describes (in --output) with the "
                             "catalog's current inference settings")
    parser.add_argument("--store-half", type=Path, metavar="WEIGHTS",
                        help="no training: store these weights (described by the results file) in float16 as the "
                             "catalog's new version, then validate them")
    args = parser.parse_args()

    spec = spec_from_catalog()
    code = code_version()  # before training: the code that trains, whatever changes meanwhile
    device = resolve_device(args.device).type  # where it trains and validates, by the rule training itself uses
    cases, excluded = load_cases(args.data_dir)
    training_cases, validation_cases = split(cases)
    print(f"{len(cases)} usable crops ({len(excluded)} excluded: empty mask); "
          f"{len(training_cases)} training, {len(validation_cases)} validation", flush=True)
    if args.evaluate_only:
        results, network = recorded_model(spec, args.output, args.results)
    elif args.store_half:
        results, network = half_of_recorded(spec, args.store_half, args.output, args.results, code)
    else:
        results, network = train_model(args, spec, code, training_cases, validation_cases, excluded, device)
    check_split(results, training_cases)

    threshold = choose_threshold(training_cases[:BASELINE_TUNING_CASES])
    segmenter = Segmenter(spec, network, device=device)
    rows, masks = evaluate(segmenter, validation_cases, threshold)
    gallery = draw_worst_cases(validation_cases, rows, masks, args.results.with_name(WORST_CASES_FIGURE))
    results["evaluation"] = {"date": datetime.date.today().isoformat(), "code": code, "context_mm": spec.context_mm,
                             "probability_threshold": segmenter.threshold,
                             "precision": precision_name(segmenter.bfloat16)}
    results["baseline"] = {"method": "HU threshold + connected component at the click + hole filling",
                           "threshold_hu": threshold}
    results["validation"] = {
        **summarize(rows),
        "worst_cases_figure": gallery.name,
        "baseline_dice": summary([r["baseline_dice"] for r in rows]),
        "cases": rows,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2))
    subprocess.run([sys.executable, str(REPO / "scripts" / "segmentation_model_card.py"), str(args.results)], check=True)
    v = results["validation"]
    print(f"validation Dice (central click): {v['dice_central_click']['mean']:.3f} "
          f"CI {v['dice_central_click']['ci95']}; random clicks {v['dice_random_clicks']['mean']:.3f}; "
          + (f"box {v['dice_box']['mean']:.3f}; " if "dice_box" in v else "") +
          f"baseline {v['baseline_dice']['mean']:.3f} (threshold {threshold} HU)")


def train_model(args: argparse.Namespace, spec: ModelSpec, code: str, training_cases: list[dict],
                validation_cases: list[dict], excluded: list[dict], device: str) -> tuple[dict, torch.nn.Module]:
    """Trains, writes the weights, and returns the record of the run (without its validation) and the network."""
    config = TrainingConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                            learning_rate=args.learning_rate, num_workers=args.workers, device=args.device,
                            max_seconds=args.max_seconds, initial_weights=str(args.init) if args.init else None,
                            central_click_fraction=args.central_click_fraction, box_fraction=args.box_fraction,
                            corrective_clicks=args.corrective_clicks)
    initial = lineage(args.init, args.results)
    samples = [training_sample(spec, c["image"], c["mask"]) for c in training_cases]
    started = time.perf_counter()
    network, losses = train(spec, samples, config, progress=lambda step, loss: (
        print(f"step {step}/{config.steps} loss {loss:.4f}", flush=True) if step % 200 == 0 else None))
    training_seconds = time.perf_counter() - started
    weights = store_half(network, weights_path(spec, args.output))
    record = {
        "model": spec.id, "version": spec.version,
        "date": datetime.date.today().isoformat(),
        "command": this_command(),
        "code": code,
        "data": "nsclc_crops (NSCLC-Radiomics l1: CC BY-NC 3.0; NSCLC-Radiogenomics l2: CC BY 3.0)",
        "excluded": excluded,
        "split": {"seed": SPLIT_SEED, "validation_fraction": VALIDATION_FRACTION,
                  "training_ids": sorted(c["id"] for c in training_cases),
                  "validation_ids": sorted(c["id"] for c in validation_cases)},
        "initial_weights": initial,
        "training": {**config.__dict__, "hardware": hardware(device), "seconds": training_seconds,
                     "precision": precision_name(uses_bfloat16(config, torch.device(device))),
                     "steps_done": len(losses), "loss_every_100_steps": losses[::100] + [losses[-1]]},
        "weights": weights,
    }
    return record, network


def store_half(network: torch.nn.Module, path: Path) -> dict:
    """Writes the weights in float16 and returns their record.

    Shipped in float16: half the download (1.5.0: 10.7 -> 5.3 MB) and the same Dice on the held-back
    crops (1.5.0 central click 0.769 -> 0.770, tight box 0.813 both; see save_weights).
    """
    save_weights(network, path, half=True)
    digest = sha256_file(path)
    print(f"weights {path} sha256 {digest}", flush=True)
    return {"file": path.name, "sha256": digest, "size": path.stat().st_size, "stored_as": "float16"}


def half_of_recorded(spec: ModelSpec, source: Path, output: Path, results: Path, code: str) -> tuple[dict, torch.nn.Module]:
    """The weights the results file records (``source``, an earlier version) stored in float16 as the
    catalog's version, without training: the record keeps that run's training and names the source."""
    record = recorded_results(results)
    if not describes(record, source):
        raise SystemExit(f"--store-half needs {source} and the results file of the run that wrote it ({results}).")
    if record["version"] == spec.version:
        raise SystemExit(f"Give the float16 weights a new version in Models.json (it still says {spec.version}).")
    network = build_network(spec)
    load_weights(network, source, model_id=spec.id)
    weights = store_half(network, weights_path(spec, output))
    # Validate what ships: the rounded weights, read back as inference reads them.
    load_weights(network, weights_path(spec, output), model_id=spec.id)
    record.update(version=spec.version, stored_from={"version": record["version"], **record["weights"]},
                  storage={"date": datetime.date.today().isoformat(), "code": code,
                           "command": this_command()},
                  weights=weights)
    return record, network.eval()


def recorded_model(spec: ModelSpec, output: Path, results: Path) -> tuple[dict, torch.nn.Module]:
    """The record of the run that made ``spec``'s weights in ``output``, and the network with them."""
    weights = weights_path(spec, output)
    record = recorded_results(results)
    if not describes(record, weights):
        raise SystemExit(f"--evaluate-only needs {weights} and the results file of the run that wrote it ({results}).")
    network = build_network(spec)
    load_weights(network, weights, model_id=spec.id)
    return record, network.eval()


if __name__ == "__main__":
    main()
