"""The contribution map points at the part of a real tumor that drives the prediction.

On real NSCLC crops, half of each tumor is given a fine texture (voxels alternately raised and
lowered, zero mean) whose strength decides the outcome of a small synthetic cohort. A logistic
model is fitted on the crops' whole-tumor features (GLCM contrast, which the texture raises, and
the mean, which it leaves alone). On a crop the model has never seen, the map must rank the
textured half's voxels above the plain half's; with the outcome reversed the model's weight flips
and so must the map. A random map ranks the halves at chance and an inverted one below it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import data_path
from ResponsePredictorLib.explain import contribution_map
from ResponsePredictorLib.explain.model_inputs import restricted_settings
from ResponsePredictorLib.features import FeatureExtractor, load_settings
from ResponsePredictorLib.volume import Volume
from test_explain import ranking, saved_linear_model

pytestmark = pytest.mark.realdata

CONTRAST, MEAN = "original_glcm_Contrast", "original_firstorder_Mean"
TRAINING_CROPS = ("005", "008", "011", "018")  # small tumors: quick to extract
TEST_CROP = "036"
AMPLITUDES = (0, 30, 60, 90, 120, 150)  # HU of the texture
GRID = dict(spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))


def crop(patient: str) -> tuple[Volume, Volume]:
    data = np.load(data_path("nsclc_crops", "images", f"patient_{patient}.npz"), allow_pickle=False)
    return Volume(data["scan"], **GRID), Volume((data["mask"] > 0).astype(np.uint8), **GRID)


def textured_half(mask: Volume) -> np.ndarray:
    """The tumor voxels at or beyond its median column (i): one half of the tumor."""
    tumor = mask.array > 0
    columns = np.indices(tumor.shape)[2]
    return tumor & (columns >= np.median(columns[tumor]))


def with_texture(image: Volume, region: np.ndarray, amplitude: float) -> Volume:
    """``amplitude`` HU added and subtracted in a 3D checkerboard inside ``region``: contrast up, mean unchanged."""
    checker = np.indices(image.shape).sum(axis=0) % 2 * 2 - 1
    return image.with_array((image.array + region * checker * amplitude).astype(np.int16))


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, np.ndarray, dict]:
    settings = load_settings(preset="ct")
    extractor = FeatureExtractor(restricted_settings([CONTRAST, MEAN], settings))
    rows, outcome = [], []
    for patient in TRAINING_CROPS:
        image, mask = crop(patient)
        half = textured_half(mask)
        for amplitude in AMPLITUDES:
            rows.append(extractor.extract(with_texture(image, half, amplitude), mask).features)
            outcome.append(int(amplitude >= 90))
    return pd.DataFrame(rows)[[CONTRAST, MEAN]], np.array(outcome), settings


@pytest.mark.parametrize("reversed_outcome", [False, True])
def test_contribution_map_is_higher_where_the_outcome_texture_is(cohort, reversed_outcome: bool) -> None:
    table, outcome, settings = cohort
    saved = saved_linear_model(table, 1 - outcome if reversed_outcome else outcome, settings)
    weights = dict(zip(saved.model.pipeline_.encoder.columns_, saved.model.pipeline_.head.learner.coef_))
    assert (weights[CONTRAST] < 0) if reversed_outcome else (weights[CONTRAST] > 0)

    image, mask = crop(TEST_CROP)
    textured = textured_half(mask)
    plain = (mask.array > 0) & ~textured
    heatmap = contribution_map(saved, with_texture(image, textured, 120), mask)
    values = heatmap.volume.array
    auc = ranking(values, textured, plain)
    if reversed_outcome:
        assert auc < 0.1, auc
    else:
        assert auc > 0.9, auc
    # Random maps rank the halves at chance: the threshold above is far from it.
    assert abs(ranking(np.random.default_rng(0).normal(size=values.shape), textured, plain) - 0.5) < 0.05
