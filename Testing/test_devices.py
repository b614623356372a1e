"""Device names and torch's thread setting (ResponsePredictorLib.devices)."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import torch

from ResponsePredictorLib.devices import DEVICES, resolve_device, torch_threads
from ResponsePredictorLib.errors import InputError


def test_names_resolve_or_are_refused_with_the_choices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(InputError, match="auto, cpu, cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no GPU"):
            resolve_device("cuda")


def test_the_device_names_need_no_torch():
    # Slicer's panel checks a device name before its first use has installed torch.
    code = "import sys; from ResponsePredictorLib.devices import DEVICES; print(DEVICES, 'torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"{DEVICES} False"


def test_overlapping_blocks_on_threads_restore_the_setting_once_all_have_ended():
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first():
        with torch_threads(target):
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with torch_threads(target):
            second_in.set()
            first_out.wait(5)
            seen.append(torch.get_num_threads())  # the first block ended: still the block's count here

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == [target]
    assert torch.get_num_threads() == before
