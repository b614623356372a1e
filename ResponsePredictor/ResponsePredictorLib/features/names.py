"""pyradiomics 3.0.1's feature classes, feature names and image types, and what a feature name means.

A name is pyradiomics' own: ``<image type>_<feature class>_<feature>``, e.g. ``original_glcm_Contrast``,
``log-sigma-1-0-mm-3D_firstorder_Mean`` or ``wavelet2-HHL_glszm_ZoneEntropy``. The registry below is
written out from pyradiomics once (``Testing/test_feature_names.py`` compares it with pyradiomics where
that is installed), so that nothing here needs pyradiomics at run time.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputError

# Classes in pyradiomics' order (getFeatureClasses: its module names, sorted); features in the order of
# getFeatureNames, which sorts the getters 'get<Feature>FeatureValue' (so MeanAbsoluteDeviation comes
# before Mean). When a class is enabled with all its features, pyradiomics computes them in this order.
_FEATURES: dict[str, tuple[str, ...]] = {
    "firstorder": (
        "10Percentile", "90Percentile", "Energy", "Entropy", "InterquartileRange", "Kurtosis", "Maximum",
        "MeanAbsoluteDeviation", "Mean", "Median", "Minimum", "Range", "RobustMeanAbsoluteDeviation",
        "RootMeanSquared", "Skewness", "StandardDeviation", "TotalEnergy", "Uniformity", "Variance",
    ),
    "glcm": (
        "Autocorrelation", "ClusterProminence", "ClusterShade", "ClusterTendency", "Contrast", "Correlation",
        "DifferenceAverage", "DifferenceEntropy", "DifferenceVariance", "Dissimilarity", "Homogeneity1",
        "Homogeneity2", "Id", "Idm", "Idmn", "Idn", "Imc1", "Imc2", "InverseVariance", "JointAverage",
        "JointEnergy", "JointEntropy", "MCC", "MaximumProbability", "SumAverage", "SumEntropy", "SumSquares",
        "SumVariance",
    ),
    "gldm": (
        "DependenceEntropy", "DependenceNonUniformity", "DependenceNonUniformityNormalized",
        "DependencePercentage", "DependenceVariance", "GrayLevelNonUniformity",
        "GrayLevelNonUniformityNormalized", "GrayLevelVariance", "HighGrayLevelEmphasis",
        "LargeDependenceEmphasis", "LargeDependenceHighGrayLevelEmphasis", "LargeDependenceLowGrayLevelEmphasis",
        "LowGrayLevelEmphasis", "SmallDependenceEmphasis", "SmallDependenceHighGrayLevelEmphasis",
        "SmallDependenceLowGrayLevelEmphasis",
    ),
    "glrlm": (
        "GrayLevelNonUniformity", "GrayLevelNonUniformityNormalized", "GrayLevelVariance",
        "HighGrayLevelRunEmphasis", "LongRunEmphasis", "LongRunHighGrayLevelEmphasis",
        "LongRunLowGrayLevelEmphasis", "LowGrayLevelRunEmphasis", "RunEntropy", "RunLengthNonUniformity",
        "RunLengthNonUniformityNormalized", "RunPercentage", "RunVariance", "ShortRunEmphasis",
        "ShortRunHighGrayLevelEmphasis", "ShortRunLowGrayLevelEmphasis",
    ),
    "glszm": (
        "GrayLevelNonUniformity", "GrayLevelNonUniformityNormalized", "GrayLevelVariance",
        "HighGrayLevelZoneEmphasis", "LargeAreaEmphasis", "LargeAreaHighGrayLevelEmphasis",
        "LargeAreaLowGrayLevelEmphasis", "LowGrayLevelZoneEmphasis", "SizeZoneNonUniformity",
        "SizeZoneNonUniformityNormalized", "SmallAreaEmphasis", "SmallAreaHighGrayLevelEmphasis",
        "SmallAreaLowGrayLevelEmphasis", "ZoneEntropy", "ZonePercentage", "ZoneVariance",
    ),
    "ngtdm": ("Busyness", "Coarseness", "Complexity", "Contrast", "Strength"),
    "shape": (
        "Compactness1", "Compactness2", "Elongation", "Flatness", "LeastAxisLength", "MajorAxisLength",
        "Maximum2DDiameterColumn", "Maximum2DDiameterRow", "Maximum2DDiameterSlice", "Maximum3DDiameter",
        "MeshVolume", "MinorAxisLength", "SphericalDisproportion", "Sphericity", "SurfaceArea",
        "SurfaceVolumeRatio", "VoxelVolume",
    ),
    "shape2D": (
        "Elongation", "MajorAxisLength", "MaximumDiameter", "MeshSurface", "MinorAxisLength", "Perimeter",
        "PerimeterSurfaceRatio", "PixelSurface", "SphericalDisproportion", "Sphericity",
    ),
}

# Marked @deprecated: left out when a class is enabled with all its features, computed only when named.
_DEPRECATED: dict[str, frozenset[str]] = {
    "firstorder": frozenset({"StandardDeviation"}),
    "glcm": frozenset({"Dissimilarity", "Homogeneity1", "Homogeneity2", "SumVariance"}),
    "gldm": frozenset({"DependencePercentage", "GrayLevelNonUniformityNormalized"}),
    "shape": frozenset({"Compactness1", "Compactness2", "SphericalDisproportion"}),
    "shape2D": frozenset({"SphericalDisproportion"}),
}

# Deprecated features whose getter raises DeprecationWarning: pyradiomics logs it and leaves the
# feature out of its output even when the parameter file names it.
_NEVER_COMPUTED: dict[str, frozenset[str]] = {
    "glcm": frozenset({"Dissimilarity", "Homogeneity1", "Homogeneity2", "SumVariance"}),
    "gldm": frozenset({"DependencePercentage", "GrayLevelNonUniformityNormalized"}),
}

FEATURE_CLASSES: tuple[str, ...] = tuple(_FEATURES)
# Computed once per case on the original image (pyradiomics' computeShape), before every other class.
SHAPE_CLASSES = ("shape", "shape2D")
MAPPABLE_CLASSES = ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")

# pyradiomics' getImageTypes(): the <type> of imageoperations.get<type>Image, in dir() order.
IMAGE_TYPES = (
    "Exponential", "Gradient", "LBP2D", "LBP3D", "LoG", "Logarithm", "Original", "Square", "SquareRoot", "Wavelet",
)
# The local binary patterns, which only pyradiomics computes (its backend); every other type has maps.
PYRADIOMICS_ONLY_IMAGE_TYPES = ("LBP2D", "LBP3D")
MAPPABLE_IMAGE_TYPES = tuple(t for t in IMAGE_TYPES if t not in PYRADIOMICS_ONLY_IMAGE_TYPES)
# How pyradiomics (additionalInfo) and we name an extraction's diagnostic entries, apart from the features.
DIAGNOSTICS_PREFIX = "diagnostics_"

# pyradiomics names a feature <image type>_<class>_<Feature> (log-sigma-1-0-mm-3D_glcm_Imc1), here with an
# optional prefix (a scan's name, a region's) before the image type.
RADIOMIC_NAME = re.compile(
    r"^(?:(?P<prefix>.+)_)?(?P<image>[A-Za-z0-9-]+)_(?P<cls>" + "|".join(map(re.escape, FEATURE_CLASSES))
    + r")_(?P<feature>[A-Z]\w*)$"
)
# A deep feature of the tumor (``embedding``): deep_0, deep_1, ...
DEEP_NAME = re.compile(r"^deep_\d+$")


def feature_names(feature_class: str) -> dict[str, bool]:
    """A class's features and whether each is deprecated, as pyradiomics' ``getFeatureNames`` gives them."""
    deprecated = _DEPRECATED.get(feature_class, frozenset())
    return {name: name in deprecated for name in _FEATURES[feature_class]}


def default_features(feature_class: str) -> list[str]:
    """The features pyradiomics computes for a class enabled with all features (``null`` or ``[]``)."""
    return [name for name, deprecated in feature_names(feature_class).items() if not deprecated]


def computed_features(feature_class: str, requested: Iterable[str] | None) -> list[str]:
    """The features pyradiomics outputs, in its order, for a class enabled with ``requested`` names.

    pyradiomics keeps the enabled names in a dict (a repeated name counts once, where it first
    appears) and enables every non-deprecated feature when none is named.
    """
    wanted = list(dict.fromkeys(requested or ()))
    if not wanted:
        return default_features(feature_class)
    never = _NEVER_COMPUTED.get(feature_class, frozenset())
    return [name for name in wanted if name not in never]


# --- image type names -----------------------------------------------------------------------------


def _log_name(sigma: float) -> str:
    return f"log-sigma-{str(sigma).replace('.', '-')}-mm-3D"


def _wavelet_names(settings: Mapping[str, Any]) -> list[str]:
    # pyradiomics drops the force2D axis from the decomposition: 2 letters per band instead of 3, in
    # pywt.swtn's band order (itertools.product's). Only levels after the first carry their number.
    n_axes = 2 if settings.get("force2D", False) else 3
    level = settings.get("level", 1)
    names = []
    for index in range(1, level + 1):
        prefix = "wavelet-" if index == 1 else f"wavelet{index}-"
        names += [prefix + "".join(band) for band in itertools.product("LH", repeat=n_axes)][1:]
    approximation = "L" * n_axes
    names.append(f"wavelet-{approximation}" if level == 1 else f"wavelet{level}-{approximation}")
    return names


def _lbp3d_names(settings: Mapping[str, Any]) -> list[str]:
    return [f"lbp-3D-m{level}" for level in range(1, settings.get("lbp3DLevels", 2) + 1)] + ["lbp-3D-k"]


_NAMES_OF: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "Original": lambda settings: ["original"],
    "LoG": lambda settings: [_log_name(sigma) for sigma in settings.get("sigma", [])],
    "Wavelet": _wavelet_names,
    "Square": lambda settings: ["square"],
    "SquareRoot": lambda settings: ["squareroot"],
    "Logarithm": lambda settings: ["logarithm"],
    "Exponential": lambda settings: ["exponential"],
    "Gradient": lambda settings: ["gradient"],
    "LBP2D": lambda settings: ["lbp-2D"],
    "LBP3D": _lbp3d_names,
}


def image_type_names(image_type: str, settings: Mapping[str, Any]) -> list[str]:
    """The names pyradiomics gives the images of an enabled image type, in the order it yields them.

    ``settings`` are those pyradiomics passes the filter (the general settings updated by the type's
    own). At run time pyradiomics skips a LoG sigma too large for the image and the LBP filters when
    scikit-image (2D) or trimesh (3D) is missing.
    """
    return list(dict.fromkeys(_NAMES_OF[image_type](settings)))


def _sigma(whole: str, fraction: str | None) -> float | int:
    # The number type that gives the name back: str(1) is '1', str(1.0) is '1.0'.
    return int(whole) if fraction is None else float(f"{whole}.{fraction}")


# Each image-type name: the image type that yields it and the custom settings that make it do so
# (merged into the given settings by requested_image_types).
_TYPE_OF_NAME: tuple[tuple[re.Pattern[str], str, Callable[[re.Match[str]], dict[str, Any]]], ...] = (
    (re.compile(r"original"), "Original", lambda m: {}),
    (re.compile(r"log-sigma-(\d+)(?:-(\d+))?-mm-3D"), "LoG", lambda m: {"sigma": [_sigma(*m.groups())]}),
    (re.compile(r"wavelet([2-9]|[1-9]\d+)?-[LH]{2,3}"), "Wavelet", lambda m: {"level": int(m[1] or 1)}),
    (re.compile(r"square"), "Square", lambda m: {}),
    (re.compile(r"squareroot"), "SquareRoot", lambda m: {}),
    (re.compile(r"logarithm"), "Logarithm", lambda m: {}),
    (re.compile(r"exponential"), "Exponential", lambda m: {}),
    (re.compile(r"gradient"), "Gradient", lambda m: {}),
    (re.compile(r"lbp-2D"), "LBP2D", lambda m: {}),
    (re.compile(r"lbp-3D-m([1-9]\d*)"), "LBP3D", lambda m: {"lbp3DLevels": int(m[1])}),
    (re.compile(r"lbp-3D-k"), "LBP3D", lambda m: {}),
)


def _image_type_of(name: str) -> tuple[str, dict[str, Any]] | None:
    for pattern, image_type, settings in _TYPE_OF_NAME:
        match = pattern.fullmatch(name)
        if match is not None:
            return image_type, settings(match)
    return None


# --- feature names --------------------------------------------------------------------------------


class UnmappableFeatureError(InputError):
    """A feature name that has no voxel-wise map (unknown, shape, deprecated, or an LBP image type)."""


@dataclass(frozen=True)
class FeatureName:
    """A parsed pyradiomics feature name."""

    name: str
    image_type: str  # pyradiomics' image name: 'original', 'log-sigma-1-0-mm-3D', 'wavelet-LLH', ...
    feature_class: str
    feature: str

    @property
    def log_sigma(self) -> float | int | None:
        """The LoG sigma (mm) in the number type that reproduces pyradiomics' image name; None for other types."""
        found = _image_type_of(self.image_type)
        return found[1]["sigma"][0] if found is not None and found[0] == "LoG" else None

    def image_type_settings(self) -> tuple[str, dict[str, Any]]:
        """The image type that yields this name's image and the custom settings it needs for that.

        ``('LoG', {'sigma': [1.0]})`` for 'log-sigma-1-0-mm-3D', ``('Wavelet', {'level': 2})`` for
        'wavelet2-HHL' (which wavelet and start level come from the model's settings), ``('Original', {})``.
        """
        found = _image_type_of(self.image_type)
        if found is None:  # only a FeatureName made by hand can get here
            raise InputError(f"{self.image_type!r} is not an image type name pyradiomics writes.")
        return found


def requested_image_types(
    names: Iterable[FeatureName], given: Mapping[str, Mapping[str, Any] | None]
) -> dict[str, dict[str, Any]]:
    """pyradiomics' ``imageType`` mapping that yields the images of ``names`` and no others it can avoid.

    ``names`` come from one set of settings, whose ``imageType`` mapping is ``given``. Each type keeps
    its given custom settings (wavelet, start level, LBP radius, ...); the LoG sigmas become those
    named, the wavelet level and LBP3D levels the highest named (lower levels come with them).
    """
    image_types: dict[str, dict[str, Any]] = {}
    for name in names:
        image_type, needed = name.image_type_settings()
        merged = image_types.get(image_type)
        if merged is None:
            image_types[image_type] = {**(given.get(image_type) or {}), **needed}
            continue
        for key, value in needed.items():
            if key == "sigma":  # compared as written: 1 and 1.0 name different images
                merged[key] += [sigma for sigma in value if str(sigma) not in map(str, merged[key])]
            else:
                merged[key] = max(merged[key], value)
    return image_types


def _why_invalid(name: str) -> str | None:
    parts = name.split("_")
    if len(parts) != 3:
        return "not a pyradiomics feature name (<image type>_<class>_<feature>)"
    image_type, feature_class, feature = parts
    if _image_type_of(image_type) is None:
        return f"{image_type!r} is not an image type name pyradiomics writes"
    if feature_class not in _FEATURES:
        return f"{feature_class!r} is not a pyradiomics feature class ({', '.join(FEATURE_CLASSES)})"
    if feature_class in SHAPE_CLASSES and image_type != "original":
        return f"pyradiomics computes {feature_class} features on the original image only"
    if feature not in computed_features(feature_class, _FEATURES[feature_class]):
        return f"{feature!r} is not a pyradiomics {feature_class} feature it outputs"
    return None


def parse_feature_name(name: str) -> FeatureName:
    """A name pyradiomics can output (any image type and class), or an InputError that says why not."""
    why = _why_invalid(name)
    if why is not None:
        raise InputError(f"{name}: {why}.")
    return FeatureName(name, *name.split("_"))


def _why_unmappable(name: str) -> str | None:
    why = _why_invalid(name)
    if why is not None:
        return why
    parsed = FeatureName(name, *name.split("_"))
    image_type, feature_class, feature = parsed.image_type, parsed.feature_class, parsed.feature
    kind = parsed.image_type_settings()[0]
    if kind not in MAPPABLE_IMAGE_TYPES:
        return f"image type {image_type!r} ({kind}) has no maps (mappable: {', '.join(MAPPABLE_IMAGE_TYPES)})"
    if feature_class not in MAPPABLE_CLASSES:
        return f"class {feature_class!r} has no voxel-wise maps (mappable: {', '.join(MAPPABLE_CLASSES)})"
    if feature not in default_features(feature_class):
        return f"{feature!r} is deprecated in pyradiomics and has no map"
    return None


def mappable(name: str) -> bool:
    """Whether a voxel-wise map of the feature ``name`` can be computed."""
    return _why_unmappable(name) is None


def mappable_features(feature_class: str) -> list[str]:
    """The mappable feature names of one class, sorted (for messages and listings)."""
    return sorted(default_features(feature_class))


def parse_feature_names(names: list[str] | tuple[str, ...]) -> list[FeatureName]:
    """Parse names, or raise one error that lists every unmappable name and what can be mapped instead."""
    problems = [f"{name}: {why}" for name in names if (why := _why_unmappable(name)) is not None]
    if problems:
        listing = "; ".join(f"{cls}: {', '.join(mappable_features(cls))}" for cls in MAPPABLE_CLASSES)
        raise UnmappableFeatureError(
            "No voxel-wise map for " + "; ".join(problems) + ". Mappable names are <image type>_<class>_<feature> "
            "with an image type original, log-sigma-S-mm-3D, wavelet[N]-<L|H per axis>, square, squareroot, "
            "logarithm, exponential or gradient, and " + listing + "."
        )
    if not names:
        raise UnmappableFeatureError("No feature names given; name at least one mappable feature.")
    return [FeatureName(name, *name.split("_")) for name in dict.fromkeys(names)]
