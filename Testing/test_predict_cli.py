"""``responsepredictor train / predict / evaluate`` in-process: outputs, exit codes and messages."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from predict_synthetic import feature_table, with_outcomes
from ResponsePredictorLib.cli import EXIT_INPUT, EXIT_OK, main
from ResponsePredictorLib.features import load_settings
from ResponsePredictorLib.predict import load_model, read_table

FAST = ["--folds", "3", "--repeats", "1", "--inner-folds", "3", "--bootstrap", "5"]


def rows(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    table = with_outcomes(feature_table(n=90))
    table.iloc[:70].to_csv(folder / "train.csv", index=False)
    table.iloc[70:].to_csv(folder / "test.csv", index=False)
    table.iloc[70:].drop(columns=["responder", "time", "event", "signal_b"]).to_csv(folder / "incomplete.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def binary_model(tables):
    folder = tables / "binary_model"
    code = main(["train", str(tables / "train.csv"), "--outcome", "responder", "--exclude", "time", "event", *FAST, "-o", str(folder)])
    assert code == EXIT_OK
    return folder


def test_train_prints_the_validation_and_saves_the_model(tables, binary_model, capsys):
    model_dir = tables / "again"
    assert main(["train", str(tables / "train.csv"), "--outcome", "responder", "--exclude", "time", "event", *FAST,
                 "--name", "Responders", "-o", str(model_dir)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "AUC:" in out and "95% CI" in out and "fingerprint" in out
    saved = load_model(model_dir)
    assert saved.card["name"] == "Responders" and "auc" in saved.card["validation"]["metrics"]
    assert saved.feature_settings is None  # not told how the table's features were made
    assert {"model.json", "manifest.json", "model_card.md", "arrays.npz"} <= {p.name for p in model_dir.iterdir()}


def test_train_records_the_feature_settings_it_is_given(tables, tmp_path):
    model_dir = tmp_path / "with_settings"
    assert main(["train", str(tables / "train.csv"), "--outcome", "responder", "--exclude", "time", "event", *FAST,
                 "--preset", "mr", "-o", str(model_dir)]) == EXIT_OK
    assert load_model(model_dir).feature_settings == load_settings(preset="mr")
    assert main(["train", str(tables / "train.csv"), "--outcome", "responder", *FAST, "--preset", "nope",
                 "-o", str(tmp_path / "never")]) == EXIT_INPUT
    assert not (tmp_path / "never").exists()


def test_train_takes_a_runs_results_table_as_it_is(tables, tmp_path, capsys):
    # results.csv of 'responsepredictor run': status, error, the run's own predictions, failed cases.
    import pandas as pd

    table = pd.read_csv(tables / "train.csv")
    table.insert(1, "status", "done")
    table.insert(2, "error", "")
    table["prediction_probability"] = 0.5
    failed = table.index[:3]
    table.loc[failed, "status"], table.loc[failed, "error"] = "failed", "The mask is empty."
    table.loc[failed, [c for c in table.columns if c.startswith("signal")]] = None
    table.to_csv(tmp_path / "results.csv", index=False)
    assert main(["train", str(tmp_path / "results.csv"), "--outcome", "responder", "--exclude", "time", "event", *FAST,
                 "-o", str(tmp_path / "model")]) == EXIT_OK
    assert f"the {len(table) - 3} of {len(table)} cases done are used" in capsys.readouterr().out
    inputs = set(load_model(tmp_path / "model").model.feature_names_in_)
    assert not inputs & {"status", "error", "prediction_probability"} and inputs


def test_predict_writes_probabilities_intervals_and_contributions(tables, binary_model, tmp_path):
    out, everything = tmp_path / "pred.csv", tmp_path / "contributions.csv"
    assert main(["predict", str(binary_model), str(tables / "test.csv"), "-o", str(out), "--top", "3",
                 "--contributions", str(everything)]) == EXIT_OK
    predicted = rows(out)
    assert list(predicted[0]) == ["case", "probability", "lower", "upper", "predicted", "feature_1", "contribution_1",
                                  "feature_2", "contribution_2", "feature_3", "contribution_3"]
    assert [row["case"] for row in predicted] == [f"case{i:03d}" for i in range(70, 90)]
    expected = load_model(binary_model).model.outputs(read_table(tables / "test.csv"))
    np.testing.assert_array_equal([float(row["probability"]) for row in predicted], expected["probability"])
    assert all(float(row["lower"]) <= float(row["upper"]) for row in predicted)
    assert "(baseline)" in rows(everything)[0]


def test_evaluate_scores_a_held_out_table(tables, binary_model, tmp_path, capsys):
    report = tmp_path / "report.json"
    assert main(["evaluate", str(binary_model), str(tables / "test.csv"), "--resamples", "200", "-o", str(report)]) == EXIT_OK
    assert "AUC:" in capsys.readouterr().out
    result = json.loads(report.read_text())
    assert result["settings"]["method"] == "held-out evaluation" and result["settings"]["cases"] == 20
    assert 0 <= result["metrics"]["auc"]["lower"] <= result["metrics"]["auc"]["value"] <= result["metrics"]["auc"]["upper"] <= 1


def test_survival_train_predict_evaluate(tables, tmp_path, capsys):
    model_dir, out = tmp_path / "cox", tmp_path / "risk.csv"
    assert main(["train", str(tables / "train.csv"), "--time", "time", "--event", "event", "--exclude", "responder",
                 "--horizon", "300", *FAST, "-o", str(model_dir)]) == EXIT_OK
    assert "C-index" in capsys.readouterr().out
    assert main(["predict", str(model_dir), str(tables / "test.csv"), "-o", str(out), "--top", "1", "--times", "100", "300"]) == EXIT_OK
    first = rows(out)[0]
    assert list(first) == ["case", "risk", "lower", "upper", "horizon", "survival", "survival_lower", "survival_upper",
                           "score", "survival_at_100", "survival_at_300", "feature_1", "contribution_1"]
    assert float(first["horizon"]) == 300 and float(first["risk"]) == pytest.approx(1 - float(first["survival"]))
    assert float(first["survival_at_300"]) == pytest.approx(float(first["survival"]))
    assert float(first["survival_at_100"]) >= float(first["survival_at_300"])
    assert main(["evaluate", str(model_dir), str(tables / "test.csv"), "--resamples", "100"]) == EXIT_OK
    assert "AUC at horizon" in capsys.readouterr().out


def test_bad_input_exits_3_and_writes_nothing(tables, binary_model, tmp_path, capsys):
    out = tmp_path / "pred.csv"
    assert main(["predict", str(binary_model), str(tables / "incomplete.csv"), "-o", str(out)]) == EXIT_INPUT
    assert "lacks 1 feature column(s)" in capsys.readouterr().err and not out.exists()
    assert main(["predict", str(binary_model), str(tables / "test.csv"), "--fingerprint", "0" * 64, "-o", str(out)]) == EXIT_INPUT
    assert "not the expected model" in capsys.readouterr().err and not out.exists()
    assert main(["evaluate", str(binary_model), str(tables / "incomplete.csv")]) == EXIT_INPUT
    assert "Outcome column 'responder' is not in the table" in capsys.readouterr().err
    assert main(["train", str(tables / "train.csv"), "--outcome", "responder", "--model", "rsf", *FAST, "-o", str(tmp_path / "m")]) == EXIT_INPUT
    assert "Unknown binary model 'rsf'" in capsys.readouterr().err and not (tmp_path / "m").exists()


def test_usage_errors_exit_2(tables, tmp_path):
    for arguments in (["train", str(tables / "train.csv"), "-o", str(tmp_path / "m")],
                      ["train", str(tables / "train.csv"), "--time", "time", "-o", str(tmp_path / "m")],
                      ["train", str(tables / "train.csv"), "--outcome", "responder", "--event", "event", "-o", str(tmp_path / "m")]):
        with pytest.raises(SystemExit) as exit_info:
            main(arguments)
        assert exit_info.value.code == 2
