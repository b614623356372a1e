"""Texture and first-order features of rows (kernels or whole regions) of a discretised image.

``CLASSES`` maps pyradiomics' class names to functions ``compute(rows, features) -> {feature: (rows,)
tensor}``; ``rows`` is a ``kernels.Kernels`` batch (voxel mode) or a ``region.WholeRegion`` (whole tumor).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from . import firstorder, glcm, gldm, glrlm, glszm, ngtdm
from .rows import DiscretisedImage, TextureRows

CLASSES: dict[str, Callable[[TextureRows, list[str]], dict[str, torch.Tensor]]] = {
    "firstorder": firstorder.compute,
    "glcm": glcm.compute,
    "glrlm": glrlm.compute,
    "glszm": glszm.compute,
    "gldm": gldm.compute,
    "ngtdm": ngtdm.compute,
}

__all__ = ["CLASSES", "DiscretisedImage", "TextureRows"]
