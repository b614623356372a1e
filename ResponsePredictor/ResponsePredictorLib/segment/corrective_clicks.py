"""The simulated user of interactive segmentation: where the next corrective click goes.

The field's standard (used to train and to validate click-driven models, e.g. RITM, DeepEdit,
nnInteractive): take the largest connected region where the mask and the expert's disagree, and
click at its point farthest from the region's edge; a click in missed tumor says "tumor here", a
click in what was wrongly added says "not tumor here". Training and validation share this code, so
the network learns from the same user it is scored with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)
# The protocol's figures: Dice after these numbers of clicks, and clicks to reach TARGET_DICE counted up to
# PROTOCOL_CLICKS (the cap the field uses for NoC; a case that never reaches the target counts as the cap).
REPORTED_CLICKS = (1, 3, 5)
TARGET_DICE = 0.85
PROTOCOL_CLICKS = 20


@dataclass(frozen=True)
class Click:
    index: tuple[int, int, int]  # in the arrays' axis order
    positive: bool  # True: tumor here (a missed part); False: not tumor here (wrongly added)


def next_click(prediction: np.ndarray, truth: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0), *,
               negatives: bool = True, within: tuple[slice, ...] | None = None) -> Click | None:
    """The next click of the simulated user, or None when the masks agree everywhere it may click.

    ``spacing``: the voxel size along the arrays' axes (mm); distances are measured in millimetres. The
    array's own border counts as the region's edge, as a user would not click at the edge of what is shown.
    ``negatives`` False: the user of a model without a negative channel, who can only add tumor points.
    ``within``: the part of the arrays the model was shown; errors elsewhere no click can correct.
    """
    # Imported here: the command line reads this module's protocol constants when it starts.
    from scipy import ndimage

    prediction, truth = prediction.astype(bool), truth.astype(bool)
    allowed = np.ones(truth.shape, bool) if within is None else np.zeros(truth.shape, bool)
    if within is not None:
        allowed[within] = True
    best: tuple[int, np.ndarray, bool] | None = None
    for positive, wrong in ((True, truth & ~prediction & allowed), (False, prediction & ~truth & allowed)):
        if not wrong.any() or not (positive or negatives):
            continue
        labels, count = ndimage.label(wrong, structure=_CONNECTIVITY)
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        sizes[0] = 0
        largest = int(np.argmax(sizes))
        if best is None or sizes[largest] > best[0]:
            best = (int(sizes[largest]), labels == largest, positive)
    if best is None:
        return None
    _, region, positive = best
    # Only the region's bounding box (plus one voxel) needs the distance transform.
    bounds = tuple(slice(max(int(a.min()) - 1, 0), int(a.max()) + 2) for a in np.nonzero(region))
    depth = ndimage.distance_transform_edt(np.pad(region[bounds], 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
    inner = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return Click(tuple(int(i + s.start) for i, s in zip(inner, bounds)), positive)
