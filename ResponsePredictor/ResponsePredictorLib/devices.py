"""Where torch work runs: the CPU, or a CUDA GPU when PyTorch sees one (segmentation, feature maps, explanations)."""

from __future__ import annotations

import torch

from .errors import InputError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: the GPU when PyTorch sees one, else the CPU; ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` as given."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"Unknown device {device!r}; use 'auto', 'cpu' or 'cuda'.") from None
    if resolved.type not in ("cpu", "cuda"):
        raise InputError(f"Unknown device {device!r}; use 'auto', 'cpu' or 'cuda'.")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device={str(device)!r} was asked for but PyTorch sees no GPU here; use device='cpu' or 'auto'.")
    return resolved
