"""Segmentation benchmark: speed and memory of the default model on 2 CPU cores, and Dice on full CTs.

    python benchmarks/bench_segmentation.py        (RP_DATA_DIR: the public data folder)

Measured in one run, each stage in a fresh process (so that peak memory is the stage's own):
- model load time (catalog lookup, sha256 check, network build, weights);
- ROI inference of a 96^3 region from a click, end to end (crop, MONAI transforms, network, inverse
  transforms, post-processing) in the default precision, next to its peers: the bare network forward
  pass on a 96^3 input (same precision) and the same ROI in float32;
- a refinement: the same ROI from five clicks (the central one and four corrections of the interactive
  protocol's simulated user, with not-tumor points for a model that takes them), as each new click in
  the Slicer panel runs it once the model is loaded (``segment.interactive``: the mask of the first four
  clicks remembered and shown to a model that takes the mask it corrects), next to its peer, the
  one-click ROI;
- whole-volume sliding-window inference on lung2 (512 x 512 x 61), time and peak memory;
- a training step of the network (batch 2 of its region size, augmentation included) as training
  runs it on this CPU (bfloat16 mixed precision where the CPU computes it natively, channels-last),
  next to its peer, the same steps in float32;
- Dice on lung1 and lung2 (pyradiomics' full CTs) clicked at the tumor label's voxel nearest its
  centroid, for the model and for the classical threshold baseline of the training script.
Results go to benchmarks/results/segmentation.json and .md.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RP_DATA_DIR", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results"
REPEATS = 5
TRAINING_STEPS = 16
CORRECTIVE_CLICKS = 5  # as the default model's training simulated them (segmentation_training.json)


def stage(name: str) -> dict:
    """Run one stage in a child process and return what it printed (JSON) plus its peak memory."""
    completed = subprocess.run([sys.executable, __file__, "--stage", name], capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stage(name: str) -> dict:
    import numpy as np
    import torch

    from ResponsePredictorLib.catalog import load_model
    from ResponsePredictorLib.segment.inference import Segmenter
    from ResponsePredictorLib.segment.prompts import Prompts
    from ResponsePredictorLib.segment.interactive import InteractiveSegmenter
    from ResponsePredictorLib.segment.validation import LabeledCase, central_seed, click_session, dice, drawn_box
    from ResponsePredictorLib.volume import read_volume

    torch.set_num_threads(2)
    started = time.perf_counter()
    model = load_model(allow_download=False)
    load_s = time.perf_counter() - started
    segmenter = Segmenter(model.spec, model.network, device="cpu")
    if name == "load":
        return {"load_s": load_s}
    if name == "roi":
        image = read_volume(DATA / "pyradiomics" / "lung2_image.nrrd")
        label = read_volume(DATA / "pyradiomics" / "lung2_label.nrrd")
        seed = central_seed(label)
        exact = Segmenter(model.spec, model.network, device="cpu", precision="float32")
        for each in (segmenter, exact):
            each.segment_roi(image, seed=seed)  # warm-up
        clicks = click_session(segmenter, LabeledCase("lung2", image, label), max_clicks=5).clicks
        seeds = tuple(point for point, positive in clicks if positive)
        negatives = tuple(point for point, positive in clicks if not positive)
        session = InteractiveSegmenter(segmenter, image)
        if len(clicks) > 1:  # the mask the newest click corrects, made first as a session has made it
            positive = clicks[-1][1]
            session.segment(Prompts(seeds[:-1], negatives) if positive else Prompts(seeds, negatives[:-1]))
        ours, bare, float32, refine = [], [], [], []
        x = torch.rand(1, model.spec.in_channels, *model.spec.roi_size)
        for _ in range(REPEATS):  # interleaved, so that drift hits all alike
            clock = time.perf_counter()
            segmenter.segment_roi(image, seed=seed)
            ours.append(time.perf_counter() - clock)
            clock = time.perf_counter()
            with torch.inference_mode():
                segmenter.infer_window(x)
            bare.append(time.perf_counter() - clock)
            clock = time.perf_counter()
            exact.segment_roi(image, seed=seed)
            float32.append(time.perf_counter() - clock)
            clock = time.perf_counter()
            session.segment(Prompts(seeds, negatives))
            refine.append(time.perf_counter() - clock)
        return {"roi_s": float(np.median(ours)), "bare_forward_s": float(np.median(bare)),
                "float32_roi_s": float(np.median(float32)), "bfloat16": segmenter.bfloat16, "peak_mb": peak_mb(),
                "refine_s": float(np.median(refine)), "refine_max_s": float(np.max(refine)),
                "refine_clicks": {"tumor": len(seeds), "not_tumor": len(negatives)}}
    if name == "volume":
        image = read_volume(DATA / "pyradiomics" / "lung2_image.nrrd")
        seed = central_seed(read_volume(DATA / "pyradiomics" / "lung2_label.nrrd"))
        clock = time.perf_counter()
        segmenter.segment_volume(image, seed=seed)
        return {"volume_s": time.perf_counter() - clock, "peak_mb": peak_mb(), "size": list(image.size)}
    if name == "dice":
        sys.path.insert(0, str(REPO / "scripts"))
        from train_segmentation import threshold_segmentation

        training = json.loads((RESULTS / "segmentation_training.json").read_text())
        threshold = training["baseline"]["threshold_hu"]
        out = {}
        for case in ("lung1", "lung2"):
            image = read_volume(DATA / "pyradiomics" / f"{case}_image.nrrd")
            label = read_volume(DATA / "pyradiomics" / f"{case}_label.nrrd")
            seed = central_seed(label)
            truth = label.array > 0
            out[case] = {
                "model_dice": dice(segmenter.segment_roi(image, seed=seed).mask.array, truth),
                "model_box_dice": dice(segmenter.segment_roi(image, box=drawn_box(label, seed=0)).mask.array, truth),
                "baseline_dice": dice(threshold_segmentation(image, seed, threshold), truth),
                "spacing": list(image.spacing), "tumor_voxels": int(truth.sum()),
            }
        return out
    if name == "training":
        sys.path.insert(0, str(REPO / "scripts"))
        from train_segmentation import load_cases

        from ResponsePredictorLib.segment.training import TrainingConfig, train, training_sample, uses_bfloat16

        cases, _ = load_cases(DATA)
        samples = [training_sample(model.spec, c["image"], c["mask"]) for c in cases[:8]]
        out = {"bfloat16_native": uses_bfloat16(TrainingConfig(), torch.device("cpu")),
               "corrective_clicks": CORRECTIVE_CLICKS if model.spec.negative_channel else 0}
        for amp in (True, False):
            config = TrainingConfig(steps=TRAINING_STEPS, batch_size=2, device="cpu", amp=amp,
                                    central_click_fraction=0.5, box_fraction=0.5 if model.spec.box_channel else 0.0,
                                    corrective_clicks=CORRECTIVE_CLICKS if model.spec.negative_channel else 0)
            clocks: list[float] = []
            train(model.spec, samples, config, progress=lambda step, loss: clocks.append(time.perf_counter()))
            # The median step after the first four: the first ones build oneDNN's kernels for each shape.
            out["mixed_step_s" if amp else "float32_step_s"] = float(np.median(np.diff(clocks[4:])))
        return out
    raise ValueError(name)


def corrections(training: dict) -> str:
    most = training.get("corrective_clicks", 0)
    return f" and 0-{most} simulated corrective clicks (forward passes)" if most else ""


def precision_words(bfloat16: bool) -> str:
    return "bfloat16 mixed precision" if bfloat16 else "float32 (no native bfloat16 here)"


def main() -> None:
    if not (DATA / "pyradiomics").is_dir():
        sys.exit(f"public data not found at {DATA} (set RP_DATA_DIR)")
    results = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start",
        "load": stage("load"), "roi": stage("roi"), "volume": stage("volume"), "training": stage("training"),
        "dice": stage("dice"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "segmentation.json").write_text(json.dumps(results, indent=2))
    roi, volume, dice, training = results["roi"], results["volume"], results["dice"], results["training"]
    lines = [
        "# Segmentation benchmark (default model, CPU, 2 threads)", "",
        f"Run {results['date']} on {results['machine']} by `benchmarks/bench_segmentation.py`.", "",
        "| measure | value | peer in the same run |", "|---|---|---|",
        f"| model load (catalog, sha256, build, weights) | {results['load']['load_s']:.2f} s | |",
        f"| ROI inference, 96^3 region from a click, end to end, "
        f"{precision_words(roi['bfloat16'])} (the default) | "
        f"{roi['roi_s']:.2f} s (goal < 1 s) | bare network forward {roi['bare_forward_s']:.2f} s "
        f"(x{roi['roi_s'] / roi['bare_forward_s']:.2f}); the same ROI in float32 {roi['float32_roi_s']:.2f} s "
        f"(x{roi['float32_roi_s'] / roi['roi_s']:.2f} slower) |",
        f"| refinement: the same ROI from {sum(roi['refine_clicks'].values())} clicks ({roi['refine_clicks']['tumor']} "
        f"tumor, {roi['refine_clicks']['not_tumor']} not-tumor points; the protocol's first five), end to end | "
        f"{roi['refine_s']:.2f} s median, {roi['refine_max_s']:.2f} s max (goal < 1 s) | one click {roi['roi_s']:.2f} s "
        f"(x{roi['refine_s'] / roi['roi_s']:.2f}) |",
        f"| ROI peak memory (process) | {roi['peak_mb']:.0f} MB | |",
        f"| whole-volume sliding window, lung2 {volume['size']} | {volume['volume_s']:.1f} s | |",
        f"| whole-volume peak memory (process) | {volume['peak_mb']:.0f} MB | |",
        f"| training step, batch 2 of 96^3 with augmentation{corrections(training)}, "
        f"{precision_words(training['bfloat16_native'])}, "
        f"channels-last | {training['mixed_step_s']:.2f} s | float32 {training['float32_step_s']:.2f} s "
        f"(x{training['float32_step_s'] / training['mixed_step_s']:.2f} faster) |",
        "", "| full CT | model Dice, click at the label's centroid | model Dice, box around the label (0-5 mm margins) "
        "| threshold baseline Dice, same click |", "|---|---|---|---|",
    ]
    lines += [f"| {case} (spacing {tuple(round(s, 2) for s in d['spacing'])} mm, {d['tumor_voxels']} voxels) | "
              f"{d['model_dice']:.3f} | {d['model_box_dice']:.3f} | {d['baseline_dice']:.3f} |" for case, d in dice.items()]
    (RESULTS / "segmentation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--stage":
        print(json.dumps(run_stage(sys.argv[2])))
    else:
        main()
