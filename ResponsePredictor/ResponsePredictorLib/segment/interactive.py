"""A scan segmented click by click: each new set of prompts corrects the mask of the set it extends.

A model with a previous-mask channel is shown the mask a click corrects (RITM, DeepEdit). In an
interactive session that is the mask of the same prompts without the newest point, which the session
has just made: remembering the masks it made keeps each refinement to one network pass, also after
an Undo (the prompts before it were segmented earlier) and when points came faster than the session
answered (the mask of the most points among them corrects them all). Prompts that extend nothing
remembered (the first point moved) are replayed by ``Segmenter.segment_roi`` itself.
"""

from __future__ import annotations

from collections import OrderedDict

from ..volume import Volume, nonzero_crop, onto_grid
from .inference import SegmentationResult, Segmenter
from .prompts import Prompts

# Masks remembered per session, each cut to its tumor's box (about 1 MB for a 10 cm tumor).
REMEMBERED_MASKS = 64


class InteractiveSegmenter:
    """Segments ``image`` for each set of prompts a user makes, remembering the masks it made for a model
    that is shown the mask a click corrects."""

    def __init__(self, segmenter: Segmenter, image: Volume, remembered: int = REMEMBERED_MASKS) -> None:
        self.segmenter = segmenter
        self.image = image
        self.remembered = remembered
        # Prompts -> the mask made for them, cut to its tumor's box (None: empty).
        self._masks: OrderedDict[Prompts, Volume | None] = OrderedDict()

    def segment(self, prompts: Prompts, probability: bool = False) -> SegmentationResult:
        corrects = self.segmenter.spec.previous_mask_channel
        result = self.segmenter.segment_roi(self.image, seed=prompts.seeds or None, negative=prompts.negatives or None,
                                            box=prompts.box, previous=self.corrected_mask(prompts) if corrects else None,
                                            probability=probability)
        if corrects:
            self._masks[prompts] = nonzero_crop(result.mask)
            self._masks.move_to_end(prompts)
            while len(self._masks) > self.remembered:
                self._masks.popitem(last=False)
        return result

    def corrected_mask(self, prompts: Prompts) -> Volume | None:
        """The remembered mask that ``prompts`` correct: of the remembered prompts that ``prompts`` extend
        (the same box, some points more), those with the most points, the latest used first; or None."""
        best, fewest_new = None, None
        for known in reversed(self._masks):
            new = points_added(known, prompts)
            if new is not None and (fewest_new is None or new < fewest_new):
                best, fewest_new = known, new
        if best is None:
            return None
        self._masks.move_to_end(best)
        return onto_grid(self._masks[best], self.image)


def points_added(earlier: Prompts, later: Prompts) -> int | None:
    """How many points ``later`` adds to ``earlier`` (at least one); None unless ``later`` holds every point of
    ``earlier``, of the same kind, and the same box."""
    if earlier.box != later.box or not (set(earlier.seeds) <= set(later.seeds)
                                        and set(earlier.negatives) <= set(later.negatives)):
        return None
    added = len(set(later.seeds) - set(earlier.seeds)) + len(set(later.negatives) - set(earlier.negatives))
    return added or None
