"""What a heatmap's numbers are: the model's decision value (log-odds or risk score), its units and
which direction is the predicted outcome."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..predict import SavedModel
from ..prediction_text import event_words

# The learner's decision value, as ``predict.learners`` defines it.
SCORE_UNITS = {
    "logistic": "log-odds",
    "lightgbm": "log-odds",
    "ensemble": "log-odds",  # the mean of its members' log-odds
    "coxnet": "risk score (log hazard ratio)",
    "rsf": "risk score (expected events)",
}


def score_units(saved: SavedModel) -> str:
    return SCORE_UNITS.get(saved.model.learner, "decision value")


def towards(saved: SavedModel) -> str:
    """What a positive contribution pushes towards, in words."""
    outcome = saved.outcome
    if outcome.kind == "survival":
        event = event_words(outcome.to_dict(), str(saved.card.get("outcome", {}).get("definition", "")))
        return f"a higher risk of {event} (shorter {outcome.time})"
    return f"a higher probability of {outcome.column} = 1"


def model_rows(saved: SavedModel, values: Mapping[str, Any], count: int) -> pd.DataFrame:
    """``count`` rows of the model's table from ``values`` (a number, or an array of ``count``, per column).

    Columns without a value are left empty: the model does not use them, or imputes them as it was trained to
    (a harmonised model's centre column must have its value: ComBat refuses an empty one).
    """
    columns = saved.model.feature_names_in_
    return pd.DataFrame({column: values.get(column, np.nan) for column in columns}, index=pd.RangeIndex(count, name="case"))
