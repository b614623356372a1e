"""Which pyradiomics feature names can be mapped voxel by voxel, and what a name means.

A name is pyradiomics' own: ``<image type>_<feature class>_<feature>``, e.g. ``original_glcm_Contrast``
or ``log-sigma-1-0-mm-3D_firstorder_Mean``. Maps exist for the original image and its
Laplacian-of-Gaussian filtered versions, and for the texture and first-order classes; shape
features describe the whole region and have no voxel-wise value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from ..errors import InputError

MAPPABLE_CLASSES = ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")

# pyradiomics names a LoG image 'log-sigma-%s-mm-3D' % str(sigma).replace('.', '-').
_LOG_TYPE = re.compile(r"log-sigma-(\d+)(?:-(\d+))?-mm-3D")


class UnmappableFeatureError(InputError):
    """A feature name that has no voxel-wise map (unknown, shape, deprecated, or an unsupported image type)."""


@dataclass(frozen=True)
class FeatureName:
    """A parsed pyradiomics feature name."""

    name: str
    image_type: str  # 'original' or a LoG image name such as 'log-sigma-1-0-mm-3D'
    feature_class: str
    feature: str

    @property
    def log_sigma(self) -> float | int | None:
        """The LoG sigma (mm) in the number type that reproduces pyradiomics' image name; None for 'original'."""
        match = _LOG_TYPE.fullmatch(self.image_type)
        if match is None:
            return None
        whole, fraction = match.groups()
        return int(whole) if fraction is None else float(f"{whole}.{fraction}")


@cache
def _class_features(feature_class: str) -> frozenset[str]:
    """The non-deprecated features of a pyradiomics class (deprecated ones are never computed by it)."""
    from radiomics import getFeatureClasses

    names = getFeatureClasses()[feature_class].getFeatureNames()
    return frozenset(name for name, deprecated in names.items() if not deprecated)


def _why_unmappable(name: str) -> str | None:
    parts = name.split("_")
    if len(parts) != 3:
        return "not a pyradiomics feature name (<image type>_<class>_<feature>)"
    image_type, feature_class, feature = parts
    if image_type != "original" and _LOG_TYPE.fullmatch(image_type) is None:
        return f"image type {image_type!r} has no maps (original and log-sigma-*-mm-3D have)"
    if feature_class not in MAPPABLE_CLASSES:
        return f"class {feature_class!r} has no voxel-wise maps (mappable: {', '.join(MAPPABLE_CLASSES)})"
    if feature not in _class_features(feature_class):
        return f"{feature!r} is not a (non-deprecated) pyradiomics {feature_class} feature"
    return None


def mappable(name: str) -> bool:
    """Whether ``compute_feature_maps`` can compute a voxel-wise map of the feature ``name``."""
    return _why_unmappable(name) is None


def mappable_features(feature_class: str) -> list[str]:
    """The mappable feature names of one class, sorted (for messages and listings)."""
    return sorted(_class_features(feature_class))


def parse_feature_names(names: list[str] | tuple[str, ...]) -> list[FeatureName]:
    """Parse names, or raise one error that lists every unmappable name and what can be mapped instead."""
    problems = [f"{name}: {why}" for name in names if (why := _why_unmappable(name)) is not None]
    if problems:
        listing = "; ".join(f"{cls}: {', '.join(mappable_features(cls))}" for cls in MAPPABLE_CLASSES)
        raise UnmappableFeatureError(
            "No voxel-wise map for " + "; ".join(problems) + ". Mappable names are "
            "<original|log-sigma-S-mm-3D>_<class>_<feature> with " + listing + "."
        )
    if not names:
        raise UnmappableFeatureError("No feature names given; name at least one mappable feature.")
    return [FeatureName(name, *name.split("_")) for name in dict.fromkeys(names)]
