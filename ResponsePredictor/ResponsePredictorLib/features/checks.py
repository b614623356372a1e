"""Checks of an image and mask before any feature is computed: one clear error per problem."""

from __future__ import annotations

import numpy as np

from ..errors import GeometryMismatchError, ImageContentError, MaskError
from ..volume import Volume, as_label_map, conform_mask, nonzero_box
from .preprocessing import BoundingBox
from .preprocessing.masks import check_region_extent
from .settings import ExtractionSettings


def mask_labels(mask: Volume) -> list[int]:
    """Labels present in a label map, background (0) excluded."""
    array = as_label_map(mask).array
    box = nonzero_box(array)
    if box is None:
        return []
    # Counting within the labels' bounding box only: a tumor fills a small part of a CT.
    return [int(label) for label in np.flatnonzero(np.bincount(array[box].ravel())) if label != 0]


def checked_region(image: Volume, mask: Volume, settings: ExtractionSettings, label: int | None = None) -> tuple[Volume, int]:
    """The mask on the image's grid and the label to use, refusing what pyradiomics could not use.

    Empty masks, absent or ambiguous labels, regions too thin for ``minimumROIDimensions`` and
    images with NaN voxels each get their own clear error, before any preprocessing.
    """
    mask = on_image_grid(image, mask, settings)
    label = _choose_label(mask, label)
    box = BoundingBox.of(mask.array == label)  # not None: the label was found present
    check_region_extent(box, label, settings.general["minimumROIDimensions"])
    _check_finite(image)
    return mask, label


def on_image_grid(image: Volume, mask: Volume, settings: ExtractionSettings) -> Volume:
    """The mask on the image's grid; with pyradiomics' ``correctMask`` a mask on another grid stays on its own.

    Without correctMask a mask on another grid is an error, as in pyradiomics. With it the
    preprocessing puts the mask on the image's grid as pyradiomics does: by nearest neighbour after
    checking that the region lies inside the image, or, when resampling, straight onto the resampled
    grid (which pyradiomics builds from the mask's own grid). Resampling it here first would change both.
    """
    if not settings.general.get("correctMask", False):
        return conform_mask(mask, image, source="The mask")
    try:
        return conform_mask(mask, image, source="The mask")  # within tolerance: the image's exact geometry
    except GeometryMismatchError:
        return as_label_map(mask, source="The mask")


def _choose_label(mask: Volume, label: int | None) -> int:
    present = mask_labels(mask)
    if not present:
        raise MaskError("The mask is empty: it has no voxel with a label above 0. Segment the tumor first.")
    if label is None:
        if len(present) > 1:
            raise MaskError(
                f"The mask holds several labels ({', '.join(map(str, present))}); choose one (--label N) or "
                "extract all of them (--all-labels)."
            )
        return present[0]
    if label not in present:
        raise MaskError(f"Label {label} is not in the mask; labels present: {', '.join(map(str, present))}.")
    return label


def _check_finite(image: Volume) -> None:
    if image.array.dtype.kind != "f":
        return
    bad = int(np.count_nonzero(~np.isfinite(image.array)))
    if bad:
        raise ImageContentError(
            f"The image has {bad} voxels that are NaN or infinite; fill or crop them before extracting features."
        )
