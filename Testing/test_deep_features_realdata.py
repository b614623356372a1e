"""Deep features of real NSCLC crops: from a click (the tumor segmented there) and from the expert's mask
of the same tumor they agree more closely than the features of two different tumors do, wherever the
click's segmentation agrees with the expert's (Dice 0.6 or more; below that they are of other regions)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import data_path, script_module
from ResponsePredictorLib.embedding import deep_extractor
from ResponsePredictorLib.segment.inference import Segmenter
from ResponsePredictorLib.segment.validation import central_seed, dice

pytestmark = pytest.mark.realdata

CROPS = ("002", "003", "004", "005", "008", "011", "014", "016", "017", "018", "020", "023", "024")
AGREEING_DICE = 0.6


def test_a_click_and_the_mask_of_one_tumor_give_its_own_features():
    extractor = deep_extractor("default", device="cpu")
    segmenter = Segmenter(extractor.model.spec, extractor.model.network, device="cpu")
    from_mask, from_click, agreement = [], [], []
    for patient in CROPS:
        image, mask = script_module("nsclc_crops").read_crop(data_path("nsclc_crops", "images", f"patient_{patient}.npz"))
        if not mask.array.any():
            continue  # a crop without a tumor (the data has a few)
        clicked = segmenter.segment_roi(image, seed=central_seed(mask)).mask
        agreement.append(dice(clicked.array, mask.array))
        from_mask.append(list(extractor.extract(image, mask).values()))
        from_click.append(list(extractor.extract(image, clicked).values()))
    masks, clicks = np.array(from_mask), np.array(from_click)
    scale = masks.std(axis=0) + 1e-6  # each feature in units of its spread over the tumors
    nearest = np.linalg.norm((clicks[:, None, :] - masks[None, :, :]) / scale, axis=2).argmin(axis=1)
    agreeing = [index for index, value in enumerate(agreement) if value >= AGREEING_DICE]
    assert len(agreeing) >= 8
    assert [int(nearest[index]) for index in agreeing] == agreeing
