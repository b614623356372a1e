"""How well a segmentation model finds expert-drawn tumors, guided the way a user guides it.

Every case is segmented from a click at the tumor's centre, from clicks elsewhere on the tumor and,
for a model that takes a box, from a box drawn around it; each mask is scored by its Dice overlap with
the expert's. The same code validates the default model on its held-back crops (the training script)
and any model on a site's own contoured cases (``site_validation``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MaskError
from ..volume import Volume
from .inference import Segmenter

# The widest margin (mm) a box drawn around a tumor leaves on each side, in training and validation.
BOX_MARGIN_MM = 5.0
# Clicks on random tumor voxels per case, beside the central one: where else a user may click.
RANDOM_CLICKS = 3
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class LabeledCase:
    """A scan and its expert tumor mask (0/1, on the scan's grid). ``seed`` fixes the case's random clicks
    and box margins, so that a validation gives the same figures every time."""

    id: str | int
    image: Volume
    mask: Volume
    seed: int = 0


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Dice overlap of two binary masks (1.0 when both are empty)."""
    prediction, truth = prediction.astype(bool), truth.astype(bool)
    total = prediction.sum() + truth.sum()
    return 1.0 if total == 0 else float(2 * np.logical_and(prediction, truth).sum() / total)


def central_seed(mask: Volume) -> tuple[float, float, float]:
    """A click on the tumor: the tumor voxel nearest to its centroid, in LPS mm (deterministic)."""
    voxels = np.argwhere(mask.array > 0)  # (k, j, i)
    nearest = voxels[np.argmin(np.sum((voxels - voxels.mean(axis=0)) ** 2, axis=1))]
    return tuple(mask.index_to_physical(nearest[::-1]))


def random_clicks(mask: Volume, count: int, seed: int) -> list[tuple[float, float, float]]:
    """``count`` clicks on distinct tumor voxels drawn at random, in LPS mm."""
    voxels = np.argwhere(mask.array > 0)
    chosen = np.random.default_rng(seed).choice(len(voxels), size=min(count, len(voxels)), replace=False)
    return [tuple(mask.index_to_physical(voxels[i][::-1])) for i in chosen]


def drawn_box(mask: Volume, seed: int) -> tuple[float, ...]:
    """A box as a user draws it around the tumor: the expert mask's bounding box widened by a random
    0-``BOX_MARGIN_MM`` on each side (the margins the training boxes had), as two opposite corners in LPS mm."""
    voxels = np.argwhere(mask.array > 0)[:, ::-1]  # (i, j, k)
    margins = np.random.default_rng(seed).uniform(0, BOX_MARGIN_MM, size=(2, 3)) / np.asarray(mask.spacing)
    low, high = voxels.min(axis=0) - margins[0], voxels.max(axis=0) + margins[1]
    return (*mask.index_to_physical(low), *mask.index_to_physical(high))


def validate_case(segmenter: Segmenter, case: LabeledCase, clicks: int = RANDOM_CLICKS) -> tuple[dict, np.ndarray]:
    """One case's row (Dice from the central click, the random clicks and a drawn box; the central click's
    wrong voxels split into expert tumor missed and voxels added; whether its mask reaches the edge of
    what the network saw) and the central click's mask. The mask must hold tumor."""
    truth = case.mask.array > 0
    if not truth.any():
        raise MaskError(f"Case {case.id}: the expert mask is empty, so there is no tumor to validate against.")
    seeds = [central_seed(case.mask)] + random_clicks(case.mask, clicks, seed=case.seed)
    results = [segmenter.segment_roi(case.image, seed=seed) for seed in seeds]
    central = results[0].mask.array.astype(bool)
    row = {
        "id": case.id,
        "tumor_voxels": int(truth.sum()),
        "touches_border": _touches_border(truth),
        "dice_central_click": dice(central, truth),
        "dice_random_clicks": [dice(result.mask.array, truth) for result in results[1:]],
        "missed_voxels": int((truth & ~central).sum()),
        "extra_voxels": int((central & ~truth).sum()),
        "reaches_edge_central_click": results[0].reaches_edge,
    }
    if segmenter.spec.box_channel:
        boxed = segmenter.segment_roi(case.image, box=drawn_box(case.mask, seed=case.seed))
        row["dice_box"] = dice(boxed.mask.array, truth)
    return row, central


def summary(values: list[float]) -> dict:
    """Mean, median and the mean's 95% bootstrap interval (cases resampled; fixed seed)."""
    values = np.asarray(values, float)
    rng = np.random.default_rng(0)
    boot = [rng.choice(values, size=len(values)).mean() for _ in range(BOOTSTRAP_RESAMPLES)]
    return {"mean": float(values.mean()), "median": float(np.median(values)),
            "ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))], "n": int(len(values))}


def summarize(rows: list[dict]) -> dict:
    """The validation's figures over its cases' rows (``validate_case``)."""
    wrong = sum(r["missed_voxels"] + r["extra_voxels"] for r in rows)
    figures = {
        "dice_central_click": summary([r["dice_central_click"] for r in rows]),
        "missed_share_of_wrong_voxels": sum(r["missed_voxels"] for r in rows) / max(1, wrong),
    }
    random = [d for r in rows for d in r["dice_random_clicks"]]
    if random:  # none when the validation asked for none
        figures["dice_random_clicks"] = summary(random)
    if rows and "dice_box" in rows[0]:
        figures["dice_box"] = summary([r["dice_box"] for r in rows])
    return figures


def _touches_border(mask: np.ndarray) -> bool:
    voxels = np.argwhere(mask)
    return bool((voxels.min(axis=0) == 0).any() or (voxels.max(axis=0) == np.array(mask.shape) - 1).any())
