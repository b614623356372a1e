"""pyradiomics' LoG image type: ITK's recursive Laplacian of Gaussian per sigma, computed near the region only.

ITK's recursive (Deriche) Gaussian filters run along whole image lines, so the LoG at a voxel depends,
faintly, on every voxel of its lines. The influence of a voxel d voxels away falls off as
exp(-1.373 d / sigma_vox) (the slower pole of ITK's Deriche coefficients, L2 = -1.3732; sigma_vox =
sigma / spacing), and a crop's edge acts like such a change. A margin of 30 sigma_vox (an edge
influence of ~1e-18, far below a float32 step) gives the full-image values bit for bit, which
Testing/test_filters.py checks against the whole image filtered and against pyradiomics.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

import numpy as np
import SimpleITK as sitk

from .boxes import BoundingBox, filter_on_box

logger = logging.getLogger(__name__)

LOG_MARGIN_SIGMAS = 30
# ITK's recursive Gaussian needs at least 4 voxels along each axis; pyradiomics checks the image for it.
_MINIMUM_SIZE = 4


def log_images(image: sitk.Image, settings: Mapping[str, Any], box: BoundingBox | None = None) -> Iterator[tuple[sitk.Image, str]]:
    """pyradiomics' getLoGImage: one 'log-sigma-<sigma>-mm-3D' image per sigma of ``settings['sigma']`` (mm).

    As in pyradiomics, nothing is computed for an image with fewer than 4 voxels along some axis, and a
    sigma is skipped (with a warning) when it is not positive or when the image has fewer than
    ceil(sigma / spacing) + 1 voxels along some axis; the checks use the whole image, not ``box``.
    """
    size = np.array(image.GetSize())
    spacing = np.array(image.GetSpacing())
    if np.min(size) < _MINIMUM_SIZE:
        logger.warning("Image too small to apply the LoG filter (size %s): no LoG images", size.tolist())
        return
    for sigma in settings.get("sigma", []):
        if not sigma > 0.0:
            logger.warning("Skipping LoG sigma %g: sigma must be greater than 0", sigma)
            continue
        if not np.all(size >= np.ceil(sigma / spacing) + 1):
            logger.warning("Skipping LoG sigma %g: the image (size %s) is too small for it", sigma, size.tolist())
            continue
        margin = np.ceil(LOG_MARGIN_SIGMAS * sigma / spacing).astype(int)
        filtered = filter_on_box(image, box, margin, partial(_laplacian_of_gaussian, sigma=sigma), _MINIMUM_SIZE)
        yield filtered, f"log-sigma-{str(sigma).replace('.', '-')}-mm-3D"


def _laplacian_of_gaussian(image: sitk.Image, sigma: float) -> sitk.Image:
    log = sitk.LaplacianRecursiveGaussianImageFilter()
    log.SetNormalizeAcrossScale(True)
    log.SetSigma(sigma)
    return log.Execute(image)
