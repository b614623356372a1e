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
  connected component at the click, holes filled;
- runs the field's interactive protocol (``segment.validation.click_session``: the central click, then
  up to 19 corrective clicks of a simulated user) and draws its curve, Dice against clicks, beside the
  curve of an earlier model on the same crops when ``--reference`` gives its ``models validate`` report
  (``scripts/nsclc_crops_manifest.py`` writes those crops with a manifest).

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
from ResponsePredictorLib.segment.corrective_clicks import REPORTED_CLICKS, TARGET_DICE
from ResponsePredictorLib.segment.validation import (
    LabeledCase,
    central_seed,
    click_session,
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
WORST_AFTER_CLICKS_FIGURE = "segmentation_worst_cases_5_clicks.png"
CLICKS_FIGURE = "segmentation_clicks.png"


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


def draw_worst_cases(cases: list[dict], scored: list[tuple[int, float]], masks: dict[int, np.ndarray], path: Path,
                     title: str, clicks: dict[int, list] | None = None) -> Path:
    """Validation cases (id, Dice) with their model masks: three planes through the central click, the
    expert's contour beside the model's, so a reader sees what kind of disagreement the mean Dice hides.
    ``clicks`` (LPS mm, True for a tumor point) are marked where they lie within 3 mm of a plane."""
    from matplotlib.figure import Figure

    from ResponsePredictorLib.report.curves import save_figure

    by_id = {case["id"]: case for case in cases}
    figure = Figure(figsize=(9.0, 3.0 * len(scored)), layout="constrained")
    for line, (patient, score) in zip(figure.subplots(len(scored), 3, squeeze=False), scored):
        case = by_id[patient]
        centre = np.round(case["image"].physical_to_index(central_seed(case["mask"]))[::-1]).astype(int)  # k, j, i
        planes = {"axial": (0, np.s_[centre[0]]), "coronal": (1, np.s_[:, centre[1]]), "sagittal": (2, np.s_[:, :, centre[2]])}
        marks = [(case["image"].physical_to_index(p)[::-1], positive) for p, positive in (clicks or {}).get(patient, [])]
        for axes, (plane, (axis, cut)) in zip(line, planes.items()):
            # Arrays are (k, j, i): flip the patient axis up for the coronal and sagittal planes.
            view = (lambda a: a) if plane == "axial" else np.flipud
            axes.imshow(view(case["image"].array[cut]), cmap="gray", vmin=-1000, vmax=400)
            axes.contour(view(case["mask"].array[cut]), [0.5], colors="lime", linewidths=1)
            axes.contour(view(masks[patient][cut].astype(np.uint8)), [0.5], colors="red", linewidths=1)
            height = case["image"].array[cut].shape[0]
            for index, positive in marks:
                if abs(index[axis] - centre[axis]) * case["image"].spacing[2 - axis] <= 3.0:
                    row_, col = np.delete(index, axis)
                    axes.plot(col, row_ if plane == "axial" else height - 1 - row_, "+" if positive else "x",
                              color="lime" if positive else "orange", markersize=8, markeredgewidth=2)
            axes.set_title(f"patient {patient} ({plane}), Dice {score:.2f}", fontsize=9)
            axes.axis("off")
    figure.suptitle(title)
    return save_figure(figure, path)


def draw_worst_after_clicks(segmenter: Segmenter, cases: list[dict], rows: list[dict], path: Path,
                            clicks: int = 5, count: int = 4) -> Path:
    """The ``count`` cases of lowest Dice after ``clicks`` clicks of the protocol, their masks and clicks."""
    worst = sorted(rows, key=lambda row: row["dice_by_click"][clicks - 1])[:count]
    by_id = {case["id"]: case for case in cases}
    masks, given = {}, {}
    for row in worst:
        case = by_id[row["id"]]
        session = click_session(segmenter, LabeledCase(case["id"], case["image"], case["mask"], seed=case["id"]), clicks)
        masks[row["id"]], given[row["id"]] = session.last.mask.array, session.clicks
    return draw_worst_cases(cases, [(r["id"], r["dice_by_click"][clicks - 1]) for r in worst], masks, path,
                            f"Lowest-Dice validation cases after {clicks} clicks of the protocol: expert mask green, "
                            "model red; tumor points +, not-tumor points x (those within 3 mm of the plane)", given)


def draw_click_curves(curves: list[tuple[str, list[dict]]], path: Path) -> Path:
    """Mean Dice against the number of clicks, with the 95% bootstrap interval of the mean, per model:
    (label, the validation rows with ``dice_by_click``)."""
    from matplotlib.figure import Figure

    from ResponsePredictorLib.report.curves import save_figure

    figure = Figure(figsize=(6.0, 4.0), layout="constrained")
    axes = figure.subplots()
    for label, rows in curves:
        by_click = np.array([row["dice_by_click"] for row in rows])
        counts = np.arange(1, by_click.shape[1] + 1)
        bands = np.array([summary(by_click[:, n].tolist())["ci95"] for n in range(by_click.shape[1])])
        axes.plot(counts, by_click.mean(axis=0), marker="o", markersize=3, label=label)
        axes.fill_between(counts, bands[:, 0], bands[:, 1], alpha=0.2)
    axes.axhline(TARGET_DICE, color="gray", linestyle=":", linewidth=1)
    axes.set_xlabel("clicks (the first at the tumor's centre, then the simulated user's corrections)")
    axes.set_ylabel("mean Dice on the held-back crops")
    axes.set_xticks(counts[::2] if len(counts) > 10 else counts)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    return save_figure(figure, path)


def paired_with_reference(rows: list[dict], reference: dict) -> dict:
    """This model minus the reference on the same patients after each reported number of clicks: the mean
    difference of Dice with its 95% bootstrap interval (``summary``: patients resampled, fixed seed)."""
    theirs = {int(str(row["id"]).removeprefix("patient_")): row["dice_by_click"] for row in reference["cases"]}
    ours = {row["id"]: row["dice_by_click"] for row in rows}
    patients = sorted(set(ours) & set(theirs))
    return {str(n): summary([ours[p][n - 1] - theirs[p][n - 1] for p in patients]) for n in REPORTED_CLICKS}


def reference_record(path: Path, validation_ids: list[int]) -> dict:
    """An earlier model's ``models validate`` report on the same held-back crops: its figures and rows.
    Refused when it scored other crops (the figures would not compare)."""
    report = json.loads(path.read_text())
    scored = sorted(int(row["id"].removeprefix("patient_")) for row in report["cases"])
    if scored != sorted(validation_ids):
        raise SystemExit(f"{path} scored {len(scored)} other crops than the {len(validation_ids)} held-back ones.")
    if "dice_by_click" not in report["cases"][0]:
        raise SystemExit(f"{path} has no interactive protocol (run `models validate` with --protocol-clicks).")
    keep = ("dice_central_click", "dice_after_clicks", "mean_dice_by_click", "noc_85")
    # Whether its simulated user could give not-tumor points (a model without them gets tumor points only).
    points = ("tumor and not-tumor points" if any(r.get("negative_clicks", 0) for r in report["cases"])
              else "tumor points only")
    return {"model": report["model"], "date": report["date"], "file": path.name, "precision": report.get("precision"),
            "points": points, **{key: report[key] for key in keep}, "cases": [{"id": r["id"], "dice_by_click": r["dice_by_click"]}
                                                           for r in report["cases"]]}


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
                        help="for a model with a negative channel: the most corrective clicks simulated before a step "
                             "(needed, above 0, for a model shown the mask a click corrects)")
    parser.add_argument("--reference", type=Path, metavar="REPORT.json",
                        help="an earlier model's `models validate` report on the held-back crops, drawn beside this "
                             "model's click curve and recorded with the validation")
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
    worst = sorted(rows, key=lambda row: row["dice_central_click"])[:4]
    gallery = draw_worst_cases(validation_cases, [(r["id"], r["dice_central_click"]) for r in worst], masks,
                               args.results.with_name(WORST_CASES_FIGURE),
                               "Lowest-Dice validation cases, central click: expert mask green, model red")
    after_clicks = draw_worst_after_clicks(segmenter, validation_cases, rows, args.results.with_name(WORST_AFTER_CLICKS_FIGURE))
    reference = reference_record(args.reference, [c["id"] for c in validation_cases]) if args.reference else None
    curves = [(f"{spec.id} {spec.version}", rows)]
    if reference:
        reference["paired"] = paired_with_reference(rows, reference)
        curves.append((f"{reference['model']['id']} {reference['model']['version']} ({reference['points']})", reference["cases"]))
    clicks_figure = draw_click_curves(curves, args.results.with_name(CLICKS_FIGURE))
    results["evaluation"] = {"date": datetime.date.today().isoformat(), "code": code, "context_mm": spec.context_mm,
                             "probability_threshold": segmenter.threshold,
                             "precision": precision_name(segmenter.bfloat16)}
    results["baseline"] = {"method": "HU threshold + connected component at the click + hole filling",
                           "threshold_hu": threshold}
    results["validation"] = {
        **summarize(rows),
        "worst_cases_figure": gallery.name,
        "worst_cases_after_clicks_figure": after_clicks.name,
        "clicks_figure": clicks_figure.name,
        "reference": reference,
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
    print("interactive protocol: " + ", ".join(f"after {n} click(s) {f['mean']:.3f}" for n, f in v["dice_after_clicks"].items())
          + f"; NoC@85 {v['noc_85']['mean']:.2f} ({v['noc_85']['cases_never_reaching']} never)")


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
    # Validate what ships: the weights as stored (float16), read back as inference reads them.
    load_weights(network, weights_path(spec, args.output), model_id=spec.id)
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
