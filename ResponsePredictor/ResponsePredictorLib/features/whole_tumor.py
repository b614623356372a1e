"""The whole-tumor mode of our own engine: pyradiomics' segment-based extraction, without pyradiomics.

The sequence is pyradiomics' own (``preprocessing.prepare_case``): shape features of the
preprocessed mask, then for every (filtered) image the first-order and texture classes over the
whole region (``texture.region.WholeRegion``), named and ordered as pyradiomics names and orders
them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk
import torch

from ..devices import torch_threads
from ..errors import MaskError
from ..volume import Volume
from .diagnostics import case_diagnostics
from .names import SHAPE_CLASSES
from .preprocessing import FilteredImage, PreparedCase, prepare_case
from .settings import ExtractionSettings
from .shape import shape2d_features, shape_features
from .texture import CLASSES, DiscretisedImage
from .texture.region import WholeRegion


def whole_tumor_features(
    image: Volume, mask: Volume, label: int, settings: ExtractionSettings, device: torch.device
) -> tuple[dict[str, float], dict[str, Any]]:
    """(features, diagnostics) of ``label`` of ``mask`` (on ``image``'s grid), in pyradiomics' order."""
    general = {**settings.general, "label": label}
    original = image.to_sitk()
    case = prepare_case(original, mask.to_sitk(), general, settings.image_types)
    features = _shape(case, settings)
    texture_classes = {cls: names for cls, names in settings.feature_classes.items() if cls not in SHAPE_CLASSES}
    if texture_classes:
        with torch.inference_mode(), torch_threads(1):
            for filtered in case.filtered_images():
                rows = WholeRegion(discretised(filtered), device)
                for feature_class, names in texture_classes.items():
                    for name, value in CLASSES[feature_class](rows, names).items():
                        features[f"{filtered.image_type}_{feature_class}_{name}"] = float(value[0])
    diagnostics = case_diagnostics(original, case, settings) if general["additionalInfo"] else {}
    return features, diagnostics


def discretised(filtered: FilteredImage) -> DiscretisedImage:
    """A filtered image with the gray levels of the texture classes and of the first-order class."""
    return DiscretisedImage(
        filtered.image_type,
        filtered.image,
        filtered.values.astype(np.float64),
        filtered.roi,
        filtered.kernel_region,
        filtered.gray,
        filtered.first_order_gray,
        filtered.settings,
    )


def _shape(case: PreparedCase, settings: ExtractionSettings) -> dict[str, float]:
    """The shape and shape2D features of the case's shape mask (cropped to the region's box), as pyradiomics' computeShape."""
    wanted = {cls: settings.feature_classes[cls] for cls in SHAPE_CLASSES if cls in settings.feature_classes}
    if not wanted:
        return {}
    cropped = case.shape_region()
    region = sitk.GetArrayViewFromImage(cropped) == case.settings["label"]
    spacing = cropped.GetSpacing()
    features = {}
    if "shape" in wanted:
        features.update({f"original_shape_{name}": value for name, value in shape_features(region, spacing, wanted["shape"]).items()})
    if "shape2D" in wanted and case.settings.get("force2D", False):
        dimension = int(case.settings.get("force2Ddimension", 0))
        # pyradiomics 3.0.1 skips shape2D (with a warning) when the region's box is one voxel wide along
        # the *SimpleITK* axis force2Ddimension, and otherwise lets the class check the numpy axis.
        if case.bounding_box.size[dimension] > 1:
            try:
                values = shape2d_features(region, spacing, dimension, wanted["shape2D"])
            except MaskError as error:
                raise MaskError(f"{error} (shape2D with force2D needs a region one slice thick)") from None
            features.update({f"original_shape2D_{name}": value for name, value in values.items()})
    return features
