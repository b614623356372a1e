"""Per-patient explanations as a table: the features that moved this patient's prediction most."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .pipeline import BASELINE


def top_contributions(contributions: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """For each case the ``top`` features by absolute contribution: ``feature_k`` and ``contribution_k``.

    ``contributions`` is ``OutcomeModel.contributions(X)``; its baseline column is left out.
    """
    shares = contributions.drop(columns=BASELINE)
    top = min(top, shares.shape[1])
    order = np.argsort(-np.abs(shares.to_numpy()), axis=1, kind="stable")[:, :top]
    names = np.asarray(shares.columns, dtype=object)[order]
    values = np.take_along_axis(shares.to_numpy(), order, axis=1)
    columns: dict[str, np.ndarray] = {}
    for k in range(top):
        columns[f"feature_{k + 1}"] = names[:, k]
        columns[f"contribution_{k + 1}"] = values[:, k]
    return pd.DataFrame(columns, index=contributions.index)
