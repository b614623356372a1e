"""The command line: outputs, exit codes and messages, run in-process on the bundled sample case."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ResponsePredictorLib.cli import EXIT_INPUT, EXIT_OK, main
from ResponsePredictorLib.features import FeatureExtractor
from ResponsePredictorLib.resources import resource_path
from ResponsePredictorLib.volume import read_volume, write_volume

IMAGE = resource_path("SampleData", "nsclc070_ct.nrrd")
MASK = resource_path("SampleData", "nsclc070_tumor.nrrd")


def read_rows(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def sample_features():
    image = read_volume(IMAGE)
    return FeatureExtractor.from_preset("ct").extract(image, read_volume(MASK)).features


def test_features_writes_one_row_with_pyradiomics_names(tmp_path, sample_features, capsys):
    out = tmp_path / "features.csv"
    diagnostics = tmp_path / "diagnostics.json"
    code = main(["features", str(IMAGE), str(MASK), "--preset", "ct", "-o", str(out), "--diagnostics", str(diagnostics)])
    assert code == EXIT_OK
    rows = read_rows(out)
    assert len(rows) == 1
    header = list(rows[0])
    assert header[0] == "case" and rows[0]["case"] == "nsclc070_ct"
    assert header[1:] == list(sample_features)
    # repr() floats read back bit-identical
    assert {name: float(rows[0][name]) for name in header[1:]} == sample_features
    assert "diagnostics_Versions_ResponsePredictor" in json.loads(diagnostics.read_text())["nsclc070_ct"]
    assert f"{len(sample_features)} features" in capsys.readouterr().out


def test_params_file_and_case_name(tmp_path):
    params = tmp_path / "firstorder.yaml"
    params.write_text("imageType: {Original: {}}\nfeatureClass: {firstorder: []}\nsetting: {binWidth: 25}\n")
    out = tmp_path / "f.csv"
    assert main(["features", str(IMAGE), str(MASK), "--params", str(params), "--case", "P1", "-o", str(out)]) == EXIT_OK
    row = read_rows(out)[0]
    assert row["case"] == "P1"
    assert all(name.startswith("original_firstorder_") for name in list(row)[1:])


def test_all_labels_and_label_choice(tmp_path):
    mask = read_volume(MASK)
    two = mask.array.copy()
    z = np.argwhere(two > 0)[:, 0]
    two[(two > 0) & (np.arange(two.shape[0])[:, None, None] > np.median(z))] = 2
    two_labels = write_volume(mask.with_array(two), tmp_path / "two.nrrd")
    params = tmp_path / "p.yaml"
    params.write_text("imageType: {Original: {}}\nfeatureClass: {shape: []}\nsetting: {}\n")
    out = tmp_path / "all.csv"
    assert main(["features", str(IMAGE), str(two_labels), "--params", str(params), "--all-labels", "-o", str(out)]) == 0
    assert [row["case"] for row in read_rows(out)] == ["nsclc070_ct_label1", "nsclc070_ct_label2"]
    out2 = tmp_path / "two.csv"
    assert main(["features", str(IMAGE), str(two_labels), "--params", str(params), "--label", "2", "-o", str(out2)]) == 0
    assert read_rows(out2)[0]["original_shape_VoxelVolume"] == read_rows(out)[1]["original_shape_VoxelVolume"]


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda tmp: [str(tmp / "missing.nrrd"), str(MASK)], "not found"),
        (lambda tmp: [str(IMAGE), str(MASK), "--label", "7"], "Label 7 is not in the mask"),
        (lambda tmp: [str(IMAGE), str(MASK), "--params", str(tmp / "none.yaml")], "Parameter file not found"),
    ],
)
def test_bad_input_exits_3_with_a_message_and_writes_nothing(tmp_path, capsys, make_args, message):
    out = tmp_path / "out.csv"
    assert main(["features", *make_args(tmp_path), "-o", str(out)]) == EXIT_INPUT
    assert message in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".out.csv*"))


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["features", str(IMAGE)])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["features", str(IMAGE), str(MASK), "--preset", "unknown", "-o", "x.csv"])
    assert exit_info.value.code == 2


def test_demo_runs_the_sample_case_end_to_end(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path)]) == EXIT_OK
    folder = tmp_path / "nsclc070"
    image = read_volume(IMAGE)
    auto = read_volume(folder / "mask.nrrd")
    assert auto.same_grid(image) and auto.array.any()
    # The features are those of the segmented tumor, with the default model's settings (the ct preset).
    features = json.loads((folder / "features.json").read_text())["features"]
    assert features == FeatureExtractor.from_preset("ct").extract(image, auto).features
    prediction = json.loads((folder / "prediction.json").read_text())["prediction"]
    assert prediction["survival_lower"] <= prediction["survival"] <= prediction["survival_upper"]
    record = json.loads((folder / "result.json").read_text())
    assert record["status"] == "done"
    assert (folder / "report.png").stat().st_size > 50_000
    printed = capsys.readouterr().out
    assert "Dice" in printed and "Risk of death within 2 years" in printed and "heatmap" in printed
    # A heatmap where the default model has an input that varies over the tumor; else the case says why not.
    if "heatmap.nrrd" in record["files"]:
        heatmap = read_volume(folder / "heatmap.nrrd")
        assert heatmap.same_grid(image) and heatmap.array[auto.array > 0].any() and not heatmap.array[auto.array == 0].any()
    else:
        assert "note: No contribution heatmap: the model's inputs" in printed


def test_every_commands_help_reads_as_written():
    # argparse %-formats an option's help but not a description: a stray '%%' shows as typed.
    from ResponsePredictorLib.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        text = command.format_help()
        assert "%%" not in text and "%(" not in text, name
