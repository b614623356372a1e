"""Voxel-wise radiomic feature maps: each feature's value in a small kernel around every tumor voxel.

``compute_feature_maps(image, mask, names, settings, radius=1, backend="fast")`` computes them with a
vectorised implementation (torch, CPU or CUDA) that reproduces pyradiomics' voxel-based mode;
``backend="pyradiomics"`` runs that mode itself (the reference, much slower).
"""

from .api import BACKENDS, compute_feature_maps
from .names import MAPPABLE_CLASSES, UnmappableFeatureError, mappable

__all__ = ["BACKENDS", "MAPPABLE_CLASSES", "UnmappableFeatureError", "compute_feature_maps", "mappable"]
