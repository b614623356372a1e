"""What a case's feature table is computed from when it has several scans, peritumoral shells or deep
features.

The primary scan's settings are the single-scan settings (a preset, a parameter file or the model's
own). Each other scan gets the preset of its modality, read from its name (``PET``, ``CT``, ``MR_T1``:
see ``MODALITY_WORDS``) unless the user gives settings for that name; the DICOM Modality of the
series is checked against it. Shells take the settings of their scan without the shape classes (the
shape of a shell is the tumor's shape grown by the distance: nothing of its own). Deep features are
named by their source (``embedding.DeepFeatureExtractor.source``: the model, its weights, its layers).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import SettingsError
from .columns import check_scan_name
from .names import FEATURE_CLASSES, SHAPE_CLASSES

# Words of a scan's name that say its modality, and the preset each modality takes.
MODALITY_WORDS = {
    "pet": ("PET", "PT", "FDG", "SUV"),
    "ct": ("CT", "CECT", "CBCT"),
    "mr": ("MR", "MRI", "T1", "T1W", "T1C", "T1CE", "T2", "T2W", "FLAIR", "DWI", "ADC", "DCE", "PD"),
}
# The DICOM Modality (0008,0060) of each preset's scans.
DICOM_MODALITY = {"pet": "PT", "ct": "CT", "mr": "MR"}


@dataclass(frozen=True)
class FeatureRecipe:
    """The settings of every scan of a case and the peritumoral shells.

    ``scans``: settings given for other scans by name (the rest by their modality, ``scan_settings``).
    ``peritumoral_mm``: shell distances. ``body``: a CT's shells limited to the body.
    ``primary_modality``: the primary scan's preset name (ct, pet, mr) when known, for the body limit
    and the check against its DICOM Modality. ``deep``: the source of the primary tumor's deep features.
    ``modalities``: the preset name of scans given a preset (their modality, whatever their name says).
    """

    primary: dict[str, Any]
    scans: dict[str, dict[str, Any]] = field(default_factory=dict)
    peritumoral_mm: tuple[float, ...] = ()
    body: bool = False
    primary_modality: str | None = None
    deep: dict[str, Any] | None = None
    modalities: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.scans:
            check_scan_name(name)
        object.__setattr__(self, "peritumoral_mm", checked_distances(self.peritumoral_mm))
        if self.primary_modality is not None and self.primary_modality not in DICOM_MODALITY:
            object.__setattr__(self, "primary_modality", None)  # a preset of no one modality (e.g. ibsi)
        if self.body and not self.peritumoral_mm:
            raise SettingsError("Limiting shells to the body needs peritumoral distances (--peritumoral MM).")

    @property
    def extended(self) -> bool:
        """Whether anything beyond the primary scan's radiomic tumor features is asked for (explicitly: other
        scans of a case count whatever the recipe says)."""
        return bool(self.scans or self.peritumoral_mm or self.deep)

    def modality(self, name: str | None) -> str | None:
        """The preset name of a scan's modality (None: the primary's, when known), or None when unknown."""
        if name is None:
            return self.primary_modality
        if name in self.modalities:
            return self.modalities[name]
        try:
            return modality_preset(name)
        except SettingsError:
            return None  # a scan with settings of its own and a name that says no modality

    def scan_settings(self, name: str) -> dict[str, Any]:
        """The settings of scan ``name``: given for it, or its modality's preset."""
        if name in self.scans:
            return dict(self.scans[name])
        from .settings import load_settings

        return load_settings(preset=modality_preset(name))

    def with_scans(self, names: Iterable[str]) -> FeatureRecipe:
        """This recipe with every scan of ``names`` given its settings (fixed, as a model records them)."""
        resolved = {name: self.scan_settings(name) for name in names}
        named = {name: modality for name in names if (modality := self.modality(name)) is not None}
        return FeatureRecipe(self.primary, {**self.scans, **resolved}, self.peritumoral_mm, self.body,
                             self.primary_modality, self.deep, {**named, **self.modalities})

    def to_dict(self) -> dict[str, Any]:
        """Everything but the primary's settings (recorded on their own, as for a single scan)."""
        return {"scans": self.scans, "peritumoral_mm": list(self.peritumoral_mm), "body": self.body,
                "primary_modality": self.primary_modality, **({"deep": self.deep} if self.deep else {}),
                **({"modalities": self.modalities} if self.modalities else {})}

    @classmethod
    def from_dict(cls, primary: Mapping[str, Any], record: Mapping[str, Any] | None) -> FeatureRecipe:
        record = dict(record or {})
        scans = record.get("scans") or {}
        if not isinstance(scans, dict) or not all(isinstance(value, dict) for value in scans.values()):
            raise SettingsError("A feature recipe's 'scans' must map scan names to pyradiomics settings.")
        return cls(dict(primary), dict(scans), tuple(record.get("peritumoral_mm") or ()), bool(record.get("body")),
                   record.get("primary_modality"), record.get("deep"), dict(record.get("modalities") or {}))


def named_settings(presets: Iterable[tuple[str, str]], params: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Settings given for other scans as (name, preset) and (name, parameter file) pairs: each name's preset
    name, or its parameter file's settings (what ``given_scans`` takes)."""
    from .settings import load_settings

    return {**dict(presets), **{name: load_settings(params=path) for name, path in params}}


def given_scans(given: Mapping[str, Mapping[str, Any] | str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Settings given for other scans by name, each a preset name or pyradiomics settings: their settings,
    and the modality of those given a modality's preset."""
    from .settings import load_settings

    settings = {name: load_settings(preset=value) if isinstance(value, str) else dict(value) for name, value in given.items()}
    modalities = {name: value for name, value in given.items() if isinstance(value, str) and value in DICOM_MODALITY}
    return settings, modalities


def modality_preset(name: str) -> str:
    """The preset of a scan by the modality its name says (``PET_AC`` -> pet, ``MR_T1`` -> mr)."""
    words = {word.upper() for word in name.split("_")}
    found = sorted(preset for preset, names in MODALITY_WORDS.items() if words & set(names))
    if len(found) != 1:
        said = "names no modality" if not found else f"names several modalities ({', '.join(found)})"
        raise SettingsError(
            f"Scan {name!r} {said}: name it after its modality (PET, CT, MR_T1, ...) or give its feature settings "
            f"(--scan-preset {name}=pet|ct|mr or --scan-params {name}=FILE)."
        )
    return found[0]


def checked_distances(values: Iterable[Any]) -> tuple[float, ...]:
    distances = []
    for value in values:
        try:
            distance = float(value)
        except (TypeError, ValueError):
            distance = math.nan
        if not (math.isfinite(distance) and distance > 0):
            raise SettingsError(f"Peritumoral distances are positive millimetres; got {value!r}.")
        distances.append(distance)
    if len(set(distances)) != len(distances):
        raise SettingsError(f"Peritumoral distances are listed twice: {list(values)}.")
    return tuple(sorted(distances))


def without_shape(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` without the shape classes: what a shell's features are computed with."""
    classes = dict(settings.get("featureClass") or {})
    if not classes:  # pyradiomics: no featureClass means every class, shape included
        classes = {name: None for name in FEATURE_CLASSES}
    kept = {name: value for name, value in classes.items() if name not in SHAPE_CLASSES}
    if not kept:
        raise SettingsError("The settings compute shape features only: a peritumoral shell has none of its own.")
    return {**dict(settings), "featureClass": kept}


def table_recipe(columns: Iterable[str], primary: Mapping[str, Any], given: Mapping[str, Mapping[str, Any] | str],
                 body: bool = False, primary_modality: str | None = None,
                 deep: dict[str, Any] | None = None) -> FeatureRecipe | None:
    """The recipe a feature table was computed with, read from its columns' scan and shell prefixes (each
    scan's settings: ``given`` for it, a preset name or settings, else its modality's preset) and its deep
    columns (whose source is ``deep``); None for a table of one scan's radiomic tumor features."""
    from .columns import column_origin

    columns = list(columns)
    origins = [origin for origin in map(column_origin, columns) if origin.radiomic]
    scans = list(dict.fromkeys(origin.scan for origin in origins if origin.scan))
    shells = sorted({origin.shell_mm for origin in origins if origin.shell_mm is not None})
    unused = sorted(set(given) - set(scans))
    if unused:
        raise SettingsError(f"Settings are given for scan(s) the table has no columns of: {', '.join(unused)}.")
    has_deep = any(column_origin(column).deep for column in columns)
    if has_deep != (deep is not None):
        raise SettingsError("The table has deep feature columns (deep_0, ...): say which model made them "
                            "(--deep-features MODEL)." if has_deep else "The table has no deep feature columns.")
    if not scans and not shells and not has_deep:
        if body:
            raise SettingsError("The table has no peritumoral columns (peri<MM>mm_...) for the body limit to apply to.")
        return None
    settings, modalities = given_scans(given)
    return FeatureRecipe(dict(primary), settings, tuple(shells), body, primary_modality, deep, modalities).with_scans(scans)
