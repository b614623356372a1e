"""Deep features: the encoder's view of the tumor as columns, their source recorded, models of them and
their heatmap. A tiny network for the mechanics; the shipped network for what its features can tell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ResponsePredictorLib.embedding import DeepFeatureExtractor, deep_extractor
from ResponsePredictorLib.errors import MaskError, SettingsError
from ResponsePredictorLib.features.recipe import table_recipe
from ResponsePredictorLib.loaded_model import LoadedModel
from ResponsePredictorLib.pipeline import CaseInput, Pipeline
from ResponsePredictorLib.predict import BinaryModel, BinaryOutcome, load_model, save_model
from ResponsePredictorLib.predict.metrics import auc
from ResponsePredictorLib.segment.network import build_network
from ResponsePredictorLib.segment.spec import ModelSpec
from ResponsePredictorLib.volume import Volume
from predict_synthetic import SMALL_GRIDS

TINY = {"id": "tiny", "version": "1.0.0", "modality": "CT", "inference": "roi",
        "network": {"name": "UNet", "args": {"spatial_dims": 3, "in_channels": 4, "out_channels": 2,
                                             "channels": [4, 8], "strides": [2], "num_res_units": 1}},
        "spacing": [1.0, 1.0, 1.0], "roi_size": [16, 16, 16], "intensity_window": [-1000, 500],
        "seed_channel": True, "box_channel": True, "negative_channel": True,
        "feature_layers": ["model.0", "model.1.submodule"]}
AXES = (1, 0, 0, 0, 1, 0, 0, 0, 1)
LIGHT = {"imageType": {"Original": {}}, "featureClass": {"shape": ["MeshVolume"]}, "setting": {"label": 1}}


def tiny_model(**changes) -> LoadedModel:
    torch.manual_seed(0)
    spec = ModelSpec.from_dict({**TINY, **changes})
    return LoadedModel(spec, build_network(spec).eval(), "test", "0" * 64)


def ball_case(radius=4.0, blob=False, seed=0, size=24) -> tuple[Volume, Volume]:
    """A soft-tissue ball in lung, with a bright blob in its upper half when ``blob``."""
    rng = np.random.default_rng(seed)
    k, j, i = np.indices((size, size, size)) - size // 2
    ball = k**2 + j**2 + i**2 <= radius**2
    image = np.where(ball, 40.0, -800.0) + rng.normal(0, 20, ball.shape)
    if blob:
        image[(k + radius / 2) ** 2 + j**2 + i**2 <= (radius / 2.5) ** 2] = 400.0
    return (Volume(image.astype(np.float32), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), AXES),
            Volume(ball.astype(np.uint8), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), AXES))


def test_the_embedding_is_named_repeatable_and_pooled_per_layer():
    extractor = DeepFeatureExtractor(tiny_model(), device="cpu")
    image, mask = ball_case()
    first, second = extractor.extract(image, mask), extractor.extract(image, mask)
    assert first == second
    assert list(first) == [f"deep_{i}" for i in range(4 + 8)]  # the two layers' channels
    assert all(np.isfinite(list(first.values())))
    assert extractor.source == {"model": "tiny", "version": "1.0.0", "weights_sha256": "0" * 64,
                                "layers": ["model.0", "model.1.submodule"], "pooling": "mean over the tumor at each layer"}


def test_a_smaller_tumor_changes_the_embedding_and_an_empty_one_is_refused():
    extractor = DeepFeatureExtractor(tiny_model(), device="cpu")
    image, mask = ball_case(radius=4.0)
    _, small = ball_case(radius=1.0)  # one voxel wide at the coarse layer: still pooled by its share
    assert extractor.extract(image, small) != extractor.extract(image, mask)
    assert all(np.isfinite(list(extractor.extract(image, small).values())))
    with pytest.raises(MaskError, match="empty"):
        extractor.extract(image, mask.with_array(np.zeros_like(mask.array)))


def test_a_model_without_feature_layers_is_refused_clearly():
    with pytest.raises(SettingsError, match="names no feature layer"):
        DeepFeatureExtractor(tiny_model(feature_layers=[]), device="cpu")
    with pytest.raises(SettingsError, match="does not have: model.9"):
        DeepFeatureExtractor(tiny_model(feature_layers=["model.9"]), device="cpu")


def test_a_bundle_without_a_feature_layer_is_refused(tmp_path):
    from ResponsePredictorLib.bundle import export_bundle, load_bundle

    export_bundle(tiny_model(feature_layers=[]), tmp_path / "bundle")
    with pytest.raises(SettingsError, match="names no feature layer"):
        DeepFeatureExtractor(load_bundle(tmp_path / "bundle"), device="cpu")
    export_bundle(tiny_model(), tmp_path / "named")  # the layers travel in the bundle's metadata
    assert DeepFeatureExtractor(load_bundle(tmp_path / "named"), device="cpu").source["layers"] == TINY["feature_layers"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU: the CPU-GPU agreement runs where one is present")
def test_cpu_and_gpu_agree():
    image, mask = ball_case()
    cpu = DeepFeatureExtractor(tiny_model(), device="cpu").extract(image, mask)
    gpu = DeepFeatureExtractor(tiny_model(), device="cuda").extract(image, mask)
    assert np.allclose(list(cpu.values()), list(gpu.values()), rtol=1e-3, atol=1e-4)


def test_the_pipeline_adds_the_deep_features_and_records_their_source():
    pipeline = Pipeline(None, feature_settings=LIGHT, heatmap=None, report=False, deep_features=tiny_model())
    image, mask = ball_case()
    result = pipeline.run(CaseInput("c", image, mask))
    assert "deep_0" in result.features and "original_shape_MeshVolume" in result.features
    assert result.provenance["feature_recipe"]["deep"]["model"] == "tiny"


def test_a_table_of_deep_features_needs_their_source():
    columns = ["original_shape_MeshVolume", "deep_0", "deep_1"]
    with pytest.raises(SettingsError, match="say which model made them"):
        table_recipe(columns, LIGHT, {})
    source = DeepFeatureExtractor(tiny_model(), device="cpu").source
    assert table_recipe(columns, LIGHT, {}, deep=source).deep == source


# -- the shipped network: a synthetic cohort whose outcome is a bright blob the encoder sees ---------------------------

@pytest.fixture(scope="module")
def shipped():
    return deep_extractor("default", device="cpu")


@pytest.fixture(scope="module")
def blob_cohort(shipped):
    rows, outcomes = [], []
    for index in range(40):
        blob = index % 2 == 1
        image, mask = ball_case(radius=9.0, blob=blob, seed=index, size=48)
        rows.append(shipped.extract(image, mask))
        outcomes.append(int(blob))
    table = pd.DataFrame(rows, index=pd.Index([f"c{i}" for i in range(40)], name="case"))
    return table, np.array(outcomes)


def test_a_blob_the_encoder_sees_is_learned(blob_cohort):
    table, outcomes = blob_cohort
    from sklearn.model_selection import StratifiedKFold

    scores = np.zeros(len(table))
    for train, test in StratifiedKFold(4, shuffle=True, random_state=0).split(table, outcomes):
        model = BinaryModel(learner="logistic", param_grid=SMALL_GRIDS["logistic"], n_bootstrap=0, inner_folds=3)
        model.fit(table.iloc[train], outcomes[train])
        scores[test] = model.decision_function(table.iloc[test])
    assert auc(outcomes, scores) > 0.9


@pytest.fixture(scope="module")
def blob_model(blob_cohort, shipped, tmp_path_factory):
    """A model of the blob cohort's deep features, saved with their source."""
    table, outcomes = blob_cohort
    model = BinaryModel(learner="logistic", param_grid=SMALL_GRIDS["logistic"], n_bootstrap=0, inner_folds=3)
    model.fit(table, outcomes)
    folder = tmp_path_factory.mktemp("blob") / "model"
    save_model(model, BinaryOutcome("blob"), folder, {}, "", LIGHT,
               feature_recipe=table_recipe(table.columns, LIGHT, {}, deep=shipped.source).to_dict())
    return folder


def test_the_deep_heatmap_of_a_blob_case_covers_the_tumor_block_by_block(blob_model):
    pipeline = Pipeline(load_model(blob_model), heatmap="contribution", report=False)
    image, mask = ball_case(radius=9.0, blob=True, seed=99, size=48)
    result = pipeline.run(CaseInput("new", image, mask))
    assert result.prediction["probability"] > 0.5
    heatmap = result.heatmap.volume.array
    inside = mask.array > 0
    assert result.heatmap.method == "deep occlusion" and np.isfinite(heatmap).all()
    assert not heatmap[~inside].any()
    # One value per 8 mm block of the coarsest feature layer: a handful of distinct values, not one.
    assert 8 <= len(np.unique(np.round(heatmap[inside], 6))) <= inside.sum() / 100
    # Where the map puts the blob depends on the encoder, not on the method: a block's features see far
    # beyond it (1.6.1's encoder put the blob above the other half of the tumor, 1.7.1's below; see
    # docs/deep_features.md), so no test asserts it.


def test_explain_draws_the_deep_map_of_a_deep_model(blob_model, tmp_path):
    from ResponsePredictorLib.cli import EXIT_OK, main
    from ResponsePredictorLib.explain import read_heatmap
    from ResponsePredictorLib.volume import write_volume

    image, mask = ball_case(radius=9.0, blob=True, seed=7, size=48)
    paths = [write_volume(volume, tmp_path / name) for volume, name in ((image, "ct.nrrd"), (mask, "mask.nrrd"))]
    assert main(["explain", str(blob_model), *map(str, paths), "-o", str(tmp_path / "h.nrrd")]) == EXIT_OK
    assert read_heatmap(tmp_path / "h.nrrd").method == "deep occlusion"


def test_features_command_adds_deep_features_of_a_model_folder(tmp_path):
    import json

    from ResponsePredictorLib.cli import EXIT_OK, main
    from ResponsePredictorLib.segment.network import save_weights
    from ResponsePredictorLib.volume import write_volume

    model = tiny_model()
    save_weights(model.network, tmp_path / "model" / "weights.safetensors")
    (tmp_path / "model" / "model.json").write_text(json.dumps({**TINY, "weights": {"file": "weights.safetensors"}}))
    image, mask = ball_case()
    paths = [write_volume(volume, tmp_path / name) for volume, name in ((image, "ct.nrrd"), (mask, "mask.nrrd"))]
    assert main(["features", *map(str, paths), "--preset", "ct", "--deep", str(tmp_path / "model"), "--device", "cpu",
                 "-o", str(tmp_path / "f.csv")]) == EXIT_OK
    table = pd.read_csv(tmp_path / "f.csv")
    expected = DeepFeatureExtractor(model, device="cpu").extract(image, mask)
    assert table["deep_11"][0] == pytest.approx(expected["deep_11"], rel=1e-6)
