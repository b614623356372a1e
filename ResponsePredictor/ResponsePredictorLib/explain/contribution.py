"""Contribution maps: the model's own explanation of a case, spread over the tumor.

For every voxel, the model's features are computed in a small kernel around it (``featuremaps``),
put in the model's table in place of the whole-tumor values, and passed through the model's own
preprocessing (imputation, standardisation with the training mean and scale) and its exact
per-feature contributions (``OutcomeModel.contributions``). The map is the sum of the mapped
features' contributions at each voxel:

- linear learners (``coxnet``, ``logistic``): coefficient x standardised local value, exactly the
  term the feature adds to the log hazard ratio or log-odds when the tumor looks like this kernel;
- tree learners (``lightgbm``, ``rsf``): the exact TreeSHAP contributions of the mapped features for
  the voxel's row (the other features at the case's values), so interactions are included.

Features over a kernel of 27 voxels do not have the range of whole-tumor features (texture over 27
voxels is coarser, extremes are fewer), so the raw kernel contributions would say "higher risk"
everywhere for one tumor and "lower" everywhere for the next, whatever the case's prediction. The map
is therefore anchored on the case: its mean over the tumor is the mapped features' contribution to
this case's score (from the whole-tumor features), and its variation around that mean is the
variation of the kernel contributions. Red and blue then agree with the prediction, and the parts of
the tumor that push it further one way or the other stand out.

Features without a map (shape, clinical covariates) are the same everywhere in the tumor: they are
left out of the map and their share is reported in the notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..features import FeatureExtractor
from ..predict import SavedModel
from ..timing import StageClock
from ..volume import Volume
from .grid import to_input_grid, tumor_mask
from .heatmap import Heatmap, display_range
from ..predict.table import is_radiomic
from ..features.columns import base_name, column_origin
from .model_inputs import NotExplainableError, covariate_values, model_inputs, model_settings, restricted_settings
from .scores import model_rows, score_units, towards

# Voxel rows passed through the model at a time: bounds the memory of the model's table.
CHUNK = 16384
LINEAR = {"coxnet", "logistic"}


def contribution_map(
    saved: SavedModel,
    image: Volume,
    mask: Volume,
    covariates: Mapping[str, Any] | None = None,
    *,
    radius: int = 1,
    device: str = "auto",
    backend: str = "fast",
    settings: Mapping[str, Any] | None = None,
    case_features: Mapping[str, float] | None = None,
    timings: dict[str, float] | None = None,
    scan: str | None = None,
) -> Heatmap:
    """The signed contribution map of ``saved`` for this case, on ``image``'s grid (0 outside the tumor).

    ``covariates``: the case's clinical values by column name (missing ones are imputed as in
    training). ``settings``: the pyradiomics settings of the model's features, for a model that does
    not record them. ``case_features``: the case's whole-tumor features when already extracted with
    those settings (the prediction needed them), so that they are not extracted again. ``timings``,
    when given, receives the seconds each stage took. ``scan``: for a multimodal model, the other scan
    that ``image`` and ``mask`` are (its features are mapped, with ``settings`` its settings; the rest
    of the model's inputs, other scans' included, are the case's values from ``case_features``).
    """
    clock = StageClock(timings)
    settings = model_settings(saved, settings)
    mask, label = tumor_mask(image, mask, settings)
    inputs = model_inputs(saved).on_scan(scan)
    refusal = inputs.why_no_contribution_map()
    if refusal is not None:
        raise NotExplainableError(refusal)
    if not inputs.mapped:
        raise NotExplainableError(f"The model maps no feature of the {scan or 'primary'} scan: its mapped features are "
                                  f"of the {', '.join(str(key or 'primary') for key, names in inputs.maps.items() if names)} scan(s).")
    clinical, notes = covariate_values(inputs, covariates)
    constant_radiomic = [name for name in inputs.constant if is_radiomic(name)]
    known = dict(case_features or {})
    missing = [name for name in constant_radiomic + inputs.mapped if name not in known]
    if missing:  # whole-tumor values: the case's own contributions anchor the map, and tree models read them
        if any(column_origin(name).scan != scan or column_origin(name).shell_mm or column_origin(name).deep
               for name in missing):
            raise NotExplainableError(f"Give the case's features of its other scans, shells and deep features (case_features): "
                                      f"{', '.join(missing[:5])} are missing.")
        extracted = FeatureExtractor(restricted_settings([base_name(n) for n in missing], settings)).extract(image, mask, label)
        known.update({name: extracted.features[base_name(name)] for name in missing})
    case = {**clinical, **{name: known[name] for name in constant_radiomic}}
    case_shares = saved.model.contributions(model_rows(saved, {**case, **{name: known[name] for name in inputs.mapped}}, 1))
    case_mapped = float(case_shares[inputs.mapped].to_numpy().sum())
    constant_shares = case_shares[inputs.constant].to_numpy().sum(axis=0)
    clock.lap("case features")

    from ..features import compute_feature_maps

    maps = compute_feature_maps(image, mask, [base_name(name) for name in inputs.mapped], settings, radius=radius,
                                label=label, device=device, backend=backend)
    clock.lap("feature maps")

    grid = maps[base_name(inputs.mapped[0])]
    stack = np.stack([maps[base_name(name)].array.ravel() for name in inputs.mapped], axis=1)
    voxels = np.flatnonzero(np.isfinite(stack).any(axis=1))
    local = np.full(grid.array.size, np.nan, np.float32)
    for start in range(0, len(voxels), CHUNK):
        rows = voxels[start:start + CHUNK]
        # A NaN inside the tumor (a kernel where a feature is undefined) stays empty: the model imputes it.
        values = {**case, **dict(zip(inputs.mapped, stack[rows].T))}
        shares = saved.model.contributions(model_rows(saved, values, len(rows)))
        local[rows] = shares[inputs.mapped].to_numpy().sum(axis=1)
    local[voxels] += case_mapped - local[voxels].mean()  # anchored on the case (see the module's docstring)
    clock.lap("model contributions")

    tumor = mask.array == label
    values, unreached = to_input_grid(grid.with_array(local.reshape(grid.shape)), image, tumor)
    clock.lap("to input grid")

    units = score_units(saved)
    notes += _constant_notes(inputs.constant, constant_shares, units)
    if unreached:
        notes.append(f"{unreached} tumor voxel(s) at the border lie outside every kernel of the feature grid: left at 0.")
    linear = saved.model.learner in LINEAR
    method = ("coefficient x standardised local feature value (exact for this linear model)" if linear else
              "exact TreeSHAP contributions of the local feature values, other features at the case's values")
    notes.append(
        f"{len(inputs.mapped)} mapped feature(s): {', '.join(inputs.mapped)}. Kernel {2 * radius + 1}^3 voxels on the "
        f"features' grid ({_spacing(grid)} mm), feature-map backend {backend}."
    )
    notes.append(
        f"The map's mean over the tumor is the mapped features' contribution to this case's score ({case_mapped:+.3g}); "
        f"the variation around it is that of the {(2 * radius + 1) ** 3}-voxel kernels' contributions, whose own level "
        "differs from whole-tumor values."
    )
    return Heatmap(
        volume=image.with_array(values),
        colormap="signed",
        method="contribution",
        description=(
            f"Contribution of each voxel's neighbourhood to the model's {units}: red (positive) pushes the prediction "
            f"towards {towards(saved)}, blue (negative) against. Method: {method}."
        ),
        value_range=display_range(values[tumor], "signed"),
        notes=notes,
        units=units,
    )


def _constant_notes(names: list[str], shares: np.ndarray, units: str) -> list[str]:
    if not names:
        return []
    order = np.argsort(-np.abs(shares), kind="stable")
    listed = ", ".join(f"{names[i]} {shares[i]:+.3g}" for i in order)
    return [f"Not in the map (one value for the whole tumor): {listed}; together {shares.sum():+.3g} ({units})."]


def _spacing(volume: Volume) -> str:
    return "x".join(f"{s:g}" for s in volume.spacing)
