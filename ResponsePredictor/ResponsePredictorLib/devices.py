"""Where torch work runs: the CPU, or a CUDA GPU when PyTorch sees one (segmentation, feature maps, explanations)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's CPU work on ``count`` threads for the block, the caller's setting back afterwards.

    For work made of many small operations: there a second thread gains nothing, and when another
    process holds a core every parallel operation waits for the thread it displaced (measured: a
    whole-tumor extraction ten times slower with two threads on two busy cores, no faster on idle ones).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
