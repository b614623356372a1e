"""Model folders: identical predictions after a round trip, and refusal of anything altered, untrusted
or incomplete, with a clear message."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from predict_synthetic import (
    SMALL_GRIDS,
    binary_outcome,
    feature_table,
    survival_outcome,
)
from ResponsePredictorLib.errors import MissingFeatureError, ModelFileError
from ResponsePredictorLib.predict import (
    BinaryModel,
    BinaryOutcome,
    SurvivalModel,
    SurvivalOutcome,
    load_model,
    save_model,
)
from ResponsePredictorLib.predict.learners import LEARNERS
from ResponsePredictorLib.predict.persistence import _sha256

CARD = {"name": "test"}


def save(learner: str, folder):
    X = feature_table(n=60)
    if LEARNERS[learner].kind == "binary":
        model, outcome = BinaryModel(learner=learner, param_grid=SMALL_GRIDS[learner], inner_folds=3, n_bootstrap=4), BinaryOutcome("responder")
        model.fit(X, binary_outcome(X))
    else:
        model, outcome = SurvivalModel(learner=learner, param_grid=SMALL_GRIDS[learner], inner_folds=3, n_bootstrap=4), SurvivalOutcome("time", "event")
        model.fit(X, survival_outcome(X))
    fingerprint = save_model(model, outcome, folder, CARD, "# test\n")
    return model, X, fingerprint


@pytest.fixture(scope="module")
def lightgbm_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models") / "lightgbm"
    model, X, fingerprint = save("lightgbm", folder)
    return folder, X, fingerprint


def copy(folder, tmp_path):
    return shutil.copytree(folder, tmp_path / "copy")


def rewrite_manifest(folder):
    """What an attacker would do after editing a file: make the manifest match again."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {name: _sha256((folder / name).read_bytes()) for name in manifest["files"]}
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("learner", ["logistic", "lightgbm", "ensemble", "coxnet", "rsf"])
def test_round_trip_gives_identical_predictions(tmp_path, learner):
    model, X, fingerprint = save(learner, tmp_path / "model")
    saved = load_model(tmp_path / "model", fingerprint)
    assert saved.fingerprint == fingerprint and saved.card == CARD and saved.model.kind == model.kind
    np.testing.assert_array_equal(saved.model.outputs(X).to_numpy(), model.outputs(X).to_numpy())
    np.testing.assert_array_equal(saved.model.contributions(X).to_numpy(), model.contributions(X).to_numpy())
    assert saved.model.get_params() == model.get_params()
    files = {path.name for path in (tmp_path / "model").rglob("*")}
    assert not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in files)


@pytest.mark.parametrize("target", ["arrays.npz", "model.json", "lightgbm/0.txt"])
def test_a_changed_file_is_refused(lightgbm_model, tmp_path, target):
    folder = copy(lightgbm_model[0], tmp_path)
    data = bytearray((folder / target).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / target).write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="has changed since the model was saved"):
        load_model(folder)


def test_a_consistent_forgery_is_refused_by_the_fingerprint(lightgbm_model, tmp_path):
    original, X, fingerprint = lightgbm_model
    folder = copy(original, tmp_path)
    document = json.loads((folder / "model.json").read_text())
    document["model"]["outputs"]["threshold_"] = 0.0  # everybody predicted positive
    (folder / "model.json").write_text(json.dumps(document))
    rewrite_manifest(folder)
    assert load_model(folder).model.threshold_ == 0.0  # the manifest alone cannot tell...
    with pytest.raises(ModelFileError, match="not the expected model"):
        load_model(folder, fingerprint)  # ...the published fingerprint can


def test_pickled_content_is_never_loaded(lightgbm_model, tmp_path):
    folder = copy(lightgbm_model[0], tmp_path)
    buffer = io.BytesIO()
    np.savez(buffer, a0=np.array([{"pickled": "object"}], dtype=object))  # needs pickle to read
    (folder / "arrays.npz").write_bytes(buffer.getvalue())
    rewrite_manifest(folder)
    with pytest.raises(ModelFileError, match="malformed"):
        load_model(folder)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["model"]["pipeline"]["head"]["learner"].update(name="os.system"), "unknown learner"),
        (lambda d: d.update(format_version=99), "version 99"),
        (lambda d: d["model"].update(kind="regression"), "unknown model kind"),
    ],
)
def test_unknown_content_is_refused(lightgbm_model, tmp_path, edit, message):
    folder = copy(lightgbm_model[0], tmp_path)
    document = json.loads((folder / "model.json").read_text())
    edit(document)
    (folder / "model.json").write_text(json.dumps(document))
    rewrite_manifest(folder)
    with pytest.raises(ModelFileError, match=message):
        load_model(folder)


def test_incomplete_or_foreign_folders_are_refused(lightgbm_model, tmp_path):
    folder = copy(lightgbm_model[0], tmp_path)
    (folder / "lightgbm" / "0.txt").unlink()
    with pytest.raises(ModelFileError, match="incomplete: lightgbm/0.txt is missing"):
        load_model(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["../../etc/passwd"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="outside the model folder"):
        load_model(folder)
    with pytest.raises(ModelFileError, match="not a model folder"):
        load_model(tmp_path)


def test_a_table_missing_a_feature_is_refused(lightgbm_model):
    folder, X, _ = lightgbm_model
    model = load_model(folder).model
    with pytest.raises(MissingFeatureError, match="lacks 1 feature column.*signal_b"):
        model.outputs(X.drop(columns="signal_b"))
    # Extra columns and another column order are fine.
    shuffled = X[list(reversed(X.columns))].assign(unrelated=1.0)
    np.testing.assert_array_equal(model.outputs(shuffled).to_numpy(), model.outputs(X).to_numpy())


def test_saving_replaces_a_model_but_not_other_folders(lightgbm_model, tmp_path):
    folder = copy(lightgbm_model[0], tmp_path)
    model = load_model(folder).model
    fingerprint = save_model(model, BinaryOutcome("responder"), folder, {"name": "again"}, "# again\n")
    assert load_model(folder, fingerprint).card == {"name": "again"}
    other = tmp_path / "documents"
    other.mkdir()
    (other / "thesis.docx").write_text("precious")
    with pytest.raises(ModelFileError, match="not a model folder"):
        save_model(model, BinaryOutcome("responder"), other, {}, "")
    assert (other / "thesis.docx").read_text() == "precious"
