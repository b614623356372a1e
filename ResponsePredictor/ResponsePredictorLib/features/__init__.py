"""Radiomic features with pyradiomics' names, settings and values, computed by our own engine.

The pipeline, one room each: ``settings`` (parameter files, presets, validation) and ``names`` (the
feature registry) -> ``checks`` (what an image and mask must satisfy) -> ``preprocessing`` (masks,
normalisation, resampling, re-segmentation, filters, discretisation) -> ``shape`` and ``texture``
(first order and the texture matrices, over kernels or whole regions) -> two modes:
``extractor`` (whole tumor, one row per label) and ``voxel_maps`` (a feature's value around every
voxel). pyradiomics itself is an optional backend (``pyradiomics_backend``), never imported unless asked.

The names below load their module on first use: Slicer lists the presets when the module loads,
before its first-use install of torch, SciPy and PyWavelets.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "BACKENDS": "settings",
    "DIAGNOSTICS_PREFIX": "names",
    "FeatureExtractor": "extractor",
    "FeatureResult": "extractor",
    "extract_features": "extractor",
    "checked_region": "checks",
    "mask_labels": "checks",
    "MAPPABLE_CLASSES": "names",
    "UnmappableFeatureError": "names",
    "mappable": "names",
    "ExtractionSettings": "settings",
    "available_presets": "settings",
    "load_settings": "settings",
    "parse_settings": "settings",
    "presets_dir": "settings",
    "compute_feature_maps": "voxel_maps",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
