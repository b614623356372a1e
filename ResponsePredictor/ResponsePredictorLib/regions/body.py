"""The body on a CT: what a CT's peritumoral shell may be limited to, so that air outside the patient
(and the table's surroundings) is not counted as tissue around a tumor near the skin.

Voxels above -500 HU, their largest connected part (the patient; the table is usually a separate,
smaller part), with the holes of each axial slice filled so that the lungs and bowel gas, enclosed
by the body wall, stay in the body.
"""

from __future__ import annotations

import numpy as np

from ..errors import ImageContentError
from ..volume import Volume

BODY_HU = -500.0


def body_mask(ct: Volume, threshold_hu: float = BODY_HU) -> np.ndarray:
    """bool (k, j, i): the patient's body on ``ct`` (in Hounsfield units)."""
    from scipy import ndimage

    dense = np.asarray(ct.array) > threshold_hu
    labels, count = ndimage.label(dense)
    if count == 0:
        raise ImageContentError(f"No voxel of the CT is above {threshold_hu:g} HU: no body to limit the shells to "
                                "(is the image a CT in Hounsfield units?).")
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    body = labels == int(sizes.argmax())
    # Axial planes: those across the array axis that runs closest to the patient's head-feet (S) axis.
    index_axis = int(np.argmax(np.abs(np.reshape(ct.direction, (3, 3))[2])))  # i, j or k
    axial = np.moveaxis(body, 2 - index_axis, 0)
    filled = np.stack([ndimage.binary_fill_holes(plane) for plane in axial])
    return np.moveaxis(filled, 0, 2 - index_axis)
