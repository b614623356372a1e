"""The checks pyradiomics 3.0.1 makes on a parameter mapping (its schemas/paramSchema.yaml and schemaFuncs.py).

A mapping passes here exactly when pyradiomics' validator (pykwalify) passes it, except:

- a number written as text where the schema wants a float ('1e-3', which PyYAML leaves a string
  where the YAML 1.2 reader pyradiomics uses on files reads a float) is read as that float, and its
  range checked on it: pykwalify checks the range on the text's length (so it passes '-1'), and
  pyradiomics would keep the text and fail on it while extracting;
- ``interpolator: true`` is refused (pyradiomics' check takes it for the integer 1, nearest neighbour).

- a null is refused where pyradiomics' code does not read it as "not set" (pykwalify passes it and the
  extraction then fails on it, e.g. ``binWidth: null``): only the settings whose pyradiomics default
  is null (``NULLABLE``) take it; elsewhere the message says to leave the key out for the default;
- ``wavelet`` takes the discrete wavelets only (PyWavelets' continuous ones, which pyradiomics'
  schema lists too, fail in its wavelet filter).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SettingsError
from .names import FEATURE_CLASSES, IMAGE_TYPES, feature_names


class _Refused(Exception):
    """A value a rule refuses; its text (possibly empty) adds detail to what the rule allows."""


@dataclass(frozen=True)
class _Rule:
    allowed: str  # completes "must be ..."
    check: Callable[[Any], Any]  # the value to use, or raises _Refused


def _number(kind: type, *, above: int | None = None, least: int | None = None, most: int | None = None) -> _Rule:
    """pykwalify's int (no bool, no float) or float (also an int or a number written as text) with its range."""
    limits = [f"{sign} {bound}" for sign, bound in ((">", above), (">=", least), ("<=", most)) if bound is not None]
    allowed = ("an integer" if kind is int else "a number") + (" " + " and ".join(limits) if limits else "")

    def check(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or (kind is int and not isinstance(value, int)):
            raise _Refused()
        if kind is float:
            value = _as_float(value)
        # pykwalify's comparisons, so that NaN passes as it does there
        if (above is not None and above >= value) or (least is not None and least > value) or (
            most is not None and most < value
        ):
            raise _Refused()
        return value

    return _Rule(allowed, check)


def _as_float(value: Any) -> Any:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Refused() from None
    return number if isinstance(value, str) else value  # ints stay ints, as in pyradiomics


def _list_of(item: _Rule) -> _Rule:
    def check(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list):
            raise _Refused()
        checked = []
        for index, entry in enumerate(value):
            try:
                if entry is None:
                    raise _Refused()
                checked.append(item.check(entry))
            except _Refused:
                raise _Refused(f" (item {index} is {_show(entry)})") from None
        return checked

    return _Rule(f"a list, each item {item.allowed}", check)


def _one_of(*choices: str) -> _Rule:
    def check(value: Any) -> Any:
        if value is not None and (not isinstance(value, str) or value not in choices):
            raise _Refused()
        return value

    return _Rule("one of " + ", ".join(choices), check)


def _either(first: _Rule, second: _Rule) -> _Rule:
    def check(value: Any) -> Any:
        try:
            return first.check(value)
        except _Refused:
            return second.check(value)

    return _Rule(f"{first.allowed}, or {second.allowed}", check)


def _flag_check(value: Any) -> Any:
    if value is not None and not isinstance(value, bool):
        raise _Refused()
    return value


def _wavelet_check(value: Any) -> Any:
    import pywt  # here: listing presets must not need it

    if not isinstance(value, str) or value not in pywt.wavelist(kind="discrete"):
        raise _Refused()
    return value


_FLAG = _Rule("true or false", _flag_check)
_WAVELET = _Rule("a discrete wavelet of PyWavelets (pywt.wavelist(kind='discrete')), such as coif1, haar or db2",
                 _wavelet_check)
RESEGMENT_MODES = ("absolute", "relative", "sigma")
WEIGHTING_NORMS = ("euclidean", "manhattan", "infinity", "no_weighting")
# The settings whose pyradiomics default is null, which its code reads as "not set" (no resampling,
# no outlier removal, no weighting, ...). A null elsewhere fails pyradiomics' extraction.
NULLABLE = frozenset({"minimumROISize", "geometryTolerance", "binCount", "removeOutliers", "resampledPixelSpacing",
                      "interpolator", "resegmentRange", "weightingNorm"})
INTERPOLATOR_NAMES = (  # pyradiomics' checkInterpolator: the SimpleITK interpolators by name
    "sitkNearestNeighbor", "sitkLinear", "sitkBSpline", "sitkGaussian", "sitkLabelGaussian",
    "sitkHammingWindowedSinc", "sitkCosineWindowedSinc", "sitkWelchWindowedSinc", "sitkLanczosWindowedSinc",
    "sitkBlackmanWindowedSinc",
)

# The keys of 'setting' and of each image type's own settings.
SETTING_RULES: dict[str, _Rule] = {
    "minimumROIDimensions": _number(int, least=1, most=3),
    "minimumROISize": _number(int, above=0),
    "geometryTolerance": _number(float, above=0),
    "correctMask": _FLAG,
    "additionalInfo": _FLAG,
    "label": _number(int, above=0),
    "label_channel": _number(int, least=0),
    "binWidth": _number(float, above=0),
    "binCount": _number(int, above=0),
    "normalize": _FLAG,
    "normalizeScale": _number(float, above=0),
    "removeOutliers": _number(float, above=0),
    "resampledPixelSpacing": _list_of(_number(float, least=0)),
    # SimpleITK's interpolator enumeration runs from 1 (nearest neighbour) to 10
    "interpolator": _either(_one_of(*INTERPOLATOR_NAMES), _number(int, least=1, most=10)),
    "padDistance": _number(int, least=0),
    "distances": _list_of(_number(int, above=0)),
    "force2D": _FLAG,
    "force2Ddimension": _number(int, least=0, most=2),
    "resegmentRange": _list_of(_number(float)),
    "resegmentMode": _one_of(*RESEGMENT_MODES),
    "resegmentShape": _FLAG,
    "preCrop": _FLAG,
    "sigma": _list_of(_number(float, above=0)),
    "start_level": _number(int, least=0),
    "level": _number(int, above=0),
    "wavelet": _WAVELET,
    "gradientUseSpacing": _FLAG,
    "lbp2DRadius": _number(float, above=0),
    "lbp2DSamples": _number(int, least=1),
    "lbp2DMethod": _one_of("default", "ror", "uniform", "var"),
    "lbp3DLevels": _number(int, least=1),
    "lbp3DIcosphereRadius": _number(float, above=0),
    "lbp3DIcosphereSubdivision": _number(int, least=0),
    "voxelArrayShift": _number(int),
    "symmetricalGLCM": _FLAG,
    "weightingNorm": _one_of(*WEIGHTING_NORMS),
    "gldm_a": _number(int, least=0),
}

VOXEL_SETTING_RULES: dict[str, _Rule] = {
    "kernelRadius": _number(int, above=0),
    "maskedKernel": _FLAG,
    "initValue": _number(float),
    "voxelBatch": _number(int, above=0),
}


SECTIONS = ("setting", "voxelSetting", "featureClass", "imageType")


def _show(value: Any) -> str:
    """A value as the YAML file spells it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def _named(value: Any, choices: tuple[str, ...] | list[str]) -> str:
    """An unknown name with the closest known one, if any."""
    close = difflib.get_close_matches(str(value), choices, n=1)
    return _show(value) + (f" (did you mean {close[0]!r}?)" if close else "")


def _unknown(where: str, what: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    return f"{where}: unknown {what} {_named(value, choices)}; allowed: {', '.join(choices)}"


def _settings(values: Mapping[Any, Any], where: str, rules: dict[str, _Rule], problems: list[str]) -> dict[str, Any]:
    checked = {}
    for key, value in values.items():
        rule = rules.get(key)
        if rule is None:
            problems.append(_unknown(where, "key", key, list(rules)))
            continue
        if value is None and key not in NULLABLE:
            problems.append(f"{where}.{key} = null: leave the key out for pyradiomics' default, or set {rule.allowed}")
            continue
        try:
            checked[key] = rule.check(value)
        except _Refused as refused:
            problems.append(f"{where}.{key} = {_show(value)}: must be {rule.allowed}{refused}")
    return checked


def _feature_classes(values: Mapping[Any, Any], problems: list[str]) -> dict[str, list[str] | None]:
    checked: dict[str, list[str] | None] = {}
    for name, features in values.items():
        if name not in FEATURE_CLASSES:
            problems.append(_unknown("featureClass", "class", name, FEATURE_CLASSES))
        elif features is not None and not isinstance(features, list):
            problems.append(f"featureClass.{name} = {_show(features)}: must be null, [] or a list of {name} features")
        else:
            known = list(feature_names(name))  # deprecated ones too: pyradiomics accepts them by name
            unknown = [_named(f, known) for f in features or () if not isinstance(f, str) or f not in known]
            if unknown:
                problems.append(f"featureClass.{name}: unknown features {', '.join(unknown)}; "
                                f"{name} features: {', '.join(known)}")
            checked[name] = None if features is None else list(features)
    return checked


def _image_types(values: Mapping[Any, Any], problems: list[str]) -> dict[str, dict[str, Any]]:
    checked = {}
    for name, custom in values.items():
        if name not in IMAGE_TYPES:
            problems.append(_unknown("imageType", "image type", name, IMAGE_TYPES))
        elif not isinstance(custom, Mapping):
            # pyradiomics refuses a null here too: an image type without own settings is written {}
            problems.append(f"imageType.{name} = {_show(custom)}: must be a mapping of settings ({{}} for none)")
        else:
            checked[name] = _settings(custom, f"imageType.{name}", SETTING_RULES, problems)
    return checked


_SECTION_CHECKS: dict[str, Callable[[Mapping[Any, Any], list[str]], dict[str, Any]]] = {
    "setting": lambda values, problems: _settings(values, "setting", SETTING_RULES, problems),
    "voxelSetting": lambda values, problems: _settings(values, "voxelSetting", VOXEL_SETTING_RULES, problems),
    "featureClass": _feature_classes,
    "imageType": _image_types,
}


def validated(raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The sections of ``raw`` that are present, checked as pyradiomics checks them, as new dicts and lists.

    Numbers written as text are converted where the schema wants a float. Raises one SettingsError
    that lists every problem with its place (section.key), the value and what is allowed.
    """
    if not isinstance(raw, Mapping):
        raise SettingsError(f"Radiomics parameters must be a mapping ({', '.join(SECTIONS)}), not {_show(raw)}.")
    problems: list[str] = []
    sections = {}
    for section, values in raw.items():
        if section not in SECTIONS:
            problems.append(_unknown("parameters", "section", section, SECTIONS))
        elif not isinstance(values, Mapping):
            problems.append(f"{section} = {_show(values)}: must be a mapping ({{}} for none)")
        else:
            sections[section] = _SECTION_CHECKS[section](values, problems)
    if problems:
        raise SettingsError("Invalid radiomics parameters:\n  - " + "\n  - ".join(problems))
    return sections
