"""Radiomic features through pyradiomics, driven by parameter-file presets.

The settings are pyradiomics' own: a preset is a pyradiomics parameter file in
``Resources/Presets`` and any other parameter file can be given instead, so a result computed
here is the result pyradiomics gives for the same file. Feature names stay pyradiomics' names
(``original_firstorder_Mean``); its ``diagnostics_*`` entries are kept apart from the features.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ImageContentError, MaskError, SettingsError
from .resources import resource_path
from .volume import Volume, as_label_map, conform_mask, nonzero_box

DIAGNOSTICS_PREFIX = "diagnostics_"


def presets_dir() -> Path:
    return resource_path("Presets")


def available_presets() -> list[str]:
    return sorted(path.stem for path in presets_dir().glob("*.yaml"))


def load_settings(preset: str | None = None, params: str | Path | None = None) -> dict[str, Any]:
    """The pyradiomics parameters of a named preset or of a parameter file (YAML or JSON)."""
    if (preset is None) == (params is None):
        raise SettingsError("Give either a preset name or a parameter file, not both and not neither.")
    if preset is not None:
        path = presets_dir() / f"{preset}.yaml"
        if not path.is_file():
            raise SettingsError(f"Unknown preset {preset!r}; available: {', '.join(available_presets())}.")
    else:
        path = Path(params)  # type: ignore[arg-type]
        if not path.is_file():
            raise SettingsError(f"Parameter file not found: {path}.")
    import yaml  # here, not at the top: Slicer lists presets before its first-use install of PyYAML

    try:
        # YAML is a superset of JSON, so one loader reads both kinds of pyradiomics parameter file.
        settings = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path} is not a valid YAML or JSON parameter file: {error}") from None
    if not isinstance(settings, dict):
        raise SettingsError(f"{path} must hold a mapping (imageType, featureClass, setting).")
    return settings


@dataclass(frozen=True)
class FeatureResult:
    """Features of one label of one case."""

    label: int
    features: dict[str, float]
    diagnostics: dict[str, Any] = field(default_factory=dict)


def mask_labels(mask: Volume) -> list[int]:
    """Labels present in a label map, background (0) excluded."""
    array = as_label_map(mask).array
    box = nonzero_box(array)
    if box is None:
        return []
    # Counting within the labels' bounding box only: a tumor fills a small part of a CT.
    return [int(label) for label in np.flatnonzero(np.bincount(array[box].ravel())) if label != 0]


def _drop_sum_average_notice(record: logging.LogRecord) -> bool:
    # pyradiomics warns on every case that Sum Average = 2 x Joint Average for a symmetrical GLCM.
    # That is a property of the feature, not of the user's data, so it is kept out of their console.
    return not record.getMessage().startswith("GLCM is symmetrical, therefore Sum Average")


logging.getLogger("radiomics.glcm").addFilter(_drop_sum_average_notice)


class FeatureExtractor:
    """A configured pyradiomics extractor that checks its input before handing it over.

    Build it once per settings and reuse it over cases: pyradiomics validates the settings when
    it is built.
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        from radiomics.featureextractor import RadiomicsFeatureExtractor

        self.settings = dict(settings)
        try:
            self._extractor = RadiomicsFeatureExtractor(dict(self.settings))
        except Exception as error:  # pykwalify's SchemaError and pyradiomics' own checks
            raise SettingsError(f"pyradiomics rejected the settings: {error}") from None

    @classmethod
    def from_preset(cls, name: str) -> FeatureExtractor:
        return cls(load_settings(preset=name))

    @classmethod
    def from_file(cls, path: str | Path) -> FeatureExtractor:
        return cls(load_settings(params=path))

    def extract(self, image: Volume, mask: Volume, label: int | None = None) -> FeatureResult:
        """Features of ``label`` (the mask's only label when ``None``)."""
        mask, label = checked_region(image, mask, self.settings, label)
        try:
            values = self._extractor.execute(image.to_sitk(), mask.to_sitk(), label=label)
        except ValueError as error:  # pyradiomics' mask checks (e.g. too few voxels after resampling)
            raise MaskError(f"pyradiomics cannot use label {label} of this mask: {error}") from None
        features, diagnostics = {}, {}
        for name, value in values.items():
            if name.startswith(DIAGNOSTICS_PREFIX):
                diagnostics[name] = value
            else:
                features[name] = float(value)
        return FeatureResult(label=label, features=features, diagnostics=diagnostics)

    def extract_labels(self, image: Volume, mask: Volume, labels: list[int] | None = None) -> list[FeatureResult]:
        """Features of several labels of one mask (all present labels when ``labels`` is None)."""
        mask = _on_image_grid(image, mask, self.settings)
        return [self.extract(image, mask, label) for label in (labels or mask_labels(mask))]


def checked_region(image: Volume, mask: Volume, settings: Mapping[str, Any], label: int | None = None) -> tuple[Volume, int]:
    """The mask on the image's grid and the label to use, refusing what pyradiomics could not use.

    Empty masks, absent or ambiguous labels, regions too thin for ``minimumROIDimensions`` and
    images with NaN voxels each get their own clear error.
    """
    mask = _on_image_grid(image, mask, settings)
    label = _choose_label(mask, label)
    _check_roi(mask, label, int((settings.get("setting") or {}).get("minimumROIDimensions", 2)))
    _check_finite(image)
    return mask, label


def _on_image_grid(image: Volume, mask: Volume, settings: Mapping[str, Any]) -> Volume:
    # pyradiomics' own correctMask setting asks for a mask on another grid to be resampled onto
    # the image's (nearest neighbour); without it such a mask is an error, as in pyradiomics.
    resample = bool((settings.get("setting") or {}).get("correctMask", False))
    return conform_mask(mask, image, resample=resample, source="The mask")


def _choose_label(mask: Volume, label: int | None) -> int:
    present = mask_labels(mask)
    if not present:
        raise MaskError("The mask is empty: it has no voxel with a label above 0. Segment the tumor first.")
    if label is None:
        if len(present) > 1:
            raise MaskError(
                f"The mask holds several labels ({', '.join(map(str, present))}); choose one (--label N) or "
                "extract all of them (--all-labels)."
            )
        return present[0]
    if label not in present:
        raise MaskError(f"Label {label} is not in the mask; labels present: {', '.join(map(str, present))}.")
    return label


def _check_roi(mask: Volume, label: int, min_dimensions: int) -> None:
    box = nonzero_box(mask.array)  # not None: the label was found present
    region = np.argwhere(mask.array[box] == label)
    if len(region) == 1:
        raise MaskError(
            f"Label {label} covers a single voxel: shape and texture features need a region of several voxels."
        )
    extent = int(np.sum(region.max(axis=0) > region.min(axis=0)))
    if extent < min_dimensions:
        raise MaskError(
            f"Label {label} spans only {extent} dimension(s) ({len(region)} voxels); the settings need a region "
            f"extending in at least {min_dimensions} (minimumROIDimensions)."
        )


def _check_finite(image: Volume) -> None:
    if image.array.dtype.kind != "f":
        return
    bad = int(np.count_nonzero(~np.isfinite(image.array)))
    if bad:
        raise ImageContentError(
            f"The image has {bad} voxels that are NaN or infinite; fill or crop them before extracting features."
        )


def extract_features(
    image: Volume,
    mask: Volume,
    *,
    preset: str | None = "ct",
    params: str | Path | None = None,
    label: int | None = None,
) -> FeatureResult:
    """One-call extraction for the console: features of one label with a preset or parameter file."""
    extractor = FeatureExtractor(load_settings(preset=None if params else preset, params=params))
    return extractor.extract(image, mask, label)
