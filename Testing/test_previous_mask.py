"""The previous-mask channel: a correction is shown the mask it corrects (RITM, DeepEdit).

Stand-in networks make what reaches the network visible: one returns its previous-mask channel as the
tumor, one counts its passes. Checked: the mask arrives at the right voxels through an oblique,
anisotropic scan; prompts given all at once are replayed in a fixed order; an interactive session makes
one pass per new point, also after an Undo. (That training shows the network its last prediction, and that
weights without the channel start the same network: test_interactive_segmentation, with the negative channel.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ResponsePredictorLib.cli import EXIT_INPUT, EXIT_OK, main
from ResponsePredictorLib.errors import GeometryMismatchError
from ResponsePredictorLib.segment.inference import Segmenter, replay_order
from ResponsePredictorLib.segment.network import build_network, save_weights
from ResponsePredictorLib.segment.prompts import Prompts
from ResponsePredictorLib.segment.interactive import InteractiveSegmenter, points_added
from ResponsePredictorLib.segment.spec import ModelSpec, ModelSpecError
from ResponsePredictorLib.segment.training import TrainingConfig, train, training_sample
from ResponsePredictorLib.segment.validation import dice
from ResponsePredictorLib.volume import Volume, read_volume, write_volume
from test_interactive_segmentation import CORRECTABLE, bridged_case, point
from test_segment import ThresholdNetwork, _model_folder, sphere_case

EDITING = {**CORRECTABLE, "previous_mask_channel": True}


class CountingNetwork(ThresholdNetwork):
    """Tumor where input ``channel`` is above 0.5 (the image's bright voxels; the tumor points' blobs for
    channel 1); counts its passes."""

    def __init__(self, channel: int = 0) -> None:
        super().__init__(channel)
        self.passes = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.passes += 1
        return super().forward(x)


def test_the_previous_mask_reaches_the_network_at_its_voxels_in_an_oblique_anisotropic_scan():
    image, truth, centre = sphere_case()
    echo = Segmenter(ModelSpec.from_dict(EDITING), ThresholdNetwork(channel=3), device="cpu")  # the last of 4 channels
    seed = tuple(image.index_to_physical(centre))
    # A first click has no previous mask: the channel is empty.
    assert not echo.segment_roi(image, seed=seed).mask.array.any()
    previous = image.with_array(truth.astype(np.uint8))
    echoed = echo.segment_roi(image, seed=seed, previous=previous).mask.array
    assert dice(echoed, truth) > 0.97


def test_a_previous_mask_on_another_grid_is_refused_clearly():
    image, truth, centre = sphere_case()
    segmenter = Segmenter(ModelSpec.from_dict(EDITING), ThresholdNetwork(), device="cpu")
    shifted = Volume(truth.astype(np.uint8), image.spacing, (11.0, -20.0, 30.0), image.direction)
    with pytest.raises(GeometryMismatchError, match="not on the image's voxel grid .*Give the mask segmented from this image"):
        segmenter.segment_roi(image, seed=tuple(image.index_to_physical(centre)), previous=shifted)


def test_prompts_given_at_once_are_replayed_box_first_then_tumor_then_not_tumor_points():
    a, b, c, d = (0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (2.0, 0.0, 0.0), (3.0, 0.0, 0.0)
    box = (0.0, 0.0, 0.0, 9.0, 9.0, 9.0)
    assert replay_order(Prompts((a, b), (c, d))) == [
        Prompts((a,)), Prompts((a, b)), Prompts((a, b), (c,)), Prompts((a, b), (c, d))]
    assert replay_order(Prompts((a,), (c,), box)) == [Prompts(box=box), Prompts((a,), (), box), Prompts((a,), (c,), box)]
    assert replay_order(Prompts((a,))) == [Prompts((a,))]


def test_replaying_costs_a_pass_per_point_and_a_given_previous_mask_one():
    image, tumor, _ = bridged_case()
    network = CountingNetwork()
    segmenter = Segmenter(ModelSpec.from_dict(EDITING), network, device="cpu")
    seeds, negative = [point(image, 40, 40, 40), point(image, 45, 40, 40)], [point(image, 57, 40, 40)]
    replayed = segmenter.segment_roi(image, seed=seeds, negative=negative)
    assert network.passes == 3
    network.passes = 0
    given = segmenter.segment_roi(image, seed=seeds, negative=negative, previous=replayed.mask)
    assert network.passes == 1 and given.mask.same_grid(image)
    # A model without the channel is not replayed, and ignores a previous mask.
    plain = CountingNetwork()
    Segmenter(ModelSpec.from_dict(CORRECTABLE), plain, device="cpu").segment_roi(
        image, seed=seeds, negative=negative, previous=replayed.mask)
    assert plain.passes == 1


def test_a_session_makes_one_pass_per_new_point_also_after_an_undo_or_points_placed_at_once():
    image, _, _ = bridged_case()
    network = CountingNetwork(channel=1)  # a blob at each tumor point: each set of points has its own mask
    session = InteractiveSegmenter(Segmenter(ModelSpec.from_dict(EDITING), network, device="cpu"), image)
    first, second, third = point(image, 40, 40, 40), point(image, 48, 40, 40), point(image, 32, 40, 40)
    away = point(image, 57, 40, 40)
    made = [session.segment(prompts).mask.array
            for prompts in (Prompts((first,)), Prompts((first, second)), Prompts((first, second), (away,)))]
    assert network.passes == 3 and made[0].sum() < made[1].sum()
    # Undo the not-tumor point, place another tumor point: the mask before the Undo is remembered.
    session.segment(Prompts((first, second, third)))
    assert network.passes == 4
    assert np.array_equal(session.corrected_mask(Prompts((first, second, third))).array, made[1])
    # The second point moved: the mask of the first point alone is the largest it extends.
    moved = second[:2] + (second[2] + 1.0,)
    assert np.array_equal(session.corrected_mask(Prompts((first, moved))).array, made[0])
    # Two points placed while the session was busy: one pass, correcting the mask they both extend.
    session.segment(Prompts((first, second, third), (away, point(image, 60, 40, 40))))
    assert network.passes == 5
    # The first point moved: nothing remembered is extended, so the prompts are replayed.
    network.passes = 0
    elsewhere = point(image, 38, 40, 40)
    session.segment(Prompts((elsewhere, second)))
    assert network.passes == 2
    assert session.corrected_mask(Prompts((elsewhere,))) is None


def test_remembered_masks_are_bounded_and_read_back_as_made():
    image, _, _ = bridged_case()
    session = InteractiveSegmenter(Segmenter(ModelSpec.from_dict(EDITING), ThresholdNetwork(), device="cpu"), image,
                            remembered=2)
    seeds = [point(image, 40 + i, 40, 40) for i in range(4)]
    made = [session.segment(Prompts(tuple(seeds[:n]))) for n in (1, 2, 3)]
    assert session.corrected_mask(Prompts(tuple(seeds[:2]))) is None  # the first was let go
    back = session.corrected_mask(Prompts(tuple(seeds[:4])))
    assert np.array_equal(back.array, made[2].mask.array)


def test_points_added_counts_new_points_of_the_same_kind_with_the_same_box():
    a, b, c = (0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (2.0, 0.0, 0.0)
    box = (0.0, 0.0, 0.0, 9.0, 9.0, 9.0)
    assert points_added(Prompts((a,)), Prompts((b, a), (c,))) == 2
    assert points_added(Prompts((a,), (), box), Prompts((a, b), (), box)) == 1
    assert points_added(Prompts((a,)), Prompts((a,))) is None  # nothing added
    assert points_added(Prompts((a,), (b,)), Prompts((a, b))) is None  # a point changed kind
    assert points_added(Prompts((a,)), Prompts((a, b), (), box)) is None  # another box


def test_spec_needs_a_negative_channel_and_counts_the_previous_mask():
    with pytest.raises(ModelSpecError, match="previous-mask channel follows the negative channel"):
        ModelSpec.from_dict({**CORRECTABLE, "negative_channel": False, "previous_mask_channel": True})
    with pytest.raises(ModelSpecError, match="and a previous mask channel \\(5 expected\\)"):
        ModelSpec.from_dict({**EDITING, "box_channel": True,
                             "network": {"name": "UNet", "args": {"in_channels": 4}}})


def test_a_previous_mask_model_refuses_to_train_without_corrective_clicks():
    spec = ModelSpec.from_dict({**EDITING, "roi_size": [32, 32, 32], "network": {"name": "UNet", "args": {
        "spatial_dims": 3, "in_channels": 4, "out_channels": 2, "channels": [4, 8], "strides": [2]}}})
    image, truth, _ = bridged_case()
    sample = training_sample(spec, image, image.with_array(truth.astype(np.uint8)))
    with pytest.raises(ValueError, match="learns from corrective clicks only"):
        train(spec, [sample, sample], TrainingConfig(steps=1, batch_size=2, device="cpu"))


def test_the_command_line_corrects_a_given_previous_mask(tmp_path, capsys):
    image, tumor, _ = bridged_case()
    write_volume(image, tmp_path / "ct.nrrd")
    write_volume(image.with_array(tumor.astype(np.uint8)), tmp_path / "before.nrrd")
    write_volume(Volume(tumor.astype(np.uint8), (2.0, 1.0, 1.0), image.origin, image.direction), tmp_path / "other.nrrd")
    args = {"spatial_dims": 3, "in_channels": 4, "out_channels": 2, "channels": [4, 8], "strides": [2]}
    spec = ModelSpec.from_dict({**EDITING, "roi_size": [32, 32, 32], "network": {"name": "UNet", "args": args}})
    model = _model_folder(tmp_path / "model", spec, save_weights(build_network(spec), tmp_path / "model" / "w.safetensors"))
    centre, beside = (",".join(map(str, point(image, i, 40, 40))) for i in (40, 50))
    common = ["segment", str(tmp_path / "ct.nrrd"), "--model", str(model), "--device", "cpu",
              "--seed", centre, "--negative", beside]
    assert main([*common, "--previous-mask", str(tmp_path / "before.nrrd"), "-o", str(tmp_path / "m.nrrd")]) == EXIT_OK
    assert read_volume(tmp_path / "m.nrrd").size == image.size
    assert main([*common, "--previous-mask", str(tmp_path / "other.nrrd"), "-o", str(tmp_path / "n.nrrd")]) == EXIT_INPUT
    said = capsys.readouterr().err
    assert "not on the image's voxel grid" in said and "Give the mask segmented from this scan" in said
    assert not (tmp_path / "n.nrrd").exists()
    assert main(["segment", str(tmp_path / "ct.nrrd"), "--whole-volume", "--previous-mask", str(tmp_path / "before.nrrd"),
                 "-o", str(tmp_path / "w.nrrd")]) == EXIT_INPUT
    assert "--whole-volume takes" in capsys.readouterr().err


def test_a_model_not_shown_a_previous_mask_warns_and_leaves_it_unread(tmp_path, capsys):
    image, tumor, _ = bridged_case()
    write_volume(image, tmp_path / "ct.nrrd")
    write_volume(Volume(tumor.astype(np.uint8), (2.0, 1.0, 1.0), image.origin, image.direction), tmp_path / "other.nrrd")
    args = {"spatial_dims": 3, "in_channels": 3, "out_channels": 2, "channels": [4, 8], "strides": [2]}
    spec = ModelSpec.from_dict({**CORRECTABLE, "roi_size": [32, 32, 32], "network": {"name": "UNet", "args": args}})
    model = _model_folder(tmp_path / "model", spec, save_weights(build_network(spec), tmp_path / "model" / "w.safetensors"))
    assert main(["segment", str(tmp_path / "ct.nrrd"), "--model", str(model), "--device", "cpu",
                 "--seed", ",".join(map(str, point(image, 40, 40, 40))), "--previous-mask", str(tmp_path / "other.nrrd"),
                 "-o", str(tmp_path / "m.nrrd")]) == EXIT_OK
    assert "is not shown a previous mask; --previous-mask is not used" in capsys.readouterr().err
