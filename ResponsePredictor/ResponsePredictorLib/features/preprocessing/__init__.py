"""pyradiomics 3.0.1's preprocessing and image filters, without pyradiomics.

Same values as pyradiomics' imageoperations (bit for bit where tested), computed from only the part
of the scan the region needs. ``prepare_case`` runs the whole sequence of pyradiomics' extraction;
the steps are available one by one under pyradiomics' names in snake case.
"""

from .boxes import BoundingBox
from .discretisation import bin_edges, bin_image, first_order_values
from .filters import IMAGE_FILTERS, check_image_types, filtered_images
from .intensity import normalize_image
from .masks import check_mask, check_roi, crop_to_tumor_mask, get_mask, resegment_mask
from .pipeline import FilteredImage, PreparedCase, prepare_case
from .resampling import resample_image
from .settings import extraction_settings, interpolator_id

__all__ = [
    "IMAGE_FILTERS",
    "BoundingBox",
    "FilteredImage",
    "PreparedCase",
    "bin_edges",
    "bin_image",
    "first_order_values",
    "check_image_types",
    "check_mask",
    "check_roi",
    "crop_to_tumor_mask",
    "extraction_settings",
    "filtered_images",
    "get_mask",
    "interpolator_id",
    "normalize_image",
    "prepare_case",
    "resample_image",
    "resegment_mask",
]
