"""pyradiomics' ``weightingNorm``: the angles' matrices summed into one, each weighted by its length.

The length of an angle is its offset in millimetres under the norm named by the setting. The GLCM
weighs an angle by exp(-length^2) (near neighbours count more), the GLRLM by the length itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def angle_weights(
    angles: np.ndarray, spacing: Sequence[float], norm: str, matrix: str, device: torch.device
) -> torch.Tensor:
    """One weight per angle ((k, j, i) offsets; ``spacing`` in (x, y, z) as SimpleITK gives it)."""
    steps = np.abs(angles) * np.asarray(spacing, dtype=np.float64)[::-1]
    if norm == "infinity":
        length = steps.max(1)
    elif norm == "euclidean":
        length = np.sqrt((steps**2).sum(1))
    elif norm == "manhattan":
        length = steps.sum(1)
    else:  # 'no_weighting' (the settings refuse other names)
        return torch.ones(len(angles), dtype=torch.float64, device=device)
    weights = np.exp(-(length**2)) if matrix == "glcm" else length
    return torch.as_tensor(weights, dtype=torch.float64, device=device)
