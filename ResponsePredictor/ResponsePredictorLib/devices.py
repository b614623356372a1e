"""Where torch work runs: the CPU, or a CUDA GPU when PyTorch sees one (segmentation, feature maps, explanations).

torch is imported inside the functions: Slicer's panel checks a device name (``DEVICES``) in a
process that has no torch until its first use installs it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: the GPU when PyTorch sees one, else the CPU; ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` as given."""
    import torch

    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"Unknown device {device!r}; use one of {', '.join(DEVICES)}.") from None
    if resolved.type not in ("cpu", "cuda"):
        raise InputError(f"Unknown device {device!r}; use one of {', '.join(DEVICES)}.")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device={str(device)!r} was asked for but PyTorch sees no GPU here; use device='cpu' or 'auto'.")
    return resolved


# torch's thread count is one setting for the whole process: blocks that lower it (possibly on several
# threads at once, as in a Dask cohort) share it, and the first one in saves the setting that the last
# one out restores.
_threads_lock = threading.Lock()
_threads_users = 0
_threads_before = 0


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's CPU work on ``count`` threads for the block, the process's setting back when the last such block ends.

    For work made of many small operations: there a second thread gains nothing, and when another
    process holds a core every parallel operation waits for the thread it displaced.
    """
    import torch

    global _threads_users, _threads_before
    with _threads_lock:
        if _threads_users == 0:
            _threads_before = torch.get_num_threads()
        _threads_users += 1
        torch.set_num_threads(count)
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                torch.set_num_threads(_threads_before)
