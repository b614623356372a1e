"""Write the segmentation model's card from the results its training script recorded.

    python scripts/segmentation_model_card.py [benchmarks/results/segmentation_training.json]

Every number in the card comes from that file (written by scripts/train_segmentation.py). The
repository's card (Resources/Models/ModelCards) is written from the repository's results file only;
a results file elsewhere (a trial run) gets its card beside it, ``<results>.card.md``, so that trying
a model never overwrites the card of the model that ships.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "segmentation_training.json"
MODELS = REPO / "ResponsePredictor" / "Resources" / "Models"
# How training and validation draw a box around a tumor (segment.validation.BOX_MARGIN_MM).
DRAWN_BOX = "a box drawn around the tumor (its bounding box widened by a random 0-5 mm on each side)"


def interval(summary: dict) -> str:
    low, high = summary["ci95"]
    return f"{summary['mean']:.3f} (95% CI {low:.3f}-{high:.3f}; median {summary['median']:.3f}; n = {summary['n']})"


def by_size(cases: list[dict], limit_cm3: float = 50.0) -> str:
    """Mean Dice of small and large tumors (1 mm voxels: 1000 voxels = 1 cm3)."""
    parts = []
    for label, chosen in (("under", [c for c in cases if c["tumor_voxels"] < limit_cm3 * 1000]),
                          ("over", [c for c in cases if c["tumor_voxels"] >= limit_cm3 * 1000])):
        if chosen:
            mean = sum(c["dice_central_click"] for c in chosen) / len(chosen)
            parts.append(f"{mean:.3f} for the {len(chosen)} tumors {label} {limit_cm3:.0f} cm3")
    return ", ".join(parts)


def context_line(context_mm: float | None) -> str:
    if context_mm is None:
        return ""
    return (f" The training crops held {context_mm:g} mm of scan around each tumor and padding beyond, so a clicked "
            f"region of a whole scan is shown the same way: the {context_mm:g} mm cube around the click, the window's "
            "floor beyond it (the network never learned where tumors end against anatomy farther out).")


def evaluated_with(results: dict) -> str:
    evaluation = results.get("evaluation")
    if not evaluation:
        return ""
    return f"; evaluated {evaluation['date']} with code {evaluation['code']}{precision(evaluation)}"


def edge_warnings(cases: list[dict]) -> str:
    """How many central clicks were warned that the mask reaches the edge of what the model sees."""
    warned = [c for c in cases if c["reaches_edge_central_click"]]
    sizes = ", ".join(f"{c['tumor_voxels'] / 1000:.0f}" for c in warned)
    return (f"The product warned that the mask reaches the edge of what the model sees (the tumor may go on beyond "
            f"it) for {len(warned)} of the {len(cases)} central clicks" + (f" (tumors of {sizes} cm3)." if warned else "."))


def guidance_inputs(entry: dict) -> str:
    """The input channels after the image and the tumor clicks, "and" before the last of them."""
    channels = []
    if entry.get("box_channel"):
        channels.append("a third marking the box the user drew (1 inside, 0 outside; empty for a click; a box's click "
                        "is its centre)")
    if entry.get("negative_channel"):
        channels.append("a channel marking the not-tumor points a user adds (Gaussians as for the tumor points; empty "
                        "until then)")
    if entry.get("previous_mask_channel"):
        channels.append("a last channel holding the mask the newest point corrects (1 tumor, 0 elsewhere; empty for the "
                        "first click or the box; an interactive session keeps that mask, and prompts given all at once "
                        "are replayed: the box or the first tumor point, each further tumor point, then each not-tumor "
                        "point)")
    if not channels:
        return ""
    return "".join(f", {channel}" for channel in channels[:-1]) + f", and {channels[-1]}"


def corrective_samples(training: dict, entry: dict) -> str:
    most = training.get("corrective_clicks", 0)
    if not most:
        return ""
    shown = (" and the previous-mask channel held that round's prediction, the mask the click corrects (thresholded "
             "at 0.5, without the post-processing of the mask a user sees)" if entry.get("previous_mask_channel") else "")
    return (f" Before each step a simulated user corrected the batch with 0-{most} clicks (uniformly drawn): each "
            "round the network predicted from the clicks so far and each window got a click at the point farthest "
            "from the edge of its largest error region, in the tumor channel where tumor was missed, in the "
            f"not-tumor channel where some was added{shown} (the validation's protocol, on training crops only).")


def protocol_section(validation: dict) -> str:
    """The interactive protocol's table, beside an earlier model's on the same crops when recorded."""
    if "dice_after_clicks" not in validation:
        return ""
    reference = validation.get("reference")
    head = "| clicks | this model |" + (f" {reference['model']['id']} {reference['model']['version']} ({reference['points']}) |"
                                      if reference else "")
    lines = [head, "|---|---|" + ("---|" if reference else "")]
    for count, figure in validation["dice_after_clicks"].items():
        lines.append(f"| Dice after {count} | {interval(figure)} |" + (
            f" {interval(reference['dice_after_clicks'][count])} |" if reference else ""))
    noc = validation["noc_85"]

    def clicks(figure: dict) -> str:
        low, high = figure["ci95"]
        return f"{figure['mean']:.2f} (95% CI {low:.2f}-{high:.2f}; {figure['cases_never_reaching']} of {figure['n']} never reach it)"

    lines.append(f"| clicks to reach Dice 0.85 (NoC@85; at most {noc['cap']}, a case that never reaches it counts {noc['cap']}) "
                 f"| {clicks(noc)} |" + (f" {clicks(reference['noc_85'])} |" if reference else ""))
    curve = ", ".join(f"{value:.3f}" for value in validation["mean_dice_by_click"][:10])
    paired = paired_line(reference) if reference else ""
    return f"""
### Interactive correction (the field's protocol)
Click 1 at the tumor voxel nearest the expert mask's centroid; each next click at the point farthest from the
edge of the largest connected region where the mask and the expert's disagree: a tumor point where tumor
was missed, a not-tumor point where some was added (a model without a not-tumor channel gets tumor points
only). Same held-back patients, product inference path (`Segmenter.segment_roi` with all clicks so far and,
for a model that takes it, the mask the newest click corrects, as an interactive session keeps it).

{chr(10).join(lines)}

![Mean Dice against clicks on the held-back crops](../../../../benchmarks/results/{validation['clicks_figure']})

Mean Dice after clicks 1-10: {curve}.{paired} The curve: `benchmarks/results/{validation['clicks_figure']}`; the
lowest-Dice cases after 5 clicks, with their clicks: `benchmarks/results/{validation['worst_cases_after_clicks_figure']}`.
{near_contour_line(validation)}"""


def near_contour_line(validation: dict) -> str:
    """How much of the remaining disagreement lies along the expert's contour."""
    contour = validation["share_of_wrong_voxels_near_contour"]
    shares = ", ".join(f"{share:.0%} after {count}" for count, share in contour["after_clicks"].items())
    return (f"Of the wrong voxels, {shares} click(s) lie within {contour['within_mm']:g} mm of the expert's contour (the "
            "slice thickness of the CTs the experts drew on): thin disagreements about where the edge runs, and the "
            "rim of any larger part missed or added.\n")


def paired_line(reference: dict) -> str:
    """This model minus the reference on the same patients, as the training script paired them."""
    paired = reference["paired"]
    parts = [f"after {count} click{'s' if int(count) > 1 else ''} {figure['mean']:+.3f} "
             f"(95% CI {figure['ci95'][0]:+.3f} to {figure['ci95'][1]:+.3f})" for count, figure in paired.items()]
    patients = next(iter(paired.values()))["n"]
    return (f" Paired with {reference['model']['id']} {reference['model']['version']} on the same {patients} "
            f"patients (this model minus it): {'; '.join(parts)}.")


def box_samples(training: dict) -> str:
    share = training.get("box_fraction", 0.0)
    if not share:
        return ""
    return (f" {share:.0%} of the samples are instead centred on {DRAWN_BOX}, marked in the box channel; the others "
            "leave that channel empty.")


def box_row(validation: dict) -> str:
    if "dice_box" not in validation:
        return ""
    return f"| {DRAWN_BOX}, per patient | {interval(validation['dice_box'])} |\n"


def stage_line(training: dict) -> str:
    return (f"{training['steps_done']} steps of batch {training['batch_size']} (one-cycle learning rate up to "
            f"{training['learning_rate']}, seed {training['seed']}{precision(training)}) on {training['hardware']}, in "
            f"{training['seconds'] / 60:.1f} minutes")


def precision(record: dict) -> str:
    # Recorded for training and evaluation since CPUs run bfloat16 too; older training stages ran in
    # float32 on a CPU, mixed on a GPU, and older evaluations in float32.
    return f", {record['precision']} precision" if "precision" in record else ""


def stored(weights: dict) -> str:
    # Weights written before float16 storage hold float32.
    return f" ({weights.get('stored_as', 'float32')}, {weights['size'] / 1e6:.1f} MB)"


def trained_as(results: dict) -> str:
    """Which version the training section describes: this one, or the one whose weights it stores."""
    source = results.get("stored_from")
    return f"Version {source['version']} (whose weights this version stores)" if source else "This version"


def storage(results: dict) -> str:
    source = results.get("stored_from")
    if not source:
        return ""
    made = results["storage"]
    return (f" They are version {source['version']}'s `{source['file']}`{stored(source)} stored in "
            f"{results['weights']['stored_as']}, not retrained (`{made['command']}`, code {made['code']}, {made['date']}).")


def stored_note(stage: dict) -> str:
    return f" (version {stage['stored_from']}'s weights stored in float16)" if stage.get("stored_from") else ""


def lineage(results: dict) -> str:
    """How the starting weights of a fine-tuned model were made, stage by stage."""
    initial = results.get("initial_weights")
    if not initial:
        return "from a fresh initialisation"
    stages = "; ".join(f"version {s['version']}{stored_note(s)}: {stage_line(s['training'])} (code {s.get('code') or 'unrecorded'}, "
                       f"`{s['command']}`, {s['date']})"
                       for s in initial["stages"]) or "no record of how they were made"
    return (f"fine-tuned from `{initial['file']}` (sha256 `{initial['sha256'][:12]}...`; any input or feature channels "
            f"its network lacked started without effect, so training began from that model), made in earlier stages: {stages}")


def card(results: dict, entry: dict) -> str:
    training, validation, split = results["training"], results["validation"], results["split"]
    excluded = ", ".join(f"{e['id']} ({e['reason']})" for e in results["excluded"]) or "none"
    border = [c for c in validation["cases"] if c["touches_border"]]
    return f"""# Model card: {results['model']} {results['version']}

{entry.get('description', '')}

## Intended use
Research use only: a starting segmentation of a primary lung tumor in a CT scan, from one click (or
a box) on the tumor, to be reviewed and corrected by a radiologist before any measurement. Not a
medical device; not for clinical decisions. Other modalities, organs or lesion types are out of scope.

## Network and inputs
MONAI `{entry['network']['name']}` with {json.dumps(entry['network']['args'])}. Input: the CT
resampled to {entry['spacing']} mm (RAS), window {entry['intensity_window']} HU scaled to [0, 1], a
{entry['roi_size']} voxel region around the click, and a second channel marking the tumor clicks (Gaussians,
sigma {entry['seed_sigma_mm']} mm){guidance_inputs(entry)}. Output: tumor probability; mask = probability >= 0.5, the connected
components at the tumor clicks, holes filled (except a hole at a not-tumor click).{context_line(entry.get('context_mm'))}

## Training data
{results['data']}: 92 mm CT crops around the primary tumor with expert masks (1 mm voxels as the
provider states). Left out: {excluded}. Split with seed {split['seed']}, stratified by source cohort:
{len(split['training_ids'])} training and {len(split['validation_ids'])} validation patients (ids in
`benchmarks/results/segmentation_training.json`).

## Training
{trained_as(results)}: {stage_line(training)}, AdamW, Dice of the tumor class + cross-entropy,
{lineage(results)}. Each sample is a window centred on a random tumor voxel (the click; in this version
{training.get('central_click_fraction', 0.0):.0%} of them from the tumor's inner half, where radiologists click).{box_samples(training)}{corrective_samples(training, entry)} Every sample
is varied by MONAI augmentations (intensity scale and shift, noise, simulated 2-5 mm slices, flips, 90-degree
rotations, small affine rotations, scaling and shifts). Code {results.get('code') or 'unrecorded'} (earlier stages ran the
training code of their own commit). Command: `{results['command']}`.

## Validation (held-back patients, product inference path{evaluated_with(results)})
| | Dice |
|---|---|
| click at the tumor voxel nearest its centroid | {interval(validation['dice_central_click'])} |
| three random clicks inside the tumor, per patient | {interval(validation['dice_random_clicks'])} |
{box_row(validation)}| classical baseline: HU > {results['baseline']['threshold_hu']:.0f} (chosen on training patients), component at the click, holes filled | {interval(validation['baseline_dice'])} |

{len(border)} of the validation tumors touch the border of their crop, so part of the tumor lies
outside the data. By size (central click): {by_size(validation['cases'])}. This validation is an
internal hold-out of {split['validation_fraction']:.0%} of one public data set; accuracy on other
scanners, protocols and institutions is unknown and expected to be lower: measure it on your own
contoured cases with `responsepredictor models validate` before use. Dice on two full CTs with
5 mm slices (pyradiomics' lung1 and lung2), inference time and memory:
`benchmarks/results/segmentation.md`.

Where it disagrees with the expert (central click): {validation['missed_share_of_wrong_voxels']:.0%} of the wrong voxels are expert
tumor the model left out, the rest voxels it added, so it errs mostly by
{'under' if validation['missed_share_of_wrong_voxels'] > 0.5 else 'over'}-segmenting. The lowest-Dice cases are drawn in
`benchmarks/results/{validation['worst_cases_figure']}`: read them before trusting the mean, since a
low Dice can come from the model or from the expert's contour (contours drawn for radiotherapy vary in
their margin and in how much adjacent tissue they take in).
{edge_warnings(validation['cases'])}
{protocol_section(validation)}
## License
{entry['license']}

Weights: `{results['weights']['file']}`{stored(results['weights'])}, sha256 `{results['weights']['sha256']}`.{storage(results)}
"""


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else RESULTS)
    results = json.loads(source.read_text())
    catalog = json.loads((REPO / "ResponsePredictor" / "Resources" / "Models.json").read_text())
    entry = next(m for m in catalog["models"] if m["id"] == results["model"])
    path = MODELS / entry["card"] if source.resolve() == RESULTS.resolve() else source.with_suffix(".card.md")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(card(results, entry))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
