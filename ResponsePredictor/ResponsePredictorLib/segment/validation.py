"""How well a segmentation model finds expert-drawn tumors, guided the way a user guides it.

Every case is segmented from a click at the tumor's centre, from clicks elsewhere on the tumor and,
for a model that takes a box, from a box drawn around it; each mask is scored by its Dice overlap with
the expert's. Then the field's interactive protocol: after the central click, a simulated user keeps
correcting (``corrective_clicks.next_click``: the largest error region, at its point farthest from
the edge; tumor missed -> a tumor point, wrongly added -> a not-tumor point, for a model that takes
them), and the Dice after 1, 3 and 5 clicks and the clicks needed to reach Dice 0.85 (NoC@85, counted
as the cap when never reached) are recorded. The same code validates the default model on its
held-back crops (the training script) and any model on a site's own contoured cases (``site_validation``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import MaskError
from ..volume import Volume, nonzero_box
from .corrective_clicks import PROTOCOL_CLICKS, REPORTED_CLICKS, TARGET_DICE, next_click
from .inference import SegmentationResult, Segmenter

# The widest margin (mm) a box drawn around a tumor leaves on each side, in training and validation.
BOX_MARGIN_MM = 5.0
# Clicks on random tumor voxels per case, beside the central one: where else a user may click.
RANDOM_CLICKS = 3
BOOTSTRAP_RESAMPLES = 2000
# How close to the expert's contour (mm, either side) a wrong voxel counts as lying along it: the slice
# thickness of the NSCLC-Radiomics CTs the default model's experts drew on. Thin disagreements about where
# the edge runs lie within it, and so does the rim of a larger part missed or added.
CONTOUR_MM = 3.0


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


def near_contour(truth: np.ndarray, spacing: tuple[float, ...], within_mm: float = CONTOUR_MM) -> np.ndarray:
    """The voxels within ``within_mm`` of the contour of ``truth`` (a non-empty mask), on either side: tumor
    voxels that close to a non-tumor voxel, other voxels that close to a tumor voxel. ``spacing``: the voxel
    size along the arrays' axes (mm)."""
    reach = np.ceil(within_mm / np.asarray(spacing)).astype(int) + 1
    # Only the tumor's bounding box widened by the reach can be near it: a full CT costs no more than a crop.
    box = tuple(slice(max(part.start - r, 0), part.stop + r) for part, r in zip(nonzero_box(truth), reach))
    tumor = truth[box]
    near = np.zeros(truth.shape, bool)
    if tumor.all():  # a tumor filling the whole image has no contour in it
        return near
    # Distances to the nearest voxel of the other kind inside the array: the image's edge is not a contour.
    depth = np.where(tumor, ndimage.distance_transform_edt(tumor, sampling=spacing),
                     ndimage.distance_transform_edt(~tumor, sampling=spacing))
    near[box] = depth <= within_mm
    return near


@dataclass(frozen=True)
class ClickSession:
    """The interactive protocol on one case: Dice after each click (the first at the tumor's centre),
    the clicks given (LPS mm, True for a tumor point), the first and the last click's results, and after
    each click the wrong voxels and how many of them lie within ``CONTOUR_MM`` of the expert's contour."""

    dice_by_click: list[float]
    clicks: list[tuple[tuple[float, float, float], bool]]
    first: SegmentationResult
    last: SegmentationResult
    wrong_by_click: list[tuple[int, int]]

    def clicks_to(self, target: float = TARGET_DICE) -> int | None:
        """Clicks until the Dice first reaches ``target``; None when it never did."""
        return next((n for n, value in enumerate(self.dice_by_click, start=1) if value >= target), None)


def click_session(segmenter: Segmenter, case: LabeledCase, max_clicks: int = PROTOCOL_CLICKS) -> ClickSession:
    """The simulated user on ``case``: the central click, then corrective clicks up to ``max_clicks`` in all
    (also after the target is reached, for the curve of Dice against clicks). A model without a negative
    channel gets tumor points only. When the masks agree everywhere the user may click, the Dice stays as
    it is for the clicks left."""
    truth = case.mask.array > 0
    spacing = tuple(case.mask.spacing[::-1])  # the arrays' axes are k, j, i
    contour = near_contour(truth, spacing)

    def wrong(mask: np.ndarray) -> tuple[int, int]:
        errors = (mask > 0) != truth
        return int(errors.sum()), int((errors & contour).sum())

    seeds, negatives = [central_seed(case.mask)], []
    clicks = [(seeds[0], True)]
    result = first = segmenter.segment_roi(case.image, seed=seeds)
    dice_by_click, wrong_by_click = [dice(result.mask.array, truth)], [wrong(result.mask.array)]
    while len(dice_by_click) < max_clicks:
        within = None if result.shown is None else tuple(slice(a, b) for a, b in zip(result.shown[0][::-1], result.shown[1][::-1]))
        click = next_click(result.mask.array, truth, spacing, negatives=segmenter.spec.negative_channel, within=within)
        if click is None:
            wrong_by_click += [wrong_by_click[-1]] * (max_clicks - len(dice_by_click))
            dice_by_click += [dice_by_click[-1]] * (max_clicks - len(dice_by_click))
            break
        point = tuple(case.image.index_to_physical(np.asarray(click.index[::-1], float)))
        (seeds if click.positive else negatives).append(point)
        clicks.append((point, click.positive))
        # The mask this click corrects goes with it, as an interactive session keeps it (a model without
        # a previous-mask channel ignores it).
        result = segmenter.segment_roi(case.image, seed=seeds, negative=negatives or None, previous=result.mask)
        dice_by_click.append(dice(result.mask.array, truth))
        wrong_by_click.append(wrong(result.mask.array))
    return ClickSession(dice_by_click, clicks, first, result, wrong_by_click)


def validate_case(segmenter: Segmenter, case: LabeledCase, clicks: int = RANDOM_CLICKS,
                  protocol_clicks: int = PROTOCOL_CLICKS) -> tuple[dict, np.ndarray]:
    """One case's row (Dice from the central click, the random clicks and a drawn box; the central click's
    wrong voxels split into expert tumor missed and voxels added; whether its mask reaches the edge of
    what the network saw; the interactive protocol's Dice by click and clicks to Dice 0.85 unless
    ``protocol_clicks`` is 1; after each of its clicks the wrong voxels and those of them near the expert's
    contour) and the central click's mask. The mask must hold tumor."""
    truth = case.mask.array > 0
    if not truth.any():
        raise MaskError(f"Case {case.id}: the expert mask is empty, so there is no tumor to validate against.")
    session = click_session(segmenter, case, max(1, protocol_clicks))
    results = [segmenter.segment_roi(case.image, seed=seed) for seed in random_clicks(case.mask, clicks, seed=case.seed)]
    central = session.first.mask.array.astype(bool)
    row = {
        "id": case.id,
        "tumor_voxels": int(truth.sum()),
        "touches_border": _touches_border(truth),
        "dice_central_click": session.dice_by_click[0],
        "dice_random_clicks": [dice(result.mask.array, truth) for result in results],
        "missed_voxels": int((truth & ~central).sum()),
        "extra_voxels": int((central & ~truth).sum()),
        "reaches_edge_central_click": session.first.reaches_edge,
        "wrong_voxels_by_click": [count for count, _ in session.wrong_by_click],
        "wrong_near_contour_by_click": [near for _, near in session.wrong_by_click],
    }
    if protocol_clicks > 1:
        row["dice_by_click"] = session.dice_by_click
        row[f"clicks_to_{TARGET_DICE:g}"] = session.clicks_to()
        row["negative_clicks"] = sum(not positive for _, positive in session.clicks)
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
        "share_of_wrong_voxels_near_contour": near_contour_shares(rows),
    }
    random = [d for r in rows for d in r["dice_random_clicks"]]
    if random:  # none when the validation asked for none
        figures["dice_random_clicks"] = summary(random)
    if rows and "dice_box" in rows[0]:
        figures["dice_box"] = summary([r["dice_box"] for r in rows])
    if rows and "dice_by_click" in rows[0]:
        figures.update(protocol_summary(rows))
    return figures


def near_contour_shares(rows: list[dict]) -> dict:
    """Of all cases' wrong voxels after 1, 3 and 5 clicks (as far as the protocol went), the share within
    ``CONTOUR_MM`` of the expert's contour. The rows are one validation's: the same number of clicks each."""
    done = len(rows[0]["wrong_voxels_by_click"]) if rows else 0
    shares = {}
    for n in (n for n in REPORTED_CLICKS if n <= done):
        wrong = sum(r["wrong_voxels_by_click"][n - 1] for r in rows)
        shares[str(n)] = sum(r["wrong_near_contour_by_click"][n - 1] for r in rows) / max(1, wrong)
    return {"within_mm": CONTOUR_MM, "after_clicks": shares}


def protocol_summary(rows: list[dict]) -> dict:
    """The interactive protocol's figures: Dice after 1, 3 and 5 clicks, the mean Dice after every click
    (the curve), and NoC@85 (clicks to reach the target, the cap for a case that never did)."""
    curves = np.array([r["dice_by_click"] for r in rows])
    cap = curves.shape[1]
    reached = [r[f"clicks_to_{TARGET_DICE:g}"] for r in rows]
    return {
        "dice_after_clicks": {str(n): summary(curves[:, n - 1].tolist()) for n in REPORTED_CLICKS if n <= cap},
        "mean_dice_by_click": curves.mean(axis=0).tolist(),
        f"noc_{round(TARGET_DICE * 100)}": {**summary([cap if n is None else n for n in reached]), "cap": cap,
                                            "cases_never_reaching": sum(n is None for n in reached)},
    }


def _touches_border(mask: np.ndarray) -> bool:
    voxels = np.argwhere(mask)
    return bool((voxels.min(axis=0) == 0).any() or (voxels.max(axis=0) == np.array(mask.shape) - 1).any())
