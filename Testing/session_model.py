"""A small synthetic segmentation model folder and scan on disk, for the tests that start the real
``segment-session`` process (test_segment_session.py, test_slicer_session.py). The engine loads in the
fixture, not with this file: conftest imports it for every test run."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def tiny_case(tmp_path_factory):
    """A model folder (a small U-Net with a not-tumor channel, random weights: its masks are whatever
    they are) and a scan with a bright block, both on disk: (model folder, scan file, scan Volume)."""
    import numpy as np
    import torch

    from ResponsePredictorLib.segment.network import build_network, save_weights
    from ResponsePredictorLib.segment.spec import ModelSpec
    from ResponsePredictorLib.volume import Volume, write_volume

    folder = tmp_path_factory.mktemp("session")
    spec = {"id": "tiny", "version": "1.0.0", "modality": "CT", "inference": "roi",
            "network": {"name": "UNet", "args": {"spatial_dims": 3, "in_channels": 4, "out_channels": 2,
                                                 "channels": [4, 8], "strides": [2], "num_res_units": 1}},
            "spacing": [1.0, 1.0, 1.0], "roi_size": [16, 16, 16], "intensity_window": [-1000, 500],
            "seed_channel": True, "seed_sigma_mm": 3.0, "box_channel": True, "negative_channel": True,
            "license": "CC0 (test weights)"}
    torch.manual_seed(0)
    save_weights(build_network(ModelSpec.from_dict(spec)).eval(), folder / "model" / "weights.safetensors")
    (folder / "model" / "model.json").write_text(json.dumps({**spec, "weights": {"file": "weights.safetensors"}}))
    array = np.full((30, 40, 40), -800, np.int16)
    array[10:20, 15:25, 15:25] = 100
    image = Volume(array, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    write_volume(image, folder / "ct.nrrd")
    return folder / "model", folder / "ct.nrrd", image
