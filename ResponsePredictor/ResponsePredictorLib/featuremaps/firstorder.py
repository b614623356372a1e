"""First-order feature maps: statistics of the region's voxel values in each kernel (pyradiomics' definitions)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .grouping import EPS, count_equal, sum_over_cells
from .kernels import Kernels


def _moment(values: torch.Tensor, order: int) -> torch.Tensor:
    return torch.nanmean((values - torch.nanmean(values, 1, keepdim=True)) ** order, 1)


def _standardised_moment(values: torch.Tensor, order: int) -> torch.Tensor:
    m2 = _moment(values, 2)
    # pyradiomics replaces a zero variance by 1 (flat kernels give m_k = 0, hence 0).
    return _moment(values, order) / torch.where(m2 == 0, 1.0, m2) ** (order / 2)


def _percentile(values: torch.Tensor, q: float) -> torch.Tensor:
    return torch.nanquantile(values, q / 100.0, dim=1)  # linear interpolation, as numpy.nanpercentile


def _histogram_probability_sum(kernels: Kernels, function: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """sum over the kernel's gray levels of f(p), p the share of the kernel's region voxels at that level."""
    gray = kernels.first_order_gray
    valid = gray > 0
    counts = count_equal(gray, valid)
    total = valid.sum(1, keepdim=True).to(torch.float64)
    return sum_over_cells(function(counts / total), counts, valid)


def _robust_mean_absolute_deviation(values: torch.Tensor) -> torch.Tensor:
    low, high = _percentile(values, 10)[:, None], _percentile(values, 90)[:, None]
    kept = torch.where((values >= low) & (values <= high), values, torch.nan)
    return torch.nanmean(torch.abs(kept - torch.nanmean(kept, 1, keepdim=True)), 1)


def compute(kernels: Kernels, features: list[str]) -> dict[str, torch.Tensor]:
    x = kernels.values
    settings = kernels.volume.image.settings
    shift = float(settings.get("voxelArrayShift", 0))
    voxel_volume = float(np.prod(kernels.volume.image.grid.GetSpacing()))
    count = (~torch.isnan(x)).sum(1).to(torch.float64)
    definitions: dict[str, Callable[[], torch.Tensor]] = {
        "Energy": lambda: torch.nansum((x + shift) ** 2, 1),
        "TotalEnergy": lambda: torch.nansum((x + shift) ** 2, 1) * voxel_volume,
        "Entropy": lambda: _histogram_probability_sum(kernels, lambda p: -p * torch.log2(p + EPS)),
        "Uniformity": lambda: _histogram_probability_sum(kernels, lambda p: p**2),
        "Minimum": lambda: torch.amin(torch.nan_to_num(x, nan=torch.inf), 1),
        "Maximum": lambda: torch.amax(torch.nan_to_num(x, nan=-torch.inf), 1),
        "Range": lambda: torch.amax(torch.nan_to_num(x, nan=-torch.inf), 1) - torch.amin(torch.nan_to_num(x, nan=torch.inf), 1),
        "Mean": lambda: torch.nanmean(x, 1),
        "Median": lambda: _percentile(x, 50),
        "10Percentile": lambda: _percentile(x, 10),
        "90Percentile": lambda: _percentile(x, 90),
        "InterquartileRange": lambda: _percentile(x, 75) - _percentile(x, 25),
        "MeanAbsoluteDeviation": lambda: torch.nanmean(torch.abs(x - torch.nanmean(x, 1, keepdim=True)), 1),
        "RobustMeanAbsoluteDeviation": lambda: _robust_mean_absolute_deviation(x),
        "RootMeanSquared": lambda: torch.sqrt(torch.nansum((x + shift) ** 2, 1) / count),
        "Variance": lambda: _moment(x, 2),
        "Skewness": lambda: _standardised_moment(x, 3),
        "Kurtosis": lambda: _standardised_moment(x, 4),
    }
    return {name: definitions[name]() for name in features}
