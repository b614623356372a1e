"""Validating a segmentation model against expert masks: per case from clicks and a box, over a
manifest of a site's contoured cases (bad cases reported, the others scored), and from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import REPO_ROOT, data_path
from ResponsePredictorLib.cli import EXIT_INPUT, EXIT_OK, main
from ResponsePredictorLib.cohort.manifest import read_manifest
from ResponsePredictorLib.errors import InputError, MaskError
from ResponsePredictorLib.pipeline import CaseInput
from ResponsePredictorLib.segment.inference import Segmenter
from ResponsePredictorLib.segment.site_validation import validate_cases
from ResponsePredictorLib.segment.spec import ModelSpec
from ResponsePredictorLib.segment.validation import LabeledCase, near_contour, near_contour_shares, summarize, validate_case
from ResponsePredictorLib.volume import write_volume
from test_segment import SPEC, ThresholdNetwork, sphere_case


@pytest.fixture
def segmenter():
    return Segmenter(ModelSpec.from_dict(SPEC), ThresholdNetwork(), device="cpu")


def test_a_model_that_finds_the_tumor_scores_near_one_from_every_click(segmenter):
    image, truth, _ = sphere_case()
    row, central = validate_case(segmenter, LabeledCase("s", image, image.with_array(truth.astype(np.uint8)), seed=3),
                                 protocol_clicks=2)
    assert row["dice_central_click"] > 0.97 and len(row["dice_random_clicks"]) == 3
    assert all(d > 0.97 for d in row["dice_random_clicks"])
    assert row["tumor_voxels"] == truth.sum() and central.shape == truth.shape
    assert row["missed_voxels"] == (truth & ~central).sum() and row["extra_voxels"] == (central & ~truth).sum()
    assert "dice_box" not in row  # this model takes no box
    figures = summarize([row, {**row, "dice_central_click": 0.5}])
    assert figures["dice_central_click"]["mean"] == pytest.approx((row["dice_central_click"] + 0.5) / 2)
    assert figures["dice_random_clicks"]["n"] == 6 and "dice_box" not in figures


def test_near_the_contour_is_within_the_distance_on_either_side_in_millimetres():
    truth = np.zeros((12, 40, 40), bool)
    truth[3:9, 5:35, 5:35] = True  # 3 mm slices, 1 mm pixels: the slices above and below are 3 mm away
    near = near_contour(truth, (3.0, 1.0, 1.0), within_mm=3.0)
    row = near[6, 20]  # a line across the middle slice
    assert row[2:8].all() and not row[:2].any() and not row[8:32].any() and row[32:38].all() and not row[38:].any()
    assert near[2, 20, 20] and near[3, 20, 20] and not near[1, 20, 20] and not near[4, 20, 20]
    edge = np.zeros((6, 10, 10), bool)
    edge[:, :5, :5] = True  # a tumor cut by the image's edge: the edge is not its contour
    assert not near_contour(edge, (1.0, 1.0, 1.0), 1.0)[3, 0, 0] and near_contour(edge, (1.0, 1.0, 1.0), 1.0)[3, 0, 4]
    assert not near_contour(np.ones((4, 4, 4), bool), (1.0, 1.0, 1.0)).any()


def test_the_share_of_wrong_voxels_near_the_contour_is_pooled_over_cases(segmenter):
    image, truth, _ = sphere_case()
    row, _ = validate_case(segmenter, LabeledCase("s", image, image.with_array(truth.astype(np.uint8))), protocol_clicks=3)
    wrong, near = row["wrong_voxels_by_click"], row["wrong_near_contour_by_click"]
    assert len(wrong) == len(near) == 3 and wrong[0] == row["missed_voxels"] + row["extra_voxels"] > 0
    assert all(0 < n <= w for n, w in zip(near, wrong))  # a threshold network errs along the sphere's edge
    rows = [{"wrong_voxels_by_click": [10, 4, 0], "wrong_near_contour_by_click": [5, 4, 0]},
            {"wrong_voxels_by_click": [30, 4, 0], "wrong_near_contour_by_click": [5, 0, 0]}]
    shares = near_contour_shares(rows)
    assert shares["after_clicks"] == {"1": 10 / 40, "3": 0.0} and shares["within_mm"] == 3.0
    assert near_contour_shares([{"wrong_voxels_by_click": [8], "wrong_near_contour_by_click": [2]}])["after_clicks"] == {"1": 0.25}


def test_a_box_guided_model_is_also_scored_from_a_box(segmenter):
    image, truth, _ = sphere_case()
    boxed = Segmenter(ModelSpec.from_dict({**SPEC, "box_channel": True}), ThresholdNetwork(channel=2), device="cpu")
    row, _ = validate_case(boxed, LabeledCase("s", image, image.with_array(truth.astype(np.uint8))), protocol_clicks=1)
    # This network marks the box it is shown: its mask is the drawn box, a little larger than the sphere.
    assert 0.3 < row["dice_box"] < 0.9 and row["dice_central_click"] == 0.0


def test_an_empty_expert_mask_is_refused(segmenter):
    image, truth, _ = sphere_case()
    with pytest.raises(MaskError, match="empty"):
        validate_case(segmenter, LabeledCase("s", image, image.with_array(np.zeros_like(truth, np.uint8))))


@pytest.fixture
def contoured(tmp_path):
    """A manifest's cases: a sphere whose mask holds the tumor as label 2 beside a label-1 blob, a case with
    an empty mask, one whose scan is missing and one given a seed instead of a mask."""
    image, truth, _ = sphere_case(direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    labels = truth.astype(np.uint8) * 2
    labels[:3, :3, :3] = 1
    write_volume(image, tmp_path / "ct.nrrd")
    write_volume(image.with_array(labels), tmp_path / "labels.nrrd")
    write_volume(image.with_array(np.zeros_like(labels)), tmp_path / "empty.nrrd")
    cases = [CaseInput("good", tmp_path / "ct.nrrd", tmp_path / "labels.nrrd"),
             CaseInput("empty", tmp_path / "ct.nrrd", tmp_path / "empty.nrrd"),
             CaseInput("lost", tmp_path / "missing.nrrd", tmp_path / "labels.nrrd"),
             CaseInput("seeded", tmp_path / "ct.nrrd", seed=(0.0, 0.0, 0.0))]
    return cases, truth


def test_a_manifests_bad_cases_are_reported_and_the_others_scored(segmenter, contoured):
    cases, _ = contoured
    heard = []
    report = validate_cases(segmenter, cases, label=2, progress=lambda case, outcome: heard.append(case), protocol_clicks=2)
    assert [row["id"] for row in report["cases"]] == ["good"] and report["dice_central_click"]["mean"] > 0.97
    assert heard == ["good", "empty", "lost", "seeded"]
    reasons = {f["id"]: f["error"] for f in report["failed"]}
    assert "empty" in reasons["empty"] and "not found" in reasons["lost"] and "no expert mask" in reasons["seeded"]


def test_the_tumor_label_is_chosen_or_every_label_taken(segmenter, contoured):
    cases, truth = contoured
    every = validate_cases(segmenter, cases[:1], protocol_clicks=1)["cases"][0]
    assert every["tumor_voxels"] == truth.sum() + 27  # the label-1 blob counts as tumor too
    with pytest.raises(InputError, match="None of the 1 cases.*no voxel of label 5"):
        validate_cases(segmenter, cases[:1], label=5)


def test_a_cases_figures_do_not_depend_on_its_place_in_the_manifest(segmenter, contoured):
    cases, _ = contoured
    renamed = [CaseInput(name, cases[0].image, cases[0].mask) for name in ("a", "b")]
    forward = validate_cases(segmenter, renamed, label=2, protocol_clicks=2)["cases"]
    backward = validate_cases(segmenter, renamed[::-1], label=2, protocol_clicks=2)["cases"]
    assert {r["id"]: r for r in forward} == {r["id"]: r for r in backward}


def _manifest(tmp_path, rows: list[str]):
    path = tmp_path / "manifest.csv"
    path.write_text("case,image,mask\n" + "\n".join(rows) + "\n")
    return path


def test_the_command_prints_the_figures_and_writes_every_cases_row(contoured, tmp_path, capsys):
    manifest = _manifest(tmp_path, ["good,ct.nrrd,labels.nrrd", "empty,ct.nrrd,empty.nrrd"])
    report = tmp_path / "report.json"
    assert main(["models", "validate", str(manifest), "--label", "2", "--clicks", "1", "--protocol-clicks", "3", "--offline",
                 "-o", str(report)]) == EXIT_OK
    out, err = capsys.readouterr()
    assert "on 1 cases (1 not validated)" in out and "click at the tumor's centre" in out and "empty: not validated" in err
    written = json.loads(report.read_text())
    assert written["model"]["id"] == "nsclc-ct-tumor-seeded" and written["random_clicks"] == 1
    assert [r["id"] for r in written["cases"]] == ["good"] and len(written["cases"][0]["dice_random_clicks"]) == 1
    assert written["failed"][0]["id"] == "empty" and "dice_box" in written
    assert "after 5 click(s)" not in out and "after 3 click(s)" in out and "NoC@85, at most 3" in out
    assert written["protocol_clicks"] == 3 and len(written["cases"][0]["dice_by_click"]) == 3
    shares = written["share_of_wrong_voxels_near_contour"]["after_clicks"]
    assert set(shares) == {"1", "3"} and f"{shares['3']:.0%} after 3 click(s)" in out and "3 mm of the expert's contour" in out


def test_the_command_fails_clearly_when_no_case_can_be_scored(contoured, tmp_path, capsys):
    manifest = _manifest(tmp_path, ["empty,ct.nrrd,empty.nrrd"])
    assert main(["models", "validate", str(manifest), "--offline", "-o", str(tmp_path / "r.json")]) == EXIT_INPUT
    assert "None of the 1 cases could be validated" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
    with pytest.raises(SystemExit) as usage:
        main(["models", "validate", str(manifest), "--clicks", "-1"])
    assert usage.value.code == 2 and "0 or more" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["models", "validate", str(manifest), "--protocol-clicks", "0"])
    assert usage.value.code == 2 and "1 or more" in capsys.readouterr().err


@pytest.mark.realdata
def test_the_held_back_crops_score_through_the_command_as_in_the_models_validation(tmp_path):
    """The crops the default model was not trained on, written as NRRD files with a manifest, score from a
    central click through ``models validate`` as the training script's validation recorded them."""
    import sys

    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    from nsclc_crops_manifest import TRAINING_RECORD, training_patients, write_manifest

    record = json.loads(TRAINING_RECORD.read_text())
    manifest, written, left_out = write_manifest(data_path(), tmp_path, training_patients(TRAINING_RECORD))
    assert (written, left_out) == (32, 118)  # the 30 held-back crops and the 2 with an empty mask
    recorded = {f"patient_{row['id']:03d}": row for row in record["validation"]["cases"]}
    chosen = [case for case in read_manifest(manifest).cases if case.case in ("patient_002", "patient_014", "patient_341")]
    from ResponsePredictorLib.catalog import load_model

    model = load_model(None, allow_download=False)
    report = validate_cases(Segmenter(model.spec, model.network, device="cpu"), chosen, clicks=0, protocol_clicks=1)
    rows = report["cases"]
    assert len(rows) == 3 and "dice_random_clicks" not in report  # no random clicks asked for
    # The same inference path: equal Dice, up to bfloat16 on a CPU that computes it natively (the record's) or not.
    for row in rows:
        assert row["dice_central_click"] == pytest.approx(recorded[row["id"]]["dice_central_click"], abs=0.01)
