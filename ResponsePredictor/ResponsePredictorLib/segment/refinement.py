"""A scan segmented click by click: each new set of prompts corrects the mask of the set it extends.

A model with a previous-mask channel is shown the mask a click corrects (RITM, DeepEdit). In an
interactive session that is the mask of the same prompts without the newest point, which the session
has just made: remembering the masks it made keeps each refinement to one network pass, also after
an Undo (the prompts before it were segmented earlier). Prompts with no remembered mask one point
short of them (an older point moved or removed) are replayed by ``Segmenter.segment_roi`` itself.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from ..volume import Volume, nonzero_box
from .inference import SegmentationResult, Segmenter
from .prompts import Prompts

# Masks remembered per session: a tumor's box of voxels each (about 1 MB for a 10 cm tumor).
REMEMBERED_MASKS = 64


class Refinement:
    """Segments ``image`` for each set of prompts a user makes, remembering the masks it made."""

    def __init__(self, segmenter: Segmenter, image: Volume, remembered: int = REMEMBERED_MASKS) -> None:
        self.segmenter = segmenter
        self.image = image
        self.remembered = remembered
        # Prompts -> (box, voxels in it) of the mask made for them; (None, None) for an empty mask.
        self._masks: OrderedDict[Prompts, tuple[tuple[slice, ...] | None, np.ndarray | None]] = OrderedDict()

    def segment(self, prompts: Prompts, probability: bool = False) -> SegmentationResult:
        previous = self.corrected_mask(prompts) if self.segmenter.spec.previous_mask_channel else None
        result = self.segmenter.segment_roi(self.image, seed=prompts.seeds or None, negative=prompts.negatives or None,
                                            box=prompts.box, previous=previous, probability=probability)
        self._remember(prompts, result.mask.array)
        return result

    def corrected_mask(self, prompts: Prompts) -> Volume | None:
        """The remembered mask of ``prompts`` less one point (the latest used first), or None."""
        candidates = set(one_point_fewer(prompts))
        for known in reversed(self._masks):
            if known in candidates:
                self._masks.move_to_end(known)
                box, voxels = self._masks[known]
                full = np.zeros(self.image.shape, np.uint8)
                if box is not None:
                    full[box] = voxels
                return self.image.with_array(full)
        return None

    def _remember(self, prompts: Prompts, mask: np.ndarray) -> None:
        box = nonzero_box(mask)
        self._masks[prompts] = (box, None if box is None else mask[box].astype(np.uint8))
        self._masks.move_to_end(prompts)
        while len(self._masks) > self.remembered:
            self._masks.popitem(last=False)


def one_point_fewer(prompts: Prompts) -> Iterator[Prompts]:
    """``prompts`` with one of its tumor or not-tumor points left out, each in turn (the box stays)."""
    for i in range(len(prompts.seeds)):
        yield Prompts(prompts.seeds[:i] + prompts.seeds[i + 1:], prompts.negatives, prompts.box)
    for i in range(len(prompts.negatives)):
        yield Prompts(prompts.seeds, prompts.negatives[:i] + prompts.negatives[i + 1:], prompts.box)
