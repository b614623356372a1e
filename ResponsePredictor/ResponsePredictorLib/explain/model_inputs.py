"""What a saved model reads, split the way a heatmap needs it.

A model's table holds radiomic features and clinical covariates. Only the columns the fitted model
actually uses matter (a coefficient that is not 0, a feature some tree splits on). Of those, the
radiomic features of a class with a voxel-wise map can vary over the tumor; shape features and
covariates are one number per case. A multimodal model's tumor features of each scan are mapped over
that scan (``ModelInputs.on_scan``); its peritumoral features are one number per case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import InputError
from ..features.columns import column_origin
from ..predict import SavedModel
from ..features.names import RADIOMIC_NAME
from ..predict.table import is_radiomic



class NotExplainableError(InputError):
    """A model, or a model and case, that a heatmap method cannot explain."""


@dataclass(frozen=True)
class ModelInputs:
    """The model's input columns that change its prediction, in table order, as seen from one scan."""

    used: list[str]  # every column with an effect on the prediction
    # Per scan (None: the primary), the used tumor features of that scan with a voxel-wise map.
    maps: dict[str | None, list[str]]
    batch: str | None = None  # the centre column of a model harmonised by ComBat: every row needs it
    scan: str | None = None  # the scan a heatmap is made over (None: the primary)

    @property
    def mapped(self) -> list[str]:
        """The features mapped over this scan."""
        return self.maps.get(self.scan, [])

    @property
    def constant(self) -> list[str]:
        """Used columns that are one number per case here (shape, covariates, shells, other scans' features)."""
        return [name for name in self.used if name not in self.mapped]

    @property
    def extended(self) -> bool:
        """Whether the model reads another scan's, a shell's or deep features (beyond the primary tumor's radiomics)."""
        return any(column_origin(name).scan or column_origin(name).shell_mm or column_origin(name).deep
                   for name in self.radiomic)

    def on_scan(self, scan: str | None) -> ModelInputs:
        return replace(self, scan=scan)

    @property
    def radiomic(self) -> list[str]:
        """The image features used: radiomic and deep."""
        return [name for name in self.used if is_radiomic(name)]

    @property
    def covariates(self) -> list[str]:
        return [name for name in self.used if not is_radiomic(name)]

    @property
    def deep(self) -> list[str]:
        return [name for name in self.used if column_origin(name).deep]

    @property
    def deep_map(self) -> bool:
        """Whether the primary scan's map is the deep features' (the model maps no radiomic feature of it)."""
        return bool(self.deep) and not self.maps.get(None)

    def why_no_contribution_map(self) -> str | None:
        """Why no contribution map can show this model over any scan (every input is one number per tumor), or None."""
        if any(self.maps.values()) or self.deep:  # over one scan or another, or the deep features' map
            return None
        return (f"No contribution heatmap: the model's inputs ({', '.join(self.used) or 'none'}) are one number per "
                "tumor, with no voxel-wise map (shape features and clinical covariates). The occlusion heatmap "
                "(heatmap 'occlusion') shows how hiding parts of the tumor changes the prediction.")


def model_inputs(saved: SavedModel) -> ModelInputs:
    from ..features import mappable

    pipeline = saved.model.pipeline_
    encoder = pipeline.encoder
    kept = pipeline.head.filter.kept_[used_kept_columns(pipeline.head.learner)]
    used_sources = set(encoder.sources_[kept].tolist())
    used = [column for index, column in enumerate(encoder.columns_) if index in used_sources]
    maps: dict[str | None, list[str]] = {}
    for name in used:
        origin = column_origin(name)
        if origin.radiomic and origin.shell_mm is None and mappable(origin.base):
            maps.setdefault(origin.scan, []).append(name)
    return ModelInputs(used, maps, saved.model.batch)


def used_kept_columns(learner: Any) -> np.ndarray:
    """Indices (into the filter's kept columns) that the fitted learner reads."""
    if hasattr(learner, "linear_"):  # the ensemble: what either member reads
        return np.union1d(used_kept_columns(learner.linear_), used_kept_columns(learner.trees_))
    if hasattr(learner, "coef_"):  # logistic, coxnet
        return np.flatnonzero(np.asarray(learner.coef_) != 0)
    if hasattr(learner, "booster_"):  # LightGBM
        return np.flatnonzero(learner.booster_.feature_importance(importance_type="split") > 0)
    if hasattr(learner, "forest_"):  # random survival forest
        return np.unique(learner.forest_.feature[learner.forest_.feature >= 0])
    raise NotExplainableError(f"Heatmaps do not know the learner {type(learner).__name__}.")


def model_settings(saved: SavedModel, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The pyradiomics settings of the model's features: ``settings`` when given, else the model's own."""
    if settings is not None:
        return dict(settings)
    if saved.feature_settings is None:
        raise NotExplainableError(
            f"The model in {saved.directory} does not record the pyradiomics settings of its features (it was "
            "trained on a table computed elsewhere). Give the settings it was trained with (--preset or --params)."
        )
    return dict(saved.feature_settings)


def restricted_settings(names: list[str], settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` computing only ``names``: only their classes, features and image types.

    Image types are matched by the prefix pyradiomics gives their features; a type this function
    cannot match is kept (it costs time, never correctness).
    """
    wanted: dict[str, list[str]] = {}
    prefixes = set()
    for name in names:
        match = RADIOMIC_NAME.match(name)
        if match is None:
            raise ValueError(f"{name!r} is not a pyradiomics feature name")
        wanted.setdefault(match["cls"], []).append(match["feature"])
        prefixes.add(match["image"].lower())
    image_types: dict[str, Any] = {}
    for image_type, options in dict(settings.get("imageType") or {}).items():
        options = dict(options or {})
        if image_type == "LoG":
            sigmas = [s for s in options.get("sigma", []) if f"log-sigma-{str(float(s)).replace('.', '-')}-mm-3d" in prefixes]
            if sigmas:
                image_types[image_type] = {**options, "sigma": sigmas}
        elif any(prefix.startswith(image_type.lower()) for prefix in prefixes) or image_type.lower() not in _KNOWN_TYPES:
            image_types[image_type] = options
    return {**dict(settings), "imageType": image_types, "featureClass": {cls: sorted(set(f)) for cls, f in wanted.items()}}


# Image types whose feature prefix starts with their lower-cased name.
_KNOWN_TYPES = {"original", "wavelet", "square", "squareroot", "logarithm", "exponential", "gradient"}


def covariate_values(inputs: ModelInputs, covariates: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """The model's covariates from ``covariates`` (missing ones as NaN: the model imputes them) and notes."""
    covariates = dict(covariates or {})
    values = {name: covariates.get(name, np.nan) for name in inputs.covariates}
    if inputs.batch is not None:
        if inputs.batch not in covariates:
            raise NotExplainableError(f"The model harmonises the features across centres: give the case's centre "
                                      f"('{inputs.batch}') with its covariates.")
        values[inputs.batch] = covariates[inputs.batch]
    notes = []
    missing = [name for name in inputs.covariates if name not in covariates]
    if missing:
        notes.append(f"Covariates not given, replaced by the model's training median or no category: {', '.join(missing)}.")
    unused = sorted(set(covariates) - set(inputs.used) - {inputs.batch})
    if unused:
        notes.append(f"Given but not used by the model: {', '.join(unused)}.")
    return values, notes
