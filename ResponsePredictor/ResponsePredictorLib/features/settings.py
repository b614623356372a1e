"""Parameter files: pyradiomics' YAML/JSON schema, our presets in ``Resources/Presets``, and what a
parameter mapping asks for once pyradiomics' defaults are applied (``parse_settings``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import SettingsError
from ..resources import resource_path
from .names import FEATURE_CLASSES, SHAPE_CLASSES, computed_features, image_type_names
from .param_schema import validated


# The preset used where none is named (the engine's first modality).
DEFAULT_PRESET = "ct"

# Who computes the features: our engine ("fast") or pyradiomics itself, where installed.
BACKENDS = ("fast", "pyradiomics")


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise SettingsError(f"Unknown feature backend {backend!r}; choose one of {', '.join(BACKENDS)}.")


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


# pyradiomics' RadiomicsFeatureExtractor._getDefaultSettings(): what a missing key means (the filters
# and classes hold their own defaults).
DEFAULT_SETTINGS: Mapping[str, Any] = MappingProxyType({
    "minimumROIDimensions": 2,
    "minimumROISize": None,
    "normalize": False,
    "normalizeScale": 1,
    "removeOutliers": None,
    "resampledPixelSpacing": None,
    "interpolator": "sitkBSpline",
    "preCrop": False,
    "padDistance": 5,
    "distances": [1],
    "force2D": False,
    "force2Ddimension": 0,
    "resegmentRange": None,
    "label": 1,
    "additionalInfo": True,
})


# What pyradiomics' voxel-based mode uses where voxelSetting is silent (base.py, featureextractor.py).
VOXEL_DEFAULTS = {"kernelRadius": 1, "maskedKernel": True, "initValue": 0, "voxelBatch": -1}


@dataclass(frozen=True)
class ExtractionSettings:
    """A validated pyradiomics parameter mapping, with pyradiomics' defaults applied as it applies them."""

    general: dict[str, Any]  # pyradiomics' extractor.settings: defaults, then 'setting', then 'voxelSetting'
    image_types: dict[str, dict[str, Any]]  # enabled image type -> its own settings, in the file's order
    # Class -> the features pyradiomics outputs, in its order; the classes in the file's order (pyradiomics
    # computes shape and shape2D first whatever that order, see feature_names).
    feature_classes: dict[str, list[str]]
    voxel: dict[str, Any]  # the voxel-based mode's settings, defaults filled in
    raw: Mapping[str, Any]  # the mapping as given, for models to store

    def image_type_settings(self, image_type: str) -> dict[str, Any]:
        """The settings pyradiomics passes the filter and the classes of an enabled image type."""
        return {**self.general, **self.image_types[image_type]}

    def feature_names(self) -> list[str]:
        """The names of the features pyradiomics outputs, in its order (diagnostics left out).

        This is the list for a 3D image on which every filter runs. pyradiomics computes shape2D only
        with force2D (and then on a mask one voxel thick along force2Ddimension: it fails on a thicker
        one); at run time it skips LoG sigmas too large for the image and LBP filters whose package is
        missing.
        """
        shape_classes = [cls for cls in SHAPE_CLASSES if cls in self.feature_classes
                         and (cls == "shape" or self.general.get("force2D", False))]
        names = [f"original_{cls}_{feature}" for cls in shape_classes for feature in self.feature_classes[cls]]
        for image_type in self.image_types:
            for image_name in image_type_names(image_type, self.image_type_settings(image_type)):
                names += [f"{image_name}_{cls}_{feature}" for cls, features in self.feature_classes.items()
                          if cls not in SHAPE_CLASSES for feature in features]
        return list(dict.fromkeys(names))


def parse_settings(raw: Mapping[str, Any]) -> ExtractionSettings:
    """Check a pyradiomics parameter mapping (as ``load_settings`` returns it) and apply pyradiomics' defaults.

    Raises SettingsError, naming each bad section and key, its value and what is allowed, where
    pyradiomics would refuse the mapping (see ``param_schema`` for the two small differences).
    """
    sections = validated(raw)
    general = {**copy.deepcopy(dict(DEFAULT_SETTINGS)), **sections.get("setting", {}), **sections.get("voxelSetting", {})}
    # An empty or missing section means what it means to pyradiomics: the original image only, every class.
    image_types = sections.get("imageType") or {"Original": {}}
    requested = sections.get("featureClass") or dict.fromkeys(FEATURE_CLASSES)
    return ExtractionSettings(
        general=general,
        image_types=image_types,
        feature_classes={cls: computed_features(cls, features) for cls, features in requested.items()},
        voxel={**VOXEL_DEFAULTS, **sections.get("voxelSetting", {})},
        raw=copy.deepcopy(dict(raw)),
    )
