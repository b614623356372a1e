"""Occlusion sensitivity of a radiomics model: how its prediction changes when a block of the tumor is
left out of the mask.

Model-agnostic: the features are recomputed by pyradiomics from the smaller mask (only the classes,
features and image types the model uses, so each block costs a fraction of a full extraction) and
the model predicts again. A block's value is the full tumor's decision value minus the value without
the block: positive where the block pushes the prediction towards the outcome. Shape features
change with the mask too, so their effect is part of the answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import MaskError
from ..features import FeatureExtractor
from ..predict import SavedModel
from ..volume import Volume, nonzero_box
from .grid import tumor_mask
from .heatmap import Heatmap, display_range
from .model_inputs import NotExplainableError, covariate_values, model_inputs, model_settings, restricted_settings
from .scores import model_rows, score_units, towards


def occlusion_map(
    saved: SavedModel,
    image: Volume,
    mask: Volume,
    covariates: Mapping[str, Any] | None = None,
    *,
    blocks: int = 3,
    settings: Mapping[str, Any] | None = None,
) -> Heatmap:
    """The change in the model's decision value when each block of a ``blocks``^3 grid over the tumor's
    bounding box is removed from the mask (signed map on the input grid, 0 outside the tumor)."""
    if blocks < 1:
        raise NotExplainableError(f"The occlusion grid needs at least 1 block per axis; got {blocks}.")
    settings = model_settings(saved, settings)
    mask, label = tumor_mask(image, mask, settings)
    inputs = model_inputs(saved)
    if inputs.extended:
        raise NotExplainableError("The occlusion heatmap explains models of one scan's radiomic features; this model also "
                                  "reads other scans, peritumoral shells or deep features: use the contribution heatmap.")
    if not inputs.radiomic:
        raise NotExplainableError("The model uses no radiomic feature: removing part of the tumor cannot change its prediction.")
    extractor = FeatureExtractor(restricted_settings(inputs.radiomic, settings))
    clinical, notes = covariate_values(inputs, covariates)

    def score(region: np.ndarray) -> float:
        features = extractor.extract(image, mask.with_array(region.astype(np.uint8)), 1).features
        return float(saved.model.decision_function(model_rows(saved, {**features, **clinical}, 1))[0])

    tumor = mask.array == label
    full = score(tumor)
    values = np.zeros(tumor.shape, np.float32)
    skipped = 0
    for block in _blocks(tumor, blocks):
        removed = np.zeros_like(tumor)
        removed[block] = tumor[block]
        if not removed.any():
            continue
        try:
            values[removed] = full - score(tumor & ~removed)
        except MaskError:  # what is left is too small for the features (a block holding most of the tumor)
            skipped += 1
    units = score_units(saved)
    if skipped:
        notes.append(f"{skipped} block(s) left at 0: the tumor without them is too small for its features.")
    notes.append(f"Decision value of the whole tumor: {full:+.4g} ({units}).")
    return Heatmap(
        volume=image.with_array(values),
        colormap="signed",
        method="occlusion",
        description=(
            f"Occlusion sensitivity on a {blocks}x{blocks}x{blocks} grid of blocks over the tumor: the change in the "
            f"model's {units} when the block is removed from the mask and the features are recomputed. Positive "
            f"(red): the block pushes the prediction towards {towards(saved)}; negative (blue): against."
        ),
        value_range=display_range(values[tumor], "signed"),
        notes=notes,
        units=f"{units} change",
    )


def _blocks(region: np.ndarray, per_axis: int) -> list[tuple[slice, ...]]:
    """A ``per_axis``^3 grid of boxes covering ``region``'s bounding box (fewer along thin axes)."""
    box = nonzero_box(region)
    edges = []
    for axis in box:  # type: ignore[union-attr]
        cuts = np.unique(np.linspace(axis.start, axis.stop, min(per_axis, axis.stop - axis.start) + 1).round().astype(int))
        edges.append([slice(a, b) for a, b in zip(cuts[:-1], cuts[1:])])
    return list(itertools.product(*edges))
