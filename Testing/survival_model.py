"""A small saved survival model with voxel-wise radiomic inputs and the NSCLC clinical covariates.

Tests of the case pipeline, its heatmap and its report need a model that reads both kinds of input;
the shipped default uses whatever its training rule chose (today tumor volume alone). This one is
fitted in a second on synthetic patients whose features vary around the bundled sample case's (the
`ct` preset), so real crops sit inside its training range and their contributions take both signs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from predict_synthetic import SMALL_GRIDS

from ResponsePredictorLib.features import FeatureExtractor, load_settings
from ResponsePredictorLib.predict import SavedModel, SurvivalModel, SurvivalOutcome, load_model, save_model
from ResponsePredictorLib.predict.table import SURVIVAL_DTYPE
from ResponsePredictorLib.resources import sample_case
from ResponsePredictorLib.volume import read_mask, read_volume

MAPPED = ("original_firstorder_Mean", "original_firstorder_Entropy", "original_glcm_Contrast")
CLINICAL = {"age": 66.0, "Tstage": 2, "Nstage": 0, "Mstage": 0, "Histology": "adenocarcinoma"}
HISTOLOGY = ("adenocarcinoma", "squamous cell carcinoma", "large cell", "nos")
CASES = 80


def radiomics_survival_model(folder: Path) -> SavedModel:
    """A coxnet model on ``MAPPED`` and the clinical covariates, saved with the `ct` preset into ``folder``."""
    settings = load_settings(preset="ct")
    sample = sample_case()
    image = read_volume(sample.image)
    around = FeatureExtractor(settings).extract(image, read_mask(sample.mask, image)).features
    rng = np.random.default_rng(0)
    table = pd.DataFrame({name: around[name] * (1 + 0.3 * rng.normal(size=CASES)) for name in MAPPED})
    table["age"] = rng.normal(66, 9, CASES).round()
    table["Tstage"] = rng.integers(1, 5, CASES)
    table["Nstage"] = rng.integers(0, 4, CASES)
    table["Mstage"] = rng.integers(0, 2, CASES)
    table["Histology"] = rng.choice(HISTOLOGY, CASES)
    table.index = pd.Index([f"p{i:03d}" for i in range(CASES)], name="case")
    standard = (table[list(MAPPED)] - table[list(MAPPED)].mean()) / table[list(MAPPED)].std()
    # Opposite signs, so that a case's contributions are red and blue.
    risk = standard[MAPPED[0]] - standard[MAPPED[1]] + 0.5 * standard[MAPPED[2]] + 0.4 * table["Tstage"]
    event_time = rng.exponential(700 * np.exp(-risk.to_numpy()))
    censor_time = rng.uniform(200, 1500, CASES)
    y = np.empty(CASES, dtype=SURVIVAL_DTYPE)
    y["event"], y["time"] = event_time <= censor_time, np.minimum(event_time, censor_time).round(1) + 1
    model = SurvivalModel(learner="coxnet", param_grid=SMALL_GRIDS["coxnet"], n_bootstrap=5, horizon=730.5).fit(table, y)
    save_model(model, SurvivalOutcome("time", "event"), folder, {"name": "test survival model"}, "# test\n", settings)
    return load_model(folder)
