"""Synthetic feature tables for the prediction tests: no external data, seconds to fit.

A few informative columns, noise columns, a nearly duplicated column, a constant column and a text
column, like a small radiomics table with a clinical covariate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from ResponsePredictorLib.predict.table import SURVIVAL_DTYPE

# One setting per learner: tests that fit many models stay fast.
SMALL_GRIDS = {
    "logistic": {"C": [0.3], "l1_ratio": [1.0]}, "lightgbm": {"min_child_samples": [10], "feature_fraction": [0.5]},
    "ensemble": {"C": [0.3], "min_child_samples": [10]}, "coxnet": {"l1_ratio": [0.5], "alpha_ratio": [0.1]},
    "rsf": {"min_samples_leaf": [10]},
}


def feature_table(n: int = 80, noise: int = 8, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(rng.normal(size=(n, 3 + noise)), columns=["signal_a", "signal_b", "signal_c"] + [f"noise_{i}" for i in range(noise)])
    table["signal_a_copy"] = table["signal_a"] + rng.normal(scale=0.01, size=n)  # dropped as correlated
    table["constant"] = 1.0  # dropped as constant
    table["histology"] = rng.choice(["adeno", "squamous", "large"], size=n)
    table.index = pd.Index([f"case{i:03d}" for i in range(n)], name="case")
    return table


def linear_predictor(table: pd.DataFrame) -> np.ndarray:
    return 2.0 * table["signal_a"] - 1.5 * table["signal_b"] + 1.0 * (table["histology"] == "adeno")


def binary_outcome(table: pd.DataFrame, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random(len(table)) < 1 / (1 + np.exp(-linear_predictor(table).to_numpy()))).astype(int)


def survival_outcome(table: pd.DataFrame, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    event_time = rng.exponential(500 * np.exp(-0.8 * linear_predictor(table).to_numpy()))
    censor_time = rng.uniform(100, 1500, len(table))
    y = np.empty(len(table), dtype=SURVIVAL_DTYPE)
    y["event"], y["time"] = event_time <= censor_time, np.round(np.minimum(event_time, censor_time), 1) + 1
    return y


def with_outcomes(table: pd.DataFrame) -> pd.DataFrame:
    """The table as a user's CSV would hold it: a case column, the features and both kinds of outcome."""
    survival = survival_outcome(table)
    return table.assign(responder=binary_outcome(table), time=survival["time"], event=survival["event"].astype(int)).reset_index()


VOLUME = "original_shape_MeshVolume"


def radiomics_table(n: int, seed: int) -> pd.DataFrame:
    """A radiomics table as the engine writes it, with clinical columns: volume, features that partly
    follow volume (as many do), independent texture features, age and stage."""
    rng = np.random.default_rng(seed)
    log_volume = rng.normal(10, 1, n)
    table = pd.DataFrame({VOLUME: np.exp(log_volume), "original_shape_VoxelVolume": np.exp(log_volume) * 1.01})
    for i in range(6):  # follow volume, plus noise
        table[f"original_glszm_Feature{i}"] = log_volume + rng.normal(0, 1.5, n)
    for i in range(8):  # independent of volume
        table[f"wavelet-LLH_glcm_Feature{i}"] = rng.normal(0, 1, n)
    table["age"] = rng.normal(65, 8, n)
    table["stage"] = rng.choice(["I", "II", "III"], n)
    table.index = pd.Index([f"case{i:03d}" for i in range(n)], name="case")
    return table


def with_binary_outcome(table: pd.DataFrame, linear: np.ndarray, seed: int) -> pd.DataFrame:
    """The table with a 0/1 'responder' column drawn with log-odds ``linear``."""
    rng = np.random.default_rng(seed)
    return table.assign(responder=(rng.random(len(table)) < 1 / (1 + np.exp(-linear))).astype(int))
