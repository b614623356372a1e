"""pyradiomics' gray-level discretisation (getBinEdges, binImage).

The arithmetic runs in the numpy types of the values given, as in pyradiomics: a float32 image gets
float32 bin edges by bin count and a float32 lower bound by bin width, which can put a voxel at a
bin edge into another bin than float64 arithmetic would. Which type pyradiomics bins in depends on
the feature class: see ``first_order_values``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...errors import SettingsError


def bin_edges(values: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
    """pyradiomics' getBinEdges of the region's values (1D).

    ``binCount`` (when set): numpy's histogram edges, the last raised by 1 so that the maximum falls
    in the top bin. Otherwise ``binWidth`` (25): edges at multiples of the width from the one at or
    below the minimum to two widths past the maximum, so every bin is half open [lower, upper) and a
    flat region gets one bin. (pyradiomics' guard for a single edge, which makes it a bin of width 1,
    is kept; only rounding that swallows the two extra widths can reach it.)
    """
    bin_count = settings.get("binCount")
    if bin_count is not None:
        if not bin_count > 0:
            raise SettingsError(f"'binCount' must be a positive whole number, not {bin_count!r}.")
        edges = np.histogram_bin_edges(values, bin_count)
        edges[-1] += 1
        return edges
    width = settings.get("binWidth", 25)
    if not width > 0:
        raise SettingsError(f"'binWidth' must be positive, not {width!r}.")
    low, high = values.min(), values.max()
    # The two extra widths make the maximum fall inside the range and below the last edge.
    edges = np.arange(low - low % width, high + 2 * width, width)
    if edges.size == 1:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    return edges


def bin_image(values: np.ndarray, region: np.ndarray, settings: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """pyradiomics' binImage: int64 gray levels, 1..Ng inside ``region`` (bool, same shape) and 0 outside,
    with the bin edges computed from the region's values."""
    gray = np.zeros(values.shape, dtype=np.int64)
    inside = values[region]
    edges = bin_edges(inside, settings)
    gray[region] = np.digitize(inside, edges)
    return gray, edges


def first_order_values(values: np.ndarray, voxel_based: bool) -> np.ndarray:
    """The array pyradiomics' first-order class discretises: in voxel-based extraction its set-up casts the
    image's values to float64 first; otherwise, as for every texture class, they keep their own type."""
    return values.astype(np.float64, copy=False) if voxel_based else values
