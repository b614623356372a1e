"""``train_segmentation.py --store-half``: earlier weights stored in float16 as a new catalog version,
their record kept (the training that made them) and the source named; refused for weights the
results file does not describe or without a new version. Recorded weights are validated only on the
crops held back from their training."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import torch
from safetensors.torch import load_file

from conftest import REPO_ROOT
from ResponsePredictorLib.files import sha256_file
from ResponsePredictorLib.segment.network import build_network, save_weights
from ResponsePredictorLib.segment.spec import ModelSpec

NETWORK = {"name": "UNet", "args": {"spatial_dims": 3, "in_channels": 2, "out_channels": 2, "channels": [8, 16],
                                    "strides": [2], "num_res_units": 1}}


def _script():
    sys.path.insert(0, str(REPO_ROOT / "scripts"))  # for the modules the script imports beside it
    spec = importlib.util.spec_from_file_location("train_segmentation", REPO_ROOT / "scripts" / "train_segmentation.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def _spec(version: str) -> ModelSpec:
    return ModelSpec.from_dict(dict(id="t", version=version, modality="CT", network=NETWORK, spacing=[1, 1, 1],
                                    roi_size=[32, 32, 32], intensity_window=[-1000, 500]))


@pytest.fixture
def earlier(tmp_path):
    """Float32 weights of version 1.0.0 and the results file of the run that wrote them."""
    weights = save_weights(build_network(_spec("1.0.0")).eval(), tmp_path / "t-1.0.0.safetensors")
    results = tmp_path / "results.json"
    record = {"model": "t", "version": "1.0.0", "training": {"steps_done": 7},
              "weights": {"file": weights.name, "sha256": sha256_file(weights), "size": weights.stat().st_size}}
    results.write_text(json.dumps(record))
    return weights, results


def test_stored_half_is_a_new_version_that_names_its_source(earlier, tmp_path):
    weights, results = earlier
    record, network = _script().half_of_recorded(_spec("1.0.1"), weights, tmp_path / "out", results, "abc123")
    half = tmp_path / "out" / "t-1.0.1.safetensors"
    assert record["weights"] == {"file": half.name, "sha256": sha256_file(half), "size": half.stat().st_size,
                                 "stored_as": "float16"}
    assert record["version"] == "1.0.1" and record["training"] == {"steps_done": 7}
    assert record["stored_from"]["version"] == "1.0.0" and record["stored_from"]["sha256"] == sha256_file(weights)
    assert record["storage"]["code"] == "abc123"
    stored = load_file(str(half))
    assert all(tensor.dtype == torch.float16 for tensor in stored.values() if tensor.is_floating_point())
    # The network returned for validation holds the rounded weights that ship, not the float32 source.
    for name, tensor in network.state_dict().items():
        assert torch.equal(tensor, stored[name].float())


def test_store_half_refuses_weights_the_record_does_not_describe_or_an_unchanged_version(earlier, tmp_path):
    weights, results = earlier
    script = _script()
    other = save_weights(build_network(_spec("1.0.0")), tmp_path / "other.safetensors")
    with pytest.raises(SystemExit, match="results file of the run that wrote it"):
        script.half_of_recorded(_spec("1.0.1"), other, tmp_path / "out", results, "abc123")
    with pytest.raises(SystemExit, match="new version in Models.json"):
        script.half_of_recorded(_spec("1.0.0"), weights, tmp_path / "out", results, "abc123")


def test_a_fine_tuning_from_stored_weights_names_the_version_that_trained_them(earlier, tmp_path):
    weights, results = earlier
    script = _script()
    record, _ = script.half_of_recorded(_spec("1.0.1"), weights, tmp_path / "out", results, "abc123")
    results.write_text(json.dumps(record))
    stages = script.lineage(tmp_path / "out" / "t-1.0.1.safetensors", results)["stages"]
    assert stages[-1]["version"] == "1.0.1" and stages[-1]["stored_from"] == "1.0.0"
    assert stages[-1]["training"] == {"steps_done": 7}


def test_recorded_weights_are_validated_only_on_the_crops_held_back_from_them():
    check_split = _script().check_split
    record = {"split": {"training_ids": [1, 2]}}
    check_split(record, [{"id": 2}, {"id": 1}])
    # A data folder with more crops splits differently: training crops would land among the validation ones.
    with pytest.raises(SystemExit, match="models validate"):
        check_split(record, [{"id": 1}, {"id": 3}])
