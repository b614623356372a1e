"""pyradiomics' image types, by the names its settings use, and the images each one yields."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import SimpleITK as sitk

from ...errors import SettingsError
from ..names import PYRADIOMICS_ONLY_IMAGE_TYPES
from .boxes import BoundingBox
from .local_filters import (
    exponential_images,
    gradient_images,
    logarithm_images,
    original_images,
    square_images,
    square_root_images,
)
from .log_filter import log_images
from .wavelet_filter import wavelet_images

ImageFilter = Callable[[sitk.Image, Mapping[str, Any], BoundingBox | None], Iterator[tuple[sitk.Image, str]]]

IMAGE_FILTERS: Mapping[str, ImageFilter] = MappingProxyType(
    {
        "Original": original_images,
        "LoG": log_images,
        "Wavelet": wavelet_images,
        "Square": square_images,
        "SquareRoot": square_root_images,
        "Logarithm": logarithm_images,
        "Exponential": exponential_images,
        "Gradient": gradient_images,
    }
)


def check_image_types(image_types: Iterable[str]) -> None:
    """Raise SettingsError for an image type this engine does not compute."""
    for image_type in image_types:
        if image_type in PYRADIOMICS_ONLY_IMAGE_TYPES:
            raise SettingsError(
                f"The image type {image_type} (local binary patterns) is not computed by this radiomics engine; run "
                "with the pyradiomics backend (--backend pyradiomics) or remove it from 'imageType'."
            )
        if image_type not in IMAGE_FILTERS:
            raise SettingsError(
                f"Unknown image type {image_type!r} in 'imageType'; use one of {', '.join(IMAGE_FILTERS)} "
                "(pyradiomics' names, case-sensitive)."
            )


def filtered_images(
    image: sitk.Image, image_type: str, settings: Mapping[str, Any], box: BoundingBox | None = None
) -> Iterator[tuple[sitk.Image, str, dict[str, Any]]]:
    """pyradiomics' get<image_type>Image: (filtered image, image type name, settings for the feature classes),
    in pyradiomics' order and with its names ('original', 'log-sigma-1-0-mm-3D', 'wavelet-LLH', ...).

    With ``box``, each image covers only that box (what pyradiomics' cropToTumorMask keeps afterwards),
    and is computed from as little of ``image`` as leaves the box's values unchanged; without it, the
    whole image is filtered. ``settings`` are the general settings merged with the type's own.
    """
    check_image_types([image_type])
    settings = dict(settings)
    for filtered, name in IMAGE_FILTERS[image_type](image, settings, box):
        yield filtered, name, settings
