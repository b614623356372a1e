"""pyradiomics' image types whose value at a voxel needs at most its direct neighbours: Original, Square,
SquareRoot, Logarithm, Exponential and Gradient.

The four intensity transforms scale by the largest absolute value of the *whole* image, so that is
taken from the whole image; the transform itself is then applied to the box only. Gradient uses
central differences, so one voxel around the box is enough.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import SimpleITK as sitk

from .boxes import BoundingBox, crop, filter_on_box, image_on_box

# Values within this fraction of the largest magnitude are the only ones whose logarithm can be the
# largest (the logarithm is monotonic to far better than this).
_LOG_PEAK_CANDIDATES = 1e-6


def original_images(image: sitk.Image, settings: Mapping[str, Any], box: BoundingBox | None = None) -> Iterator[tuple[sitk.Image, str]]:
    """pyradiomics' getOriginalImage: the image itself, in its own pixel type."""
    yield (image if box is None else crop(image, box)), "original"


def square_images(image: sitk.Image, settings: Mapping[str, Any], box: BoundingBox | None = None) -> Iterator[tuple[sitk.Image, str]]:
    """pyradiomics' getSquareImage: (x / sqrt(max|x|))**2, which loses the sign of negative values."""

    def square(values: np.ndarray, peak: np.float64) -> np.ndarray:
        return (1 / np.sqrt(peak) * values) ** 2

    yield _transformed(image, box, square), "square"


def square_root_images(image: sitk.Image, settings: Mapping[str, Any], box: BoundingBox | None = None) -> Iterator[tuple[sitk.Image, str]]:
    """pyradiomics' getSquareRootImage: sign(x) * sqrt(|x| * max|x|)."""

    def square_root(values: np.ndarray, peak: np.float64) -> np.ndarray:
        positive, negative = values > 0, values < 0
        values[positive] = np.sqrt(values[positive] * peak)
        values[negative] = -np.sqrt(-values[negative] * peak)
        return values

    yield _transformed(image, box, square_root), "squareroot"


def logarithm_images(image: sitk.Image, settings: Mapping[str, Any], box: BoundingBox | None = None) -> Iterator[tuple[sitk.Image, str]]:
    """pyradiomics' getLogarithmImage: sign(x) * log(|x| + 1), rescaled so that its largest magnitude is max|x|."""
    whole = sitk.GetArrayViewFromImage(image)
    peak = _peak(whole)
    # The largest |log| over the whole image, from the few voxels that can hold it.
    candidates = whole[(whole >= peak * (1 - _LOG_PEAK_CANDIDATES)) | (whole <= -peak * (1 - _LOG_PEAK_CANDIDATES))]
    log_peak = np.max(np.abs(_signed_log(candidates.astype(np.float64)))) if candidates.size else np.float64(np.nan)

    def logarithm(values: np.ndarray, peak: np.float64) -> np.ndarray:
        return _signed_log(values) * (peak / log_peak)

    yield _transformed(image, box, logarithm), "logarithm"


def exponential_images(image: sitk.Image, settings: Mapping[str, Any], box: BoundingBox | None = None) -> Iterator[tuple[sitk.Image, str]]:
    """pyradiomics' getExponentialImage: exp(x * log(max|x|) / max|x|)."""

    def exponential(values: np.ndarray, peak: np.float64) -> np.ndarray:
        return np.exp(np.log(peak) / peak * values)

    yield _transformed(image, box, exponential), "exponential"


def gradient_images(image: sitk.Image, settings: Mapping[str, Any], box: BoundingBox | None = None) -> Iterator[tuple[sitk.Image, str]]:
    """pyradiomics' getGradientImage: ITK's gradient magnitude, in mm unless ``gradientUseSpacing`` is False."""
    use_spacing = settings.get("gradientUseSpacing", True)
    yield filter_on_box(image, box, 1, lambda part: sitk.GradientMagnitude(part, use_spacing)), "gradient"


def _transformed(
    image: sitk.Image, box: BoundingBox | None, transform: Callable[[np.ndarray, np.float64], np.ndarray]
) -> sitk.Image:
    """``transform(values, max|x| of the whole image)`` of the box's values as float64, on the box's grid."""
    whole = sitk.GetArrayViewFromImage(image)
    box = box or BoundingBox.whole(image)
    values = whole[box.slices()].astype(np.float64)
    return image_on_box(transform(values, _peak(whole)), image, box)


def _peak(values: np.ndarray) -> np.float64:
    """max|x| over float64 values, as pyradiomics computes it (NaN if any value is NaN)."""
    return np.max(np.abs(np.array([values.max(), values.min()], dtype=np.float64)))


def _signed_log(values: np.ndarray) -> np.ndarray:
    positive, negative = values > 0, values < 0
    values[positive] = np.log(values[positive] + 1)
    values[negative] = -np.log(-(values[negative] - 1))
    return values
