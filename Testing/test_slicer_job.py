"""The Slicer module's background runs of one case (background.py), outside Slicer: manifest,
command line, the real engine in a child process started through a stand-in for Slicer's
``PythonSlicer`` launcher (cancel, crash, bad input, timeout, progress), and reading results back."""

from __future__ import annotations

import json
import signal
import sys
import types
from pathlib import Path

import numpy as np
import psutil
import pytest
from slicer_run_helpers import (THROUGH_LAUNCHER, RecordingLaunch, assert_all_ended, assert_cancel_ends_them,
                                assert_failed)

from ResponsePredictorLib.engine_status import Progress
from ResponsePredictorLib.errors import InputError
from ResponsePredictorLib.resources import resource_path
from ResponsePredictorLib.slicer_module import background as slicer_job
from ResponsePredictorLib.slicer_module import models
from ResponsePredictorLib.slicer_module.background import BackgroundRun, JobFailed, JobRequest
from ResponsePredictorLib.volume import write_volume


def tumor_centre(mask) -> tuple[float, float, float]:
    k, j, i = (np.mean(axis) for axis in np.nonzero(mask.array))
    matrix = np.reshape(mask.direction, (3, 3)) * np.array(mask.spacing)
    return tuple(float(value) for value in np.array(mask.origin) + matrix @ np.array([i, j, k]))


def test_requests_are_checked_before_anything_runs(tmp_path):
    image = tmp_path / "ct.nrrd"
    with pytest.raises(InputError, match="Show where the tumor is"):
        JobRequest(image)
    with pytest.raises(InputError, match="segment it first"):
        JobRequest(image, step="predict")
    with pytest.raises(InputError, match="already segmented"):
        JobRequest(image, step="segment", mask=tmp_path / "m.nrrd")
    with pytest.raises(InputError, match="heatmap method"):
        JobRequest(image, step="explain", mask=tmp_path / "m.nrrd", heatmap="none")
    with pytest.raises(InputError, match="Unknown step"):
        JobRequest(image, step="everything", seed=(0, 0, 0))
    with pytest.raises(InputError, match="Unknown device"):
        JobRequest(image, seed=(0, 0, 0), device="tpu")
    assert JobRequest(image, seed=(0, 0, 0)).heatmap_method == "contribution"
    assert JobRequest(image, step="predict", mask=image).heatmap_method is None
    assert JobRequest(image, seed=(0, 0, 0), heatmap="none").heatmap_method is None


def test_manifest_is_one_row_the_cohort_runner_reads(tmp_path):
    from ResponsePredictorLib.cohort.manifest import read_manifest

    seed = (-12.5, 33.25, 101.0)
    request = JobRequest(tmp_path / "image.nrrd", seed=seed, covariates={"age": 68, "Histology": "adenocarcinoma"})
    manifest = read_manifest(slicer_job.write_manifest(request, tmp_path))
    (case,) = manifest.cases
    assert case.case == slicer_job.CASE_NAME and case.seed == seed and case.mask is None
    assert str(case.image) == str(tmp_path / "image.nrrd")
    assert dict(case.extra) == {"age": "68", "Histology": "adenocarcinoma"}

    roi = (-1.0, -2.0, -3.0, 4.0, 5.0, 6.0)
    (case,) = read_manifest(slicer_job.write_manifest(JobRequest(tmp_path / "image.nrrd", roi=roi), tmp_path)).cases
    assert case.roi == roi and case.seed is None
    with_mask = JobRequest(tmp_path / "image.nrrd", step="predict", mask=tmp_path / "mask.nrrd")
    (case,) = read_manifest(slicer_job.write_manifest(with_mask, tmp_path)).cases
    assert str(case.mask) == str(tmp_path / "mask.nrrd")


@pytest.mark.parametrize("step", slicer_job.STEPS)
def test_command_lines_are_ones_the_engine_accepts(tmp_path, step):
    from ResponsePredictorLib.cli import build_parser

    mask = None if step in ("all", "segment") else tmp_path / "mask.nrrd"
    request = JobRequest(tmp_path / "ct.nrrd", step=step, mask=mask, seed=(1.0, 2.0, 3.0),
                         segmentation_model="nsclc-ct-tumor-seeded", preset="ct", device="cpu")
    command = slicer_job.command_line(request, tmp_path, python="python")
    assert command[:3] == ["python", "-m", "ResponsePredictorLib.cli"]
    assert slicer_job.command_line(request, tmp_path, python=["launcher", "--x"])[:4] == [
        "launcher", "--x", "-m", "ResponsePredictorLib.cli"]
    args = build_parser().parse_args(command[3:])
    assert args.command == ("segment" if step == "segment" else "run")
    assert args.device == "cpu"
    if step == "segment":
        assert args.seed == [(1.0, 2.0, 3.0)] and str(args.output) == str(tmp_path / "mask.nrrd")  # --seed repeats
    else:
        assert (args.heatmap or "none") == (request.heatmap_method or "none")
        assert args.quiet  # no progress bar in the log: the progress lines say it
        assert Path(args.model) == resource_path("Models", models.DEFAULT_OUTCOME_MODEL)


@pytest.mark.parametrize("where", ["seed", "roi"])
def test_negative_coordinates_reach_the_engine(tmp_path, where):
    # A tumor on the patient's right has a negative x (LPS): argparse must not take it for an option.
    from ResponsePredictorLib.cli import build_parser

    value = (-12.5, 3.0, 4.0) if where == "seed" else (-30.0, -20.0, -1e-05, -10.0, 5.0, 6.0)
    request = JobRequest(tmp_path / "ct.nrrd", step="segment", **{where: value})
    args = build_parser().parse_args(slicer_job.engine_arguments(request, tmp_path))  # exits 2 when refused
    given = getattr(args, where)
    assert (given == [value]) if where == "seed" else (tuple(given) == value)  # --seed repeats, --roi is one box


def test_contributions_as_text():
    assert slicer_job.format_contributions([("age", 0.2), ("N", -0.1)]) == "+0.200  age\n-0.100  N"


def test_case_folder_refuses_failed_and_incomplete_cases(tmp_path, sample):
    with pytest.raises(JobFailed, match="no tumor mask"):
        slicer_job.read_case_folder(tmp_path)
    (tmp_path / "result.json").write_text(json.dumps(
        {"format": "responsepredictor-case", "status": "failed", "error": "Mask file not found: x.nrrd"}))
    with pytest.raises(JobFailed, match="Mask file not found"):
        slicer_job.read_case_folder(tmp_path)
    (tmp_path / "result.json").write_text("{not json")
    with pytest.raises(JobFailed, match="incomplete or unreadable"):
        slicer_job.read_case_folder(tmp_path)
    (tmp_path / "result.json").unlink()
    write_volume(sample[1], tmp_path / "mask.nrrd")  # the segment step's folder: a mask alone
    outputs = slicer_job.read_case_folder(tmp_path)
    np.testing.assert_array_equal(outputs.mask.array, sample[1].array)
    assert outputs.features == {} and outputs.heatmap is None and outputs.kind is None


def segment_in_background(sample, tmp_path, launch=None) -> BackgroundRun:
    """The segment step on the sample tumor's centre, through the launcher stand-in, on the CPU."""
    image, mask = sample
    return BackgroundRun.start(image, step="segment", seed=tumor_centre(mask), device="cpu", python=THROUGH_LAUNCHER,
                               work_root=tmp_path, launch=launch)


def test_segment_step_runs_through_the_launcher_and_reports_its_stages(sample, tmp_path):
    image, mask = sample
    run = segment_in_background(sample, tmp_path)
    fractions = []
    try:
        assert run.folder.parent == tmp_path and run.progress().fraction is None  # nothing reported yet
        assert run.wait(300, idle=lambda: fractions.append(run.progress().fraction)) == 0, run.log()
        outputs = run.result()
        assert outputs.mask.same_grid(image)
        found, truth = outputs.mask.array > 0, mask.array > 0
        dice = 2 * np.count_nonzero(found & truth) / (np.count_nonzero(found) + np.count_nonzero(truth))
        assert dice > 0.5
        # The engine's stages as the panel reads them, forward only; the raw lines stay in the log.
        reported = [fraction for fraction in fractions if fraction is not None]
        assert len(set(reported)) >= 2 and reported == sorted(reported)
        assert run.progress() == Progress("write", 0.95, "Writing the tumor mask")
        assert "\ntumor: " in run.log()
        assert "RP-PROGRESS segment 0.400 Segmenting the tumor" in run.log()
    finally:
        run.cleanup()
    assert not run.folder.exists()


def test_cancel_ends_the_launcher_and_the_engine_and_leaves_no_folder(sample, tmp_path):
    launch = RecordingLaunch()
    run = segment_in_background(sample, tmp_path, launch)
    try:
        launch.wait_for_engine(run)
        # The launcher ignores SIGTERM and forwards nothing: only ending the tree stops the work.
        assert_cancel_ends_them(run, launch.processes())
    finally:
        run.cleanup()
    assert not run.folder.exists() and list(tmp_path.iterdir()) == []


def test_an_engine_killed_mid_run_is_reported_as_a_crash_not_as_an_error(sample, tmp_path):
    launch = RecordingLaunch()
    run = segment_in_background(sample, tmp_path, launch)
    try:
        launch.wait_for_engine(run, stage="load").send_signal(signal.SIGKILL)  # as when memory runs out
        assert run.wait(60) == 1  # the launcher's code for a crash: also that of an internal error
        failure = assert_failed(run, "crashed", "stopped without finishing .it may have run out of memory or crashed")
        assert "Loading the segmentation model" in failure.details  # the log so far
    finally:
        run.cleanup()
    assert not run.folder.exists()


def test_bad_input_is_reported_with_the_engines_explanation(sample, tmp_path):
    image, mask = sample
    not_a_model = tmp_path / "not_a_model"
    not_a_model.mkdir()
    run = BackgroundRun.start(image, mask, step="predict", model=str(not_a_model), python=THROUGH_LAUNCHER,
                              work_root=tmp_path)
    try:
        assert run.wait(120) == 3
        failure = assert_failed(run, "bad input")
        assert str(failure).startswith(f"{not_a_model} is not a model folder")
    finally:
        run.cleanup()


def test_a_timeout_ends_the_whole_run(sample, tmp_path):
    launch = RecordingLaunch()
    run = segment_in_background(sample, tmp_path, launch)
    seen: set[psutil.Process] = set()
    try:
        launch.wait_for_engine(run)
        run.wait(0.5, idle=lambda: seen.update(launch.processes()))
        assert len(seen) >= 2  # the launcher and the engine were there
        assert_all_ended(list(seen))
        assert_failed(run, "timed out", "longer than the time allowed")
    finally:
        run.cleanup()
    assert not run.folder.exists()


def test_model_ids_and_folders_resolve_to_the_bundled_models(tmp_path, monkeypatch):
    bundled = resource_path("Models", models.DEFAULT_OUTCOME_MODEL)
    assert slicer_job.model_folder("default") == bundled
    assert slicer_job.model_folder(models.DEFAULT_OUTCOME_MODEL) == bundled  # an id, as a saved scene keeps it
    assert slicer_job.model_folder(str(bundled)) == bundled
    assert slicer_job.model_folder(tmp_path) == tmp_path
    # A relative folder, then, made absolute here: the engine runs in another folder.
    monkeypatch.chdir(tmp_path)
    assert slicer_job.model_folder("my_model") == tmp_path / "my_model"


def test_the_modules_model_names_are_the_engines():
    # Copied, not imported: the engine's modules import torch, which the panel must not need.
    import importlib

    from ResponsePredictorLib.pipeline import settings
    from ResponsePredictorLib.slicer_module import cohort_run

    run_command = importlib.import_module("ResponsePredictorLib.cli.run_command")  # the cli names a function so
    assert models.DEFAULT_MODEL == settings.DEFAULT_MODEL and cohort_run.NO_MODEL == run_command.NO_MODEL


def test_model_card_is_read_without_loading_the_model(tmp_path):
    assert slicer_job.model_card(models.DEFAULT_OUTCOME_MODEL) == slicer_job.model_card("default")
    card = slicer_job.model_card("default")
    assert card["intended_use"].startswith("Research use only")
    assert "days" in card["outcome"]["definition"]
    with pytest.raises(InputError, match="not a prediction model folder"):
        slicer_job.model_card(tmp_path)


def test_nothing_is_written_for_a_request_that_cannot_run(sample, monkeypatch, tmp_path):
    monkeypatch.setattr(slicer_job, "new_run", lambda *args: pytest.fail("wrote a work folder"))
    with pytest.raises(InputError, match="segment it first"):
        BackgroundRun.start(sample[0], step="predict")
    with pytest.raises(InputError, match="Unknown device 'tpu'"):
        BackgroundRun.start(sample[0], seed=(1.0, 2.0, 3.0), device="tpu")


def test_inside_slicer_the_engine_runs_in_pythonslicer_never_in_the_application(monkeypatch):
    from ResponsePredictorLib.slicer_module import engine_run

    monkeypatch.setitem(sys.modules, "slicer", types.SimpleNamespace(app=object()))  # the application
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RuntimeError, match="PythonSlicer executable not found"):
        engine_run.python_executable()
    monkeypatch.setitem(sys.modules, "slicer", types.SimpleNamespace())  # slicer-core: no application
    assert engine_run.python_executable() == sys.executable


def test_segmentation_models_come_from_the_catalog_default_first():
    from ResponsePredictorLib.catalog_file import read_catalog

    catalog = read_catalog()
    ids = slicer_job.segmentation_model_ids()
    assert ids[0] == catalog.default_id and set(ids) == set(catalog.entries)
