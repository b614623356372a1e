"""GLRLM features (pyradiomics' definitions) from each row's runs, per angle.

The features are averaged over the angles with runs (numpy.nanmean); with ``weightingNorm`` the
angles' matrices are first summed into one, each weighted by its length.
"""

from __future__ import annotations

import torch

from .elements import common_features
from .rows import TextureRows
from .weighting import angle_weights

FEATURES = {
    **common_features(size="Run", non_uniformity="RunLength", gray_emphasis="Run", large="LongRun", small="ShortRun"),
    "RunPercentage": lambda e: e.percentage,
}


def compute(rows: TextureRows, features: list[str]) -> dict[str, torch.Tensor]:
    elements = rows.runs()
    norm = rows.settings.get("weightingNorm")
    if norm is not None:
        offsets = rows.angles(bidirectional=False, distances=[1])
        elements = elements.collapsed(angle_weights(offsets, rows.spacing, norm, "glrlm", elements.weight.device))
    return {name: torch.nanmean(FEATURES[name](elements), 1) for name in features}
