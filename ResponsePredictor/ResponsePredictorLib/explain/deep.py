"""Where in the tumor a model's deep features push its prediction: occlusion through the pooling.

The deep features are the feature layers' averages over the tumor (``embedding``). Leaving one block of
the tumor out of those averages (the network still sees the whole scan) changes the features, and the
model's decision value by the block's share: the map gives each block's ``full - without it``. Blocks
are the voxels of the coarsest feature layer (8 mm for the shipped U-Net), whose grid the finer layers'
grids subdivide, so every block's sums at every layer are one reshape away and all blocks are scored
in one pass through the model. Red pushes the prediction towards the outcome, blue against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..features.columns import column_origin
from ..predict import SavedModel
from ..volume import Volume
from .heatmap import Heatmap, display_range
from .model_inputs import NotExplainableError, covariate_values, model_inputs
from .scores import model_rows, score_units, towards


def deep_feature_map(saved: SavedModel, extractor: Any, image: Volume, mask: Volume,
                     case_features: Mapping[str, float], covariates: Mapping[str, Any] | None = None, *,
                     view: Any = None) -> Heatmap:
    """The occlusion map of ``saved``'s deep features over the tumor of ``mask``, on ``image``'s grid.

    ``extractor``: the ``embedding.DeepFeatureExtractor`` of the model's deep features; ``case_features``:
    the case's other features (the model's other inputs keep the case's values); ``view``: the case's
    ``DeepView`` when its features were just computed (the network is not run again).
    """
    inputs = model_inputs(saved)
    deep = [name for name in inputs.used if column_origin(name).deep]
    if not deep:
        raise NotExplainableError("The model uses no deep feature: a deep-feature heatmap has nothing to show.")
    clinical, notes = covariate_values(inputs, covariates)
    view = view if view is not None else extractor.view(image, mask)
    tumor = view.shown.mask_on_input(mask.with_array((np.asarray(mask.array) > 0).astype(np.uint8)))
    coarse = _coarse_grid(view, tumor.shape)
    blocks, block_of = _blocks(coarse, tumor)
    if not blocks:
        raise NotExplainableError("The tumor lies outside what the network is shown: no deep-feature map.")
    columns = [int(name[len("deep_"):]) for name in deep]
    full = view.pooled()
    without = _pooled_without_each_block(view, coarse, blocks)  # (features, blocks)
    values = {**dict(case_features), **clinical}
    whole = float(saved.model.decision_function(model_rows(saved, {**values, **dict(zip(deep, full[columns]))}, 1))[0])
    parts = {**values, **{name: without[column] for name, column in zip(deep, columns)}}
    decisions = saved.model.decision_function(model_rows(saved, parts, len(blocks)))
    change = torch.zeros(block_of.max() + 2, dtype=torch.float32)
    change[torch.as_tensor(blocks) + 1] = torch.as_tensor(whole - decisions, dtype=torch.float32)
    on_input = torch.where(tumor, change[block_of + 1], 0.0)
    volume = view.shown.to_scan(on_input, image)
    inside = np.asarray(mask.array) > 0
    array = np.where(inside, volume.array, 0.0).astype(np.float32)
    units = score_units(saved)
    size = "x".join(f"{edge / c * s:g}" for edge, c, s in zip(tumor.shape, coarse, extractor.model.spec.spacing))
    notes.append(f"{len(blocks)} blocks of {size} mm (the coarsest feature layer's voxels); the {len(deep)} deep "
                 f"feature(s) the model uses; decision value of the whole tumor {whole:+.4g} ({units}).")
    if view.tumor_outside > 0.01:
        notes.append(f"{100 * view.tumor_outside:.0f}% of the tumor lies outside what the network is shown: left at 0.")
    return Heatmap(
        volume=image.with_array(array), colormap="signed", method="deep occlusion",
        description=(f"Each block of the tumor left out of the deep features' averages (the network still sees the "
                     f"whole scan): the change in the model's {units}. Red: the block pushes the prediction towards "
                     f"{towards(saved)}; blue: against."),
        value_range=display_range(array[inside], "signed"), notes=notes, units=units,
    )


def _coarse_grid(view: Any, input_shape: Sequence[int]) -> tuple[int, ...]:
    """The coarsest feature layer's grid, which every layer's grid and the input's must subdivide."""
    coarse = min((tuple(layer.shape[1:]) for layer in view.layers), key=lambda shape: int(np.prod(shape)))
    for shape in [tuple(input_shape), *(tuple(layer.shape[1:]) for layer in view.layers)]:
        if any(size % c for size, c in zip(shape, coarse)):
            raise NotExplainableError(f"The feature layers' grids do not subdivide one another ({shape} by {coarse}): "
                                      "no deep-feature map.")
    return coarse


def _blocks(coarse: Sequence[int], tumor: torch.Tensor) -> tuple[list[int], torch.Tensor]:
    """The coarse grid's voxels the tumor touches (flat indices) and each input voxel's block (-1 beyond)."""
    factors = [size // c for size, c in zip(tumor.shape, coarse)]
    index = torch.stack(torch.meshgrid(*[torch.arange(size) // f for size, f in zip(tumor.shape, factors)],
                                       indexing="ij"))
    block_of = (index[0] * coarse[1] + index[1]) * coarse[2] + index[2]
    touched = torch.unique(block_of[tumor]).tolist()
    return touched, torch.where(tumor, block_of, -1)


def _pooled_without_each_block(view: Any, coarse: Sequence[int], blocks: list[int]) -> np.ndarray:
    """The embedding with each block left out, (features, blocks): every layer's weighted sums per block
    by reshaping it onto the coarsest grid, then (sum - block's sum) / (weight - block's weight)."""
    parts = []
    for layer, weight in zip(view.layers, view.weights):
        steps = [size // c for size, c in zip(weight.shape, coarse)]
        split = (coarse[0], steps[0], coarse[1], steps[1], coarse[2], steps[2])
        weighted = (layer * weight).reshape(layer.shape[0], *split).sum(dim=(2, 4, 6)).reshape(layer.shape[0], -1)
        share = weight.reshape(*split).sum(dim=(1, 3, 5)).reshape(-1)
        chosen = torch.as_tensor(blocks)
        numerator = weighted.sum(1, keepdim=True) - weighted[:, chosen]
        denominator = share.sum() - share[chosen]
        parts.append(torch.where(denominator > 0, numerator / denominator.clamp(min=1e-12), torch.nan))
    return torch.cat(parts).double().cpu().numpy()

