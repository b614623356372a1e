"""Segmentation: geometry of the ROI and whole-volume paths, post-processing, training, the shipped model.

The geometry tests use a stand-in network that thresholds its input, so the expected mask is known
exactly: any error in cropping, orientation, resampling, inversion or pasting shows as lost Dice.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ResponsePredictorLib.catalog import load_model
from ResponsePredictorLib.errors import InputError
from ResponsePredictorLib.resources import resource_path
from ResponsePredictorLib.segment.inference import RegionError, Segmenter
from ResponsePredictorLib.segment.network import WeightsError, build_network, load_weights, save_weights
from ResponsePredictorLib.segment.postprocess import fill_holes, keep_component
from ResponsePredictorLib.segment.spec import ModelSpec, ModelSpecError
from ResponsePredictorLib.segment.training import (
    TrainingConfig,
    _RandThickSlices,
    _AddGuidance,
    _RandGuidedCrop,
    train,
    training_sample,
)
from ResponsePredictorLib.segment.validation import central_seed, dice
from ResponsePredictorLib.volume import Volume, read_volume

OBLIQUE = (0.8, 0.6, 0.0, -0.6, 0.8, 0.0, 0.0, 0.0, 1.0)
SPEC = dict(id="t", version="0", modality="CT", network={"name": "UNet", "args": {}}, spacing=[1, 1, 1],
            roi_size=[64, 64, 64], intensity_window=[-1000, 500])


class ThresholdNetwork(torch.nn.Module):
    """Logits saying 'tumor' wherever input ``channel`` is above 0.5: for the image (0), above the
    middle of the window; for a box channel, exactly inside the box."""

    def __init__(self, channel: int = 0) -> None:
        super().__init__()
        self.channel = channel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tumor = (x[:, self.channel:self.channel + 1] > 0.5).float() * 20 - 10
        return torch.cat([-tumor, tumor], dim=1)


def sphere_case(direction=OBLIQUE, spacing=(0.7, 0.7, 4.0), radius_mm=15.0):
    shape = (41, 150, 160)
    centre = np.array([100, 70, 20])  # i, j, k
    k, j, i = np.indices(shape)
    distance = np.linalg.norm((np.stack([i, j, k], -1) - centre) * np.array(spacing), axis=-1)
    truth = distance < radius_mm
    array = np.where(truth, 100, -800).astype(np.int16)
    image = Volume(array, spacing, (10.0, -20.0, 30.0), direction)
    return image, truth, centre


@pytest.fixture
def segmenter():
    return Segmenter(ModelSpec.from_dict(SPEC), ThresholdNetwork(), device="cpu")


@pytest.mark.parametrize("direction", [(1, 0, 0, 0, 1, 0, 0, 0, 1), OBLIQUE])
def test_seed_box_and_whole_volume_map_back_exactly(segmenter, direction):
    image, truth, centre = sphere_case(direction)
    seed = tuple(image.index_to_physical(centre + [3, -2, 1]))
    by_seed = segmenter.segment_roi(image, seed=seed, probability=True)
    assert dice(by_seed.mask.array, truth) > 0.97 and by_seed.warnings == []
    assert by_seed.mask.same_grid(image) and by_seed.mask.array.dtype == np.uint8
    assert by_seed.probability.array.dtype == np.uint8 and by_seed.probability.array.max() == 255
    corners = image.index_to_physical(centre - [30, 30, 6]), image.index_to_physical(centre + [30, 30, 6])
    by_box = segmenter.segment_roi(image, box=(*corners[0], *corners[1]))
    assert dice(by_box.mask.array, truth) > 0.97
    assert dice(segmenter.segment_volume(image, seed=seed).mask.array, truth) > 0.97


@pytest.mark.parametrize("direction", [(1, 0, 0, 0, 1, 0, 0, 0, 1), OBLIQUE])
def test_a_box_guided_model_is_shown_the_users_box_and_a_click_shows_none(direction):
    spec = ModelSpec.from_dict({**SPEC, "box_channel": True})
    segmenter = Segmenter(spec, ThresholdNetwork(channel=2), device="cpu")  # the box channel
    image, _, centre = sphere_case(direction)
    low, high = image.index_to_physical(centre - [20, 12, 3]), image.index_to_physical(centre + [10, 25, 2])
    box = (*low, *high)
    # On an oblique grid the box (axis-aligned in LPS) covers the voxels of its corners' index range.
    corners = np.array([image.physical_to_index(np.where(c, high, low)) for c in np.ndindex(2, 2, 2)])
    first, last = np.round(corners.min(axis=0)).astype(int), np.round(corners.max(axis=0)).astype(int)
    drawn = np.zeros(image.array.shape, bool)
    drawn[first[2]:last[2] + 1, first[1]:last[1] + 1, first[0]:last[0] + 1] = True
    assert dice(segmenter.segment_roi(image, box=box).mask.array, drawn) > 0.95
    clicked = segmenter.segment_roi(image, seed=tuple(image.index_to_physical(centre)))
    assert not clicked.mask.array.any()


def test_a_model_trained_on_crops_sees_only_their_extent_around_the_click():
    spec = ModelSpec.from_dict({**SPEC, "context_mm": 40})
    assert spec.context_mm == 40.0 and ModelSpec.from_dict(spec.to_dict()) == spec
    # A scan bright everywhere: the threshold network marks all it is shown as tumor.
    image = Volume(np.full((100, 100, 100), 100, np.int16), (0.8, 0.8, 2.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    seed = tuple(image.index_to_physical([50, 50, 50]))

    def extent_mm(model_spec, **where):
        mask = Segmenter(model_spec, ThresholdNetwork(), device="cpu").segment_roi(image, **where).mask.array
        return [(np.ptp(np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))) + 1) * image.spacing[2 - axis]
                for axis in range(3)]

    assert all(38 <= e <= 42 for e in extent_mm(spec, seed=seed))  # the 40 mm cube around the click
    assert all(e >= 62 for e in extent_mm(ModelSpec.from_dict(SPEC), seed=seed))  # without it, the 64 mm window
    # A box the user draws bounds the mask itself: the context does not cut it.
    box = (*image.index_to_physical([20, 20, 35]), *image.index_to_physical([80, 80, 65]))
    assert all(e >= 47 for e in extent_mm(spec, box=box))


def test_a_mask_cut_by_what_the_model_sees_is_flagged_and_one_at_the_image_border_is_not():
    spec = ModelSpec.from_dict({**SPEC, "context_mm": 40})
    array = np.full((100, 100, 100), -900, np.int16)  # k, j, i
    array[45:56, 40:61, 0:71] = 100  # a bright block 22 x 17 x 57 mm (k, j, i), from the image border on
    image = Volume(array, (0.8, 0.8, 2.0), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    segmenter = Segmenter(spec, ThresholdNetwork(), device="cpu")
    cut = segmenter.segment_roi(image, seed=tuple(image.index_to_physical([50, 50, 50])))
    assert any("edge of the 40 mm cube around the first click" in w for w in cut.warnings)
    assert cut.reaches_edge
    # A shorter block (8 mm in i) reaching the image border, inside the cube otherwise: no warning.
    small = image.with_array(np.where(np.indices(array.shape)[2] < 10, array, -900).astype(np.int16))
    assert segmenter.segment_roi(small, seed=tuple(image.index_to_physical([5, 50, 50]))).warnings == []
    # A box: cut by it, or holding the whole block.
    inside = (*image.index_to_physical([20, 35, 40]), *image.index_to_physical([60, 65, 60]))
    assert any("edge of the box" in w for w in segmenter.segment_roi(image, box=inside).warnings)
    around = (*image.index_to_physical([0, 30, 38]), *image.index_to_physical([80, 70, 62]))
    whole = segmenter.segment_roi(image, box=around)
    assert whole.warnings == [] and not whole.reaches_edge and dice(whole.mask.array, array == 100) > 0.95


@pytest.mark.parametrize("context", [0, -5, "wide", [92, 92]])
def test_context_must_be_a_positive_length(context):
    with pytest.raises(ModelSpecError, match="context_mm"):
        ModelSpec.from_dict({**SPEC, "context_mm": context})


def test_a_large_box_is_covered_by_sliding_windows(segmenter):
    image, truth, centre = sphere_case(radius_mm=40.0)
    corners = image.index_to_physical([0, 0, 0]), image.index_to_physical(np.array(image.size) - 1)
    result = segmenter.segment_roi(image, box=(*corners[0], *corners[1]))
    assert dice(result.mask.array, truth) > 0.97


def test_seed_outside_the_image(segmenter):
    image, _, _ = sphere_case()
    with pytest.raises(RegionError, match="outside the image"):
        segmenter.segment_roi(image, seed=tuple(image.index_to_physical([-20, 5, 5])))


def test_box_partly_outside_is_cut_with_a_warning(segmenter):
    image, truth, centre = sphere_case()
    low = image.index_to_physical(centre - [40, 40, 30])  # below k = 0
    high = image.index_to_physical(centre + [40, 40, 5])
    result = segmenter.segment_roi(image, box=(*low, *high))
    assert any("beyond the image" in w for w in result.warnings)
    assert dice(result.mask.array, truth) > 0.97


def test_box_entirely_outside(segmenter):
    image, _, _ = sphere_case()
    low, high = image.index_to_physical([-90, -90, -30]), image.index_to_physical([-60, -60, -20])
    with pytest.raises(RegionError, match="entirely outside"):
        segmenter.segment_roi(image, box=(*low, *high))


def test_guided_model_needs_a_seed_for_the_whole_volume(segmenter):
    image, _, _ = sphere_case()
    with pytest.raises(RegionError, match="give a seed point"):
        segmenter.segment_volume(image)


def test_keep_component_prefers_the_clicked_lesion_over_a_larger_one():
    mask = np.zeros((30, 30, 30), bool)
    mask[2:6, 2:6, 2:6] = True  # small, clicked
    mask[10:25, 10:25, 10:25] = True  # large
    assert keep_component(mask, np.array([3, 3, 3])).sum() == 64
    # A click just outside a lesion takes the nearest one.
    assert keep_component(mask, np.array([3, 3, 7])).sum() == 64
    assert keep_component(mask, None).sum() == 15**3


def test_fill_holes_fills_enclosed_cavities_only():
    mask = np.zeros((20, 20, 20), bool)
    mask[5:15, 5:15, 5:15] = True
    mask[8:11, 8:11, 8:11] = False  # a closed cavity
    mask[9, 9, 0:15] = False  # ...now opened to the outside along a tunnel
    filled = fill_holes(mask)
    assert not filled[9, 9, 9]
    mask[9, 9, 0:15] = True
    mask[8:11, 8:11, 8:11] = False
    assert fill_holes(mask)[9, 9, 9]


def test_spec_errors():
    with pytest.raises(ModelSpecError, match="lacks"):
        ModelSpec.from_dict({"id": "x"})
    with pytest.raises(ModelSpecError, match="input channel"):
        ModelSpec.from_dict({**SPEC, "network": {"name": "UNet", "args": {"in_channels": 1}}})
    with pytest.raises(ModelSpecError, match="spacing"):
        ModelSpec.from_dict({**SPEC, "spacing": [1, 1]})


def test_training_runs_and_its_weights_load(tmp_path):
    spec = ModelSpec.from_dict({**SPEC, "roi_size": [32, 32, 32], "network": {"name": "UNet", "args": {
        "spatial_dims": 3, "in_channels": 2, "out_channels": 2, "channels": [4, 8], "strides": [2]}}})
    image, truth, _ = sphere_case((1, 0, 0, 0, 1, 0, 0, 0, 1), spacing=(1.0, 1.0, 1.0), radius_mm=6.0)
    mask = image.with_array(truth.astype(np.uint8))
    sample = training_sample(spec, image, mask)
    # Padded by half a window on every side; the tumor's voxels listed for the crop.
    assert sample["image"].shape[1:] == tuple(n + 32 for n in image.size)
    assert len(sample["tumor_voxels"]) == truth.sum()
    network, losses = train(spec, [sample, sample], TrainingConfig(steps=3, batch_size=2, device="cpu"))
    assert len(losses) == 3 and all(np.isfinite(losses))
    weights = save_weights(network, tmp_path / "w.safetensors")
    loaded = load_model(_model_folder(tmp_path, spec, weights))
    x = torch.rand(1, 2, 32, 32, 32)
    assert torch.equal(loaded.network(x), network(x))


def test_fine_tuning_starts_from_the_given_weights(tmp_path):
    spec = ModelSpec.from_dict({**SPEC, "roi_size": [32, 32, 32], "network": {"name": "UNet", "args": {
        "spatial_dims": 3, "in_channels": 2, "out_channels": 2, "channels": [4, 8], "strides": [2]}}})
    image, truth, _ = sphere_case((1, 0, 0, 0, 1, 0, 0, 0, 1), spacing=(1.0, 1.0, 1.0), radius_mm=6.0)
    sample = training_sample(spec, image, image.with_array(truth.astype(np.uint8)))
    first, _ = train(spec, [sample, sample], TrainingConfig(steps=2, batch_size=2, device="cpu", seed=1))
    weights = save_weights(first, tmp_path / "first.safetensors")
    # A learning rate of 0 leaves the starting weights as they are: they must be the file's.
    config = TrainingConfig(steps=1, batch_size=2, device="cpu", seed=2, learning_rate=0.0, initial_weights=str(weights))
    tuned, _ = train(spec, [sample, sample], config)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), tuned.state_dict().values()))
    fresh, _ = train(spec, [sample, sample], TrainingConfig(steps=1, batch_size=2, device="cpu", seed=2, learning_rate=0.0))
    assert not all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), fresh.state_dict().values()))


def test_a_box_channel_starts_from_click_only_weights_as_the_same_network(tmp_path):
    args = {"spatial_dims": 3, "out_channels": 2, "channels": [4, 8], "strides": [2], "num_res_units": 1}
    click = ModelSpec.from_dict({**SPEC, "network": {"name": "UNet", "args": {**args, "in_channels": 2}}})
    boxed = ModelSpec.from_dict({**SPEC, "box_channel": True, "network": {"name": "UNet", "args": {**args, "in_channels": 3}}})
    weights = save_weights(build_network(click).eval(), tmp_path / "click.safetensors")
    with pytest.raises(WeightsError, match="another shape"):
        load_weights(build_network(boxed), weights)
    widened = load_weights(build_network(boxed), weights, widen=True).eval()
    original = load_weights(build_network(click), weights).eval()
    x = torch.rand(1, 2, 16, 16, 16)
    with torch.no_grad():
        assert torch.allclose(widened(torch.cat([x, torch.rand(1, 1, 16, 16, 16)], dim=1)), original(x), atol=1e-6)


def test_a_wider_network_starts_from_narrower_weights_as_the_same_network(tmp_path):
    # Three levels with residual units: the up layers read concatenations whose two parts widen apart.
    args = {"spatial_dims": 3, "out_channels": 2, "strides": [2, 2], "num_res_units": 2}
    narrow = ModelSpec.from_dict({**SPEC, "network": {"name": "UNet", "args": {**args, "in_channels": 2, "channels": [4, 8, 16]}}})
    wide = ModelSpec.from_dict({**SPEC, "box_channel": True, "network": {"name": "UNet", "args": {
        **args, "in_channels": 3, "channels": [6, 12, 24]}}})
    weights = save_weights(build_network(narrow).eval(), tmp_path / "narrow.safetensors")
    widened = load_weights(build_network(wide), weights, widen=True).eval()
    original = load_weights(build_network(narrow), weights).eval()
    x = torch.rand(1, 2, 16, 16, 16)
    with torch.no_grad():
        expected = original(x)
        assert torch.allclose(widened(torch.cat([x, torch.rand(1, 1, 16, 16, 16)], dim=1)), expected, atol=1e-5)
        # The new channels are not dead: their incoming weights are a fresh initialisation.
        assert widened.state_dict()["model.0.conv.unit0.conv.weight"][4:].abs().sum() > 0
    # Narrower is not wider: a network with fewer channels refuses the weights.
    with pytest.raises(WeightsError, match="another shape"):
        load_weights(build_network(narrow), save_weights(widened, tmp_path / "wide.safetensors"), widen=True)


def test_weights_stored_in_half_precision_load_as_the_rounded_network(tmp_path):
    args = {"spatial_dims": 3, "in_channels": 2, "out_channels": 2, "channels": [8, 16], "strides": [2], "num_res_units": 1}
    spec = ModelSpec.from_dict({**SPEC, "network": {"name": "UNet", "args": args}})
    network = build_network(spec).eval()
    with torch.no_grad():  # one weight beyond float16's range: that tensor must stay float32, not become inf
        network.state_dict()["model.0.conv.unit0.conv.bias"][0] = 1e6
    full = save_weights(network, tmp_path / "full.safetensors")
    half = save_weights(network, tmp_path / "half.safetensors", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    from safetensors.torch import load_file

    stored = load_file(str(half))
    assert stored["model.0.conv.unit0.conv.bias"].dtype == torch.float32
    assert stored["model.0.conv.unit0.conv.weight"].dtype == torch.float16
    loaded = load_weights(build_network(spec), half).eval()
    for name, tensor in loaded.state_dict().items():
        assert tensor.dtype == torch.float32
        assert torch.equal(tensor, stored[name].float())
    x = torch.rand(1, 2, 16, 16, 16)
    with torch.no_grad():
        assert torch.allclose(loaded(x), network(x), rtol=1e-2, atol=1e-2)


def test_central_clicks_come_from_the_tumors_inner_half():
    spec = ModelSpec.from_dict({**SPEC, "roi_size": [32, 32, 32]})
    image, truth, _ = sphere_case((1, 0, 0, 0, 1, 0, 0, 0, 1), spacing=(1.0, 1.0, 1.0), radius_mm=8.0)
    sample = training_sample(spec, image, image.with_array(truth.astype(np.uint8)))
    tumor, core = sample["tumor_voxels"].float(), sample["core_voxels"].float()
    centre = tumor.mean(dim=0)
    # The inner half of a sphere of radius 8 mm: a ball of about 4 mm around its centre.
    assert 0 < len(core) < len(tumor) / 4
    assert torch.linalg.norm(core - centre, dim=1).max() <= 4.5
    crop = _RandGuidedCrop(spec, central_fraction=1.0)
    crop.set_random_state(0)
    core_set = {tuple(v) for v in sample["core_voxels"].tolist()}
    assert all(tuple(crop.randomize(sample)[0].tolist()) in core_set for _ in range(20))
    uniform = _RandGuidedCrop(spec, central_fraction=0.0)
    uniform.set_random_state(0)
    # Drawn from the whole tumor, most clicks land outside its inner half (most of a ball's volume).
    assert sum(tuple(uniform.randomize(sample)[0].tolist()) not in core_set for _ in range(50)) > 35


def test_box_samples_mark_a_box_around_the_whole_tumor_and_clicks_an_empty_box():
    spec = ModelSpec.from_dict({**SPEC, "roi_size": [32, 32, 32], "box_channel": True})
    image, truth, _ = sphere_case((1, 0, 0, 0, 1, 0, 0, 0, 1), spacing=(1.0, 1.0, 1.0), radius_mm=8.0)
    sample = training_sample(spec, image, image.with_array(truth.astype(np.uint8)))
    guide = _AddGuidance(spec)
    for fraction in (1.0, 0.0):
        crop = _RandGuidedCrop(spec, box_fraction=fraction)
        crop.set_random_state(1)
        for _ in range(5):
            window = guide(crop(sample))
            assert window["image"].shape == (3, 32, 32, 32)
            box, label = window["image"][2] > 0.5, window["label"][0] > 0
            if fraction:
                # The whole tumor lies in the box, which is at most 5 mm wider on each side.
                assert label.sum() == sample["label"].sum() and bool(box[label].all())
                assert all(0 <= _extent(box, axis) - _extent(label, axis) <= 11 for axis in range(3))
            else:
                assert not box.any()


def _extent(mask: torch.Tensor, axis: int) -> int:
    return int(mask.any(dim=tuple(a for a in range(3) if a != axis)).sum())


def test_thick_slice_augmentation_blurs_along_the_patient_axis_only():
    augment = _RandThickSlices(prob=1.0, factors=(4,))
    augment.set_random_state(0)
    image = torch.zeros(1, 6, 6, 24)
    image[..., 12] = 1.0  # one thin bright axial slice
    image[:, 2, 3, :] += 0.5  # a thin line along the patient axis
    label = (image > 0).to(torch.uint8)
    out = augment({"image": image, "label": label})
    assert out["label"] is label and out["image"].shape == image.shape
    # The slice spreads over its neighbours (partial volume of a 4 mm slice) ...
    profile = out["image"][0, 0, 0]
    assert profile.max() < 0.5 and abs(float(profile.sum()) - 1.0) < 0.1 and profile[:8].abs().max() < 1e-6
    # ... while the in-plane pattern is untouched: every axial slice is a multiple of the original's.
    assert torch.allclose(out["image"][0, :, :, 0], image[0, :, :, 0])
    constant = torch.full((1, 4, 4, 24), 0.3)
    assert torch.allclose(augment({"image": constant, "label": label})["image"], constant)
    assert _RandThickSlices(prob=0.0)({"image": image, "label": label})["image"] is image


def _model_folder(folder, spec, weights):
    import json

    (folder / "model.json").write_text(json.dumps({**spec.to_dict(), "weights": {"file": weights.name},
                                                   "license": "test only"}))
    return folder


def test_shipped_model_segments_the_sample_case_deterministically():
    model = load_model(allow_download=False)
    image = read_volume(resource_path("SampleData", "nsclc070_ct.nrrd"))
    truth = read_volume(resource_path("SampleData", "nsclc070_tumor.nrrd"))
    segmenter = Segmenter(model.spec, model.network, device="cpu")
    first = segmenter.segment_roi(image, seed=central_seed(truth))
    second = segmenter.segment_roi(image, seed=central_seed(truth))
    assert np.array_equal(first.mask.array, second.mask.array)
    # A guard against a broken model or pipeline (which gives a Dice near 0), not a measure of
    # accuracy: that is the held-back validation in the model card. This part-solid tumor is one
    # the model undersegments (its ground-glass rim).
    assert dice(first.mask.array, truth.array) > 0.5


def test_bfloat16_inference_agrees_with_float32_and_is_deterministic():
    model = load_model(allow_download=False)
    image = read_volume(resource_path("SampleData", "nsclc070_ct.nrrd"))
    seed = central_seed(read_volume(resource_path("SampleData", "nsclc070_tumor.nrrd")))
    exact = Segmenter(model.spec, model.network, device="cpu", precision="float32")
    mixed = Segmenter(model.spec, model.network, device="cpu")
    assert not exact.bfloat16
    reference = exact.segment_roi(image, seed=seed).mask.array
    first, second = (mixed.segment_roi(image, seed=seed).mask.array for _ in range(2))
    assert np.array_equal(first, second)
    # Where this CPU has no native bfloat16, "auto" is float32 and the masks are equal.
    assert dice(first, reference) > (0.98 if mixed.bfloat16 else 1.0 - 1e-12)
    with pytest.raises(InputError, match="precision"):
        Segmenter(model.spec, model.network, device="cpu", precision="half")
