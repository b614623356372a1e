"""Interactive segmentation: tumor and not-tumor clicks as input channels, the simulated user of the
field's protocol, its figures, and the prompts' errors.

A stand-in network thresholds the image and leaves out whatever a not-tumor click marks, so what a
click must change is known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ResponsePredictorLib.cli import EXIT_INPUT, EXIT_OK, main
from ResponsePredictorLib.segment.corrective_clicks import next_click
from ResponsePredictorLib.segment.inference import RegionError, Segmenter
from ResponsePredictorLib.segment.network import build_network, load_weights, save_weights
from ResponsePredictorLib.segment.postprocess import clean_mask
from ResponsePredictorLib.segment.spec import ModelSpec, ModelSpecError
from ResponsePredictorLib.segment.training import TrainingConfig, add_corrective_clicks, train, training_sample
from ResponsePredictorLib.segment.validation import LabeledCase, click_session, dice, summarize, validate_case
from ResponsePredictorLib.volume import Volume, read_volume, write_volume
from test_segment import SPEC, ThresholdNetwork, _model_folder

IDENTITY = (1, 0, 0, 0, 1, 0, 0, 0, 1)
CORRECTABLE = {**SPEC, "negative_channel": True}


class CorrectableThresholdNetwork(ThresholdNetwork):
    """Tumor where the image is above the window's middle, except within 3.5 mm of a not-tumor click
    (where its Gaussian, sigma 3 mm, is above 0.5)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tumor = (x[:, :1] > 0.5) & (x[:, -1:] <= 0.5)
        logits = tumor.float() * 20 - 10
        return torch.cat([-logits, logits], dim=1)


def bridged_case():
    """A 15 mm tumor sphere at voxel (40, 40, 40) (1 mm voxels), and a bright 6 mm blob beyond it (a vessel,
    say) joined to it by a 2 mm bridge along i: the blob is wrongly added to a mask of the bright voxels."""
    shape = (80, 80, 90)  # k, j, i
    k, j, i = np.indices(shape)
    tumor = (i - 40) ** 2 + (j - 40) ** 2 + (k - 40) ** 2 < 15 ** 2
    blob = (i - 65) ** 2 + (j - 40) ** 2 + (k - 40) ** 2 < 6 ** 2
    bridge = (i >= 40) & (i <= 65) & ((j - 40) ** 2 + (k - 40) ** 2 <= 2 ** 2)
    array = np.where(tumor | blob | bridge, 100, -800).astype(np.int16)
    image = Volume(array, (1.0, 1.0, 1.0), (-40.0, -40.0, -40.0), IDENTITY)
    return image, tumor, blob


@pytest.fixture
def correctable():
    return Segmenter(ModelSpec.from_dict(CORRECTABLE), CorrectableThresholdNetwork(), device="cpu")


def point(image: Volume, i: float, j: float, k: float) -> tuple[float, float, float]:
    return tuple(image.index_to_physical([i, j, k]))


def test_a_not_tumor_click_on_a_wrongly_added_region_removes_all_of_it(correctable):
    image, tumor, blob = bridged_case()
    before = correctable.segment_roi(image, seed=point(image, 40, 40, 40)).mask.array > 0
    assert before[blob].all() and dice(before, tumor) < 0.98
    # A click on the bridge, 2 mm outside the tumor: the network leaves out the bridge there, and the
    # blob beyond (11-14 mm from the click, where the click's own channel is near 0) goes with it.
    after = correctable.segment_roi(image, seed=point(image, 40, 40, 40), negative=[point(image, 57, 40, 40)]).mask.array > 0
    assert not after[blob].any()
    assert dice(after, tumor) > 0.99


def test_a_hole_at_a_not_tumor_click_stays_open_and_other_holes_are_filled():
    mask = np.zeros((20, 20, 40), bool)
    mask[2:18, 2:18, 2:38] = True
    mask[8:12, 8:12, 8:12] = False  # a cavity the user clicked as not tumor
    mask[8:12, 8:12, 28:32] = False  # one nobody clicked
    cleaned = clean_mask(mask, [np.array([5, 5, 5])], [np.array([9.8, 10.2, 9.6])])
    assert not cleaned[8:12, 8:12, 8:12].any() and cleaned[8:12, 8:12, 28:32].all()
    assert np.array_equal(clean_mask(mask, [np.array([5, 5, 5])]), np.pad(np.ones((16, 16, 36), bool), 2))


def test_several_tumor_points_keep_each_clicked_part_and_one_keeps_one():
    image, tumor, blob = bridged_case()
    array = image.array.copy()
    array[:, :, 56:59] = -800  # the bridge cut: tumor and blob are two lesions
    image = image.with_array(array)
    segmenter = Segmenter(ModelSpec.from_dict(SPEC), ThresholdNetwork(), device="cpu")
    one = segmenter.segment_roi(image, seed=point(image, 40, 40, 40)).mask.array > 0
    both = segmenter.segment_roi(image, seed=[point(image, 40, 40, 40), point(image, 65, 40, 40)]).mask.array > 0
    assert not one[blob].any() and both[blob].all() and both[tumor].all()


def test_tumor_points_add_to_a_box(correctable):
    image, tumor, blob = bridged_case()
    box = (*point(image, 20, 20, 20), *point(image, 60, 60, 60))  # around the tumor only
    boxed = Segmenter(ModelSpec.from_dict({**CORRECTABLE, "box_channel": True}), CorrectableThresholdNetwork(), device="cpu")
    result = boxed.segment_roi(image, box=box, seed=[point(image, 45, 40, 40)])
    assert dice(result.mask.array, tumor) > 0.97


@pytest.mark.parametrize("prompts, message", [
    (dict(seed=(500.0, 0.0, 0.0)), "tumor point .* outside the image"),
    (dict(seed=(0.0, 0.0, 0.0), negative=[(0.0, 900.0, 0.0)]), "not-tumor point .* outside the image"),
    (dict(seed=(0.0, 0.0, 0.0), negative=[(0.2, 0.0, -0.1)]), "same voxel"),
    (dict(negative=[(0.0, 0.0, 0.0)]), "Show the tumor"),
    (dict(seed=[(0.0, 0.0, 0.0), (0.0, 0.0)]), "3 finite numbers"),
    (dict(seed=(-38.0, 0.0, 0.0), negative=[(49.0, 0.0, 0.0)]), "outside the 40 mm cube around the first click"),
])
def test_prompts_that_cannot_be_followed_are_refused_clearly(prompts, message):
    image, _, _ = bridged_case()
    segmenter = Segmenter(ModelSpec.from_dict({**CORRECTABLE, "context_mm": 40}), CorrectableThresholdNetwork(), device="cpu")
    with pytest.raises(RegionError, match=message):
        segmenter.segment_roi(image, **prompts)


def test_a_model_without_a_negative_channel_refuses_not_tumor_points():
    image, _, _ = bridged_case()
    segmenter = Segmenter(ModelSpec.from_dict(SPEC), ThresholdNetwork(), device="cpu")
    with pytest.raises(RegionError, match="takes no not-tumor points"):
        segmenter.segment_roi(image, seed=(0.0, 0.0, 0.0), negative=[(10.0, 0.0, 0.0)])
    with pytest.raises(ModelSpecError, match="seed_channel"):
        ModelSpec.from_dict({**SPEC, "seed_channel": False, "negative_channel": True})


def test_the_next_click_goes_to_the_middle_of_the_largest_error_region():
    truth = np.zeros((30, 30, 30), bool)
    truth[5:20, 5:20, 5:20] = True
    prediction = truth.copy()
    prediction[5:20, 5:20, 5:9] = False  # 15 x 15 x 4 voxels of tumor missed
    prediction[22:28, 22:28, 22:28] = True  # 6 x 6 x 6 voxels wrongly added
    click = next_click(prediction, truth)  # in the larger region, 2 voxels from its edge (its greatest depth)
    assert click.positive and click.index[2] in (6, 7) and all(6 <= c <= 18 for c in click.index[:2])
    negative = next_click(prediction, truth, within=(slice(21, 30),) * 3)
    assert not negative.positive and all(24 <= c <= 25 for c in negative.index)
    assert next_click(prediction, truth, negatives=False, within=(slice(21, 30),) * 3) is None
    assert next_click(truth, truth) is None


def test_the_click_protocol_corrects_and_counts_clicks(correctable):
    image, tumor, _ = bridged_case()
    case = LabeledCase("bridged", image, image.with_array(tumor.astype(np.uint8)), seed=1)
    session = click_session(correctable, case, max_clicks=5)
    assert len(session.dice_by_click) == 5 and session.clicks[0][1]
    assert any(not positive for _, positive in session.clicks[1:])  # the blob is corrected with not-tumor points
    assert session.dice_by_click[-1] > session.dice_by_click[0] and session.dice_by_click[-1] > 0.97
    assert session.clicks_to(0.97) == next(n for n, d in enumerate(session.dice_by_click, 1) if d >= 0.97)
    row, central = validate_case(correctable, case, clicks=1, protocol_clicks=5)
    assert row["dice_by_click"] == session.dice_by_click and row["clicks_to_0.85"] == session.clicks_to()
    assert dice(central, tumor) == row["dice_central_click"] == session.dice_by_click[0]
    never = {**row, "dice_by_click": [0.5] * 5, "clicks_to_0.85": None}
    figures = summarize([row, never])
    assert set(figures["dice_after_clicks"]) == {"1", "3", "5"} and len(figures["mean_dice_by_click"]) == 5
    assert figures["dice_after_clicks"]["5"]["mean"] == pytest.approx((session.dice_by_click[4] + 0.5) / 2)
    assert figures["noc_85"]["cases_never_reaching"] == 1 and figures["noc_85"]["cap"] == 5
    assert figures["noc_85"]["mean"] == pytest.approx((row["clicks_to_0.85"] + 5) / 2)


def test_the_protocol_gives_a_model_without_a_negative_channel_tumor_points_only():
    image, tumor, _ = bridged_case()
    segmenter = Segmenter(ModelSpec.from_dict(SPEC), ThresholdNetwork(), device="cpu")
    session = click_session(segmenter, LabeledCase("b", image, image.with_array(tumor.astype(np.uint8))), max_clicks=3)
    assert all(positive for _, positive in session.clicks) and len(session.dice_by_click) == 3


@pytest.mark.parametrize("previous_mask", [False, True])
def test_simulated_corrections_mark_the_negative_channel_where_the_network_over_segments(previous_mask):
    spec = ModelSpec.from_dict({**CORRECTABLE, "roi_size": [32, 32, 32], "previous_mask_channel": previous_mask})
    inputs = torch.zeros(1, spec.in_channels, 32, 32, 32)
    inputs[0, 0, 8:16, 8:16, 8:16] = 1.0  # the tumor
    inputs[0, 0, 20:28, 20:28, 20:28] = 1.0  # as bright, not tumor
    labels = torch.zeros(1, 1, 32, 32, 32)
    labels[0, 0, 8:16, 8:16, 8:16] = 1
    corrected = add_corrective_clicks(CorrectableThresholdNetwork(), inputs, labels, 1, spec, bfloat16=False)
    negative = corrected[0, spec.negative_index]
    assert torch.equal(corrected[:, :2], inputs[:, :2])  # the image and the tumor clicks as they were
    if previous_mask:  # shown the prediction the click corrects
        assert torch.equal(corrected[0, spec.previous_index], (inputs[0, 0] > 0.5).float())
    assert negative.max() == pytest.approx(1.0, abs=0.05)
    assert all(19.5 <= float(c) <= 27.5 for c in np.unravel_index(int(negative.argmax()), negative.shape))


@pytest.mark.parametrize("narrower, added", [
    ({**SPEC, "box_channel": True}, "negative_channel"),  # not-tumor points, after the box
    ({**CORRECTABLE}, "previous_mask_channel"),  # the mask a click corrects, last
])
def test_a_correcting_model_trains_with_simulated_clicks_and_starts_as_the_model_without_its_channel(
        tmp_path, narrower, added):
    args = {"spatial_dims": 3, "out_channels": 2, "channels": [4, 8], "strides": [2], "num_res_units": 1}
    before = ModelSpec.from_dict({**narrower, "roi_size": [32, 32, 32],
                                  "network": {"name": "UNet", "args": {**args, "in_channels": 3}}})
    widened_spec = ModelSpec.from_dict({**before.to_dict(), added: True,
                                        "network": {"name": "UNet", "args": {**args, "in_channels": 4}}})
    weights = save_weights(build_network(before).eval(), tmp_path / "before.safetensors")
    widened = load_weights(build_network(widened_spec), weights, widen=True).eval()
    original = load_weights(build_network(before), weights).eval()
    x = torch.rand(1, 3, 16, 16, 16)
    with torch.no_grad():
        assert torch.allclose(widened(torch.cat([x, torch.rand(1, 1, 16, 16, 16)], dim=1)), original(x), atol=1e-6)
    image, truth, _ = bridged_case()
    sample = training_sample(widened_spec, image, image.with_array(truth.astype(np.uint8)))
    config = TrainingConfig(steps=2, batch_size=2, device="cpu", corrective_clicks=2, initial_weights=str(weights))
    network, losses = train(widened_spec, [sample, sample], config)
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert network(torch.rand(1, 4, 32, 32, 32)).shape == (1, 2, 32, 32, 32)


def test_the_command_line_takes_repeated_tumor_and_not_tumor_points(tmp_path, capsys):
    image, tumor, blob = bridged_case()
    write_volume(image, tmp_path / "ct.nrrd")
    spec = ModelSpec.from_dict({**CORRECTABLE, "roi_size": [32, 32, 32], "network": {"name": "UNet", "args": {
        "spatial_dims": 3, "in_channels": 3, "out_channels": 2, "channels": [4, 8], "strides": [2]}}})
    weights = save_weights(build_network(spec), tmp_path / "model" / "w.safetensors")
    model = _model_folder(tmp_path / "model", spec, weights)
    centre, far, beside = (",".join(map(str, point(image, i, 40, 40))) for i in (40, 45, 50))
    common = ["segment", str(tmp_path / "ct.nrrd"), "--model", str(model), "--device", "cpu", "-o", str(tmp_path / "m.nrrd")]
    assert main([*common, "--seed", centre, "--seed", far, "--negative", beside]) == EXIT_OK
    assert read_volume(tmp_path / "m.nrrd").size == image.size
    assert main([*common, "--seed", centre, "--negative", centre]) == EXIT_INPUT
    assert "same voxel" in capsys.readouterr().err
