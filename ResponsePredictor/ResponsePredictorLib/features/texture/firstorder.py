"""First-order features: statistics of the voxel values of each row (pyradiomics' definitions)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np
import torch

from .grouping import EPS, count_equal, weighted_mean
from .rows import TextureRows


def _moment(values: torch.Tensor, order: int) -> torch.Tensor:
    return torch.nanmean((values - torch.nanmean(values, 1, keepdim=True)) ** order, 1)


def _standardised_moment(values: torch.Tensor, order: int) -> torch.Tensor:
    m2 = _moment(values, 2)
    # pyradiomics replaces a zero variance by 1 (flat kernels give m_k = 0, hence 0).
    return _moment(values, order) / torch.where(m2 == 0, 1.0, m2) ** (order / 2)


class _Percentiles:
    """Percentiles of each row with numpy.nanpercentile's linear interpolation, from one sort of the rows."""

    def __init__(self, values: torch.Tensor) -> None:
        self.values = values

    @cached_property
    def ordered(self) -> torch.Tensor:
        return torch.sort(self.values, dim=1).values  # NaN (no voxel) sorts last

    @cached_property
    def last(self) -> torch.Tensor:
        return (~torch.isnan(self.values)).sum(1, keepdim=True) - 1

    def __call__(self, q: float) -> torch.Tensor:
        position = self.last.to(torch.float64) * (q / 100.0)
        below = position.floor().to(torch.int64)
        low = self.ordered.gather(1, below)
        high = self.ordered.gather(1, torch.minimum(below + 1, self.last))
        return (low + (high - low) * (position - below)).squeeze(1)


def _histogram_mean(rows: TextureRows, function: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """sum over the row's gray levels of p f(p), p the share of the row's voxels at that level: the mean
    over the row's voxels of f(p of the voxel's level)."""
    gray = rows.first_order_gray
    present = (gray > 0).to(torch.int32)
    share = count_equal(gray, present).to(torch.float64) / present.sum(1, keepdim=True)
    return weighted_mean(function(share), present)


def _robust_mean_absolute_deviation(values: torch.Tensor, percentile: _Percentiles) -> torch.Tensor:
    low, high = percentile(10)[:, None], percentile(90)[:, None]
    kept = torch.where((values >= low) & (values <= high), values, torch.nan)
    return torch.nanmean(torch.abs(kept - torch.nanmean(kept, 1, keepdim=True)), 1)


def compute(rows: TextureRows, features: list[str]) -> dict[str, torch.Tensor]:
    x = rows.values
    shift = float(rows.settings.get("voxelArrayShift", 0))
    voxel_volume = float(np.prod(rows.spacing))
    percentile = _Percentiles(x)
    count = (~torch.isnan(x)).sum(1).to(torch.float64)
    definitions: dict[str, Callable[[], torch.Tensor]] = {
        "Energy": lambda: torch.nansum((x + shift) ** 2, 1),
        "TotalEnergy": lambda: torch.nansum((x + shift) ** 2, 1) * voxel_volume,
        "Entropy": lambda: _histogram_mean(rows, lambda p: -torch.log2(p + EPS)),
        "Uniformity": lambda: _histogram_mean(rows, lambda p: p),
        "Minimum": lambda: torch.amin(torch.nan_to_num(x, nan=torch.inf), 1),
        "Maximum": lambda: torch.amax(torch.nan_to_num(x, nan=-torch.inf), 1),
        "Range": lambda: torch.amax(torch.nan_to_num(x, nan=-torch.inf), 1) - torch.amin(torch.nan_to_num(x, nan=torch.inf), 1),
        "Mean": lambda: torch.nanmean(x, 1),
        "Median": lambda: percentile(50),
        "10Percentile": lambda: percentile(10),
        "90Percentile": lambda: percentile(90),
        "InterquartileRange": lambda: percentile(75) - percentile(25),
        "MeanAbsoluteDeviation": lambda: torch.nanmean(torch.abs(x - torch.nanmean(x, 1, keepdim=True)), 1),
        "RobustMeanAbsoluteDeviation": lambda: _robust_mean_absolute_deviation(x, percentile),
        "RootMeanSquared": lambda: torch.sqrt(torch.nansum((x + shift) ** 2, 1) / count),
        "Variance": lambda: _moment(x, 2),
        "StandardDeviation": lambda: _moment(x, 2).sqrt(),  # deprecated: computed only when asked for by name
        "Skewness": lambda: _standardised_moment(x, 3),
        "Kurtosis": lambda: _standardised_moment(x, 4),
    }
    return {name: definitions[name]() for name in features}
