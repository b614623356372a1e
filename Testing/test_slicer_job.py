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
from ResponsePredictorLib.slicer_module.background import BackgroundRun, JobFailed, JobRequest, Scan
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


# --- other scans (multimodal cases) ----------------------------------------------------------------


def test_other_scans_go_into_the_manifest_as_the_cohort_runner_reads_them(tmp_path):
    import csv

    from ResponsePredictorLib.cohort.manifest import read_manifest

    scans = {"PET": Scan(tmp_path / "scan_PET.nrrd"),
             "MR_T1": Scan(tmp_path / "scan_MR_T1.nrrd", tmp_path / "scan_MR_T1_mask.nrrd")}
    request = JobRequest(tmp_path / "image.nrrd", seed=(1.0, 2.0, 3.0), scans=scans, covariates={"age": 68})
    path = slicer_job.write_manifest(request, tmp_path)
    with open(path, newline="") as stream:
        (row,) = csv.DictReader(stream)
    assert row["image_PET"] == str(tmp_path / "scan_PET.nrrd") and "mask_PET" not in row  # carried
    assert row["image_MR_T1"] == str(tmp_path / "scan_MR_T1.nrrd")
    assert row["mask_MR_T1"] == str(tmp_path / "scan_MR_T1_mask.nrrd")
    (case,) = read_manifest(path).cases
    assert {name: (str(scan.image), scan.mask and str(scan.mask)) for name, scan in case.scans.items()} == {
        "PET": (str(tmp_path / "scan_PET.nrrd"), None),
        "MR_T1": (str(tmp_path / "scan_MR_T1.nrrd"), str(tmp_path / "scan_MR_T1_mask.nrrd"))}
    assert dict(case.extra) == {"age": "68"}  # the scans' columns are inputs, not covariates

    clash = JobRequest(tmp_path / "image.nrrd", seed=(1.0, 2.0, 3.0), scans=scans, covariates={"image_PET": "x"})
    with pytest.raises(InputError, match="image_PET have the name of a manifest column"):
        slicer_job.write_manifest(clash, tmp_path)


@pytest.mark.parametrize("name, message", [
    ("1PET", "use a letter"), ("PET-CT", "use a letter"), ("PET__2", "use a letter"), ("", "use a letter"),
    ("original", "a word of the feature names"), ("PET_peri5mm", "a word of the feature names")])
def test_scan_names_the_engine_cannot_take_are_refused(tmp_path, name, message):
    with pytest.raises(InputError, match=message):
        JobRequest(tmp_path / "ct.nrrd", seed=(0, 0, 0), scans={name: Scan(tmp_path / "x.nrrd")})


def test_two_scans_of_one_name_in_any_case_are_refused(tmp_path):
    # Each names a folder of the case, and Windows and macOS do not tell PET from pet.
    with pytest.raises(InputError, match="named 'PET' and 'pet'"):
        JobRequest(tmp_path / "ct.nrrd", seed=(0, 0, 0), scans={"PET": Scan(tmp_path / "a.nrrd"),
                                                               "pet": Scan(tmp_path / "b.nrrd")})


@pytest.mark.parametrize("distances, body, message", [
    ((0.0,), False, "positive millimetres"), ((-5.0,), False, "positive millimetres"),
    ((float("nan"),), False, "positive millimetres"), ((5.0, 5.0), False, "twice"), ((), True, "need their distances")])
def test_peritumoral_settings_no_run_can_take_are_refused(tmp_path, distances, body, message):
    with pytest.raises(InputError, match=message):
        JobRequest(tmp_path / "ct.nrrd", seed=(0, 0, 0), peritumoral=distances, peritumoral_body=body)


@pytest.mark.parametrize("step", ["all", "predict", "explain"])
def test_peritumoral_shells_reach_the_engines_run(tmp_path, step):
    from ResponsePredictorLib.cli import build_parser
    from ResponsePredictorLib.cli.scan_options import scan_options

    request = JobRequest(tmp_path / "ct.nrrd", step=step, seed=(1.0, 2.0, 3.0), mask=None if step == "all" else
                         tmp_path / "mask.nrrd", peritumoral=(5.0, 2.5), peritumoral_body=True)
    arguments = slicer_job.engine_arguments(request, tmp_path)
    assert arguments[arguments.index("--peritumoral") + 1] == "5.0,2.5" and "--peritumoral-body" in arguments
    options = scan_options(build_parser().parse_args(arguments))  # as the engine checks them
    assert options.peritumoral == (2.5, 5.0) and options.body
    plain = slicer_job.engine_arguments(JobRequest(tmp_path / "ct.nrrd", seed=(1.0, 2.0, 3.0)), tmp_path)
    assert "--peritumoral" not in plain and "--peritumoral-body" not in plain


@pytest.mark.parametrize("segmentation_model, source", [(None, "default"), ("nsclc-ct-tumor-seeded", "nsclc-ct-tumor-seeded")])
def test_deep_features_reach_the_engines_run_of_the_network_the_panel_segments_with(tmp_path, segmentation_model,
                                                                                    source):
    from ResponsePredictorLib.cli import build_parser
    from ResponsePredictorLib.cli.scan_options import scan_options

    request = JobRequest(tmp_path / "ct.nrrd", step="predict", mask=tmp_path / "mask.nrrd", deep_features=True,
                         segmentation_model=segmentation_model)
    arguments = slicer_job.engine_arguments(request, tmp_path)
    assert scan_options(build_parser().parse_args(arguments)).deep == source  # as the engine reads it
    # Unchecked, no flag: a model that records its deep features has them computed without it.
    plain = JobRequest(tmp_path / "ct.nrrd", seed=(1.0, 2.0, 3.0), segmentation_model=segmentation_model)
    assert scan_options(build_parser().parse_args(slicer_job.engine_arguments(plain, tmp_path))).deep is None


def test_the_segment_step_takes_the_primary_scan_alone(tmp_path):
    request = JobRequest(tmp_path / "ct.nrrd", step="segment", seed=(1.0, 2.0, 3.0), peritumoral=(5.0,),
                         scans={"PET": Scan(tmp_path / "pet.nrrd")}, deep_features=True)
    arguments = slicer_job.engine_arguments(request, tmp_path)
    assert arguments[0] == "segment" and "--peritumoral" not in arguments and "pet.nrrd" not in " ".join(arguments)
    assert not any(argument.startswith("--deep-features") for argument in arguments)


def shifted(volume, offset: float):
    return volume.with_array(volume.array + offset)


def test_start_writes_each_scan_and_its_own_mask_into_the_work_folder(sample, tmp_path):
    from ResponsePredictorLib.volume import read_volume

    image, mask = sample
    pet = shifted(image, 1000)  # another image on the same grid, as a resampled PET would be
    run = BackgroundRun.start(image, mask, step="predict", python=[sys.executable, "-c", "pass"], work_root=tmp_path,
                              scans={"PET": Scan(pet), "MR_T2": Scan(shifted(image, 7), mask)},
                              peritumoral=(5.0,))
    try:
        scans = run.request.scans
        assert scans["PET"] == Scan(run.folder / "scan_PET.nrrd") and scans["PET"].image.is_file()
        assert scans["MR_T2"] == Scan(run.folder / "scan_MR_T2.nrrd", run.folder / "scan_MR_T2_mask.nrrd")
        np.testing.assert_array_equal(read_volume(scans["PET"].image).array, pet.array)
        np.testing.assert_array_equal(read_volume(scans["MR_T2"].mask).array, mask.array)
        assert "image_PET" in (run.folder / "manifest.csv").read_text()
    finally:
        run.cleanup()


def test_a_scan_that_is_the_primary_again_is_refused_before_anything_is_written(sample, monkeypatch):
    monkeypatch.setattr(slicer_job, "new_run", lambda *args: pytest.fail("wrote a work folder"))
    image, mask = sample
    with pytest.raises(InputError, match="Scan 'PET' is the same image as the primary scan"):
        BackgroundRun.start(image, mask, step="predict", scans={"PET": Scan(image.with_array(image.array.copy()))})
    with pytest.raises(InputError, match="Scan 'CT_B' is the same image as scan 'CT_A'"):
        BackgroundRun.start(image, mask, step="predict", scans={"CT_A": Scan(shifted(image, 1)),
                                                                "CT_B": Scan(shifted(image, 1))})
    with pytest.raises(InputError, match="use a letter"):
        BackgroundRun.start(image, mask, step="predict", scans={"../PET": Scan(shifted(image, 1))})
    with pytest.raises(InputError, match="Scan 'SPECT': name it after its modality"):
        BackgroundRun.start(image, mask, step="predict", scans={"SPECT": Scan(shifted(image, 1))})


def write_case_folder(folder: Path, mask, scans: dict) -> None:
    """A finished case folder as the cohort runner leaves it, with other scans: ``scans`` name ->
    (its provenance record, its mask or None, its heatmap or None)."""
    from ResponsePredictorLib.explain.heatmap import write_heatmap

    folder.mkdir(parents=True, exist_ok=True)
    write_volume(mask, folder / "mask.nrrd")
    (folder / "result.json").write_text(json.dumps({
        "format": "responsepredictor-case", "status": "done", "warnings": [],
        "provenance": {"scans": {name: record for name, (record, _, _) in scans.items()}}}))
    for name, (_, scan_mask, heatmap) in scans.items():
        if scan_mask is not None:
            (folder / "scans" / name).mkdir(parents=True)
            write_volume(scan_mask, folder / "scans" / name / "mask.nrrd")
        if heatmap is not None:
            write_heatmap(heatmap, folder / "scans" / name / "heatmap.nrrd")


def test_a_case_folder_with_other_scans_reads_back_each_ones_mask_heatmap_and_the_missing(sample, tmp_path):
    from ResponsePredictorLib.explain.heatmap import Heatmap

    image, mask = sample
    heatmap = Heatmap(mask.with_array(mask.array.astype(np.float32)), "signed", "contribution", "PET's share",
                      (-1.0, 1.0))
    write_case_folder(tmp_path, mask, {
        "PET": ({"status": "done", "mask_source": "carried from the primary scan"}, mask, heatmap),
        "MR_T1": ({"status": "done", "mask_source": "own mask"}, mask, None),
        "T2": ({"status": "missing"}, None, None)})
    outputs = slicer_job.read_case_folder(tmp_path)
    assert sorted(outputs.scans) == ["MR_T1", "PET"] and outputs.missing_scans == ["T2"]
    pet, mr = outputs.scans["PET"], outputs.scans["MR_T1"]
    assert pet.carried and not mr.carried and mr.heatmap is None
    np.testing.assert_array_equal(pet.mask.array, mask.array)
    assert pet.heatmap.colormap == "signed" and pet.heatmap.value_range == (-1.0, 1.0)
    np.testing.assert_array_equal(pet.heatmap.volume.array, heatmap.volume.array)

    write_case_folder(tmp_path / "half", mask, {"PET": ({"status": "done", "mask_source": "own mask"}, None, None)})
    with pytest.raises(JobFailed, match="no tumor mask for scan 'PET'"):
        slicer_job.read_case_folder(tmp_path / "half")


def test_the_modules_words_for_other_scans_are_the_engines():
    # Copied, not imported: the engine's modules import torch, which the panel must not need.
    from ResponsePredictorLib.pipeline import case_folder, scans
    from ResponsePredictorLib.slicer_module import other_scans

    assert (other_scans.OWN_MASK, other_scans.DONE, other_scans.MISSING) == (scans.OWN_MASK, scans.DONE,
                                                                             scans.MISSING)
    assert other_scans.SCANS_DIR == case_folder.SCANS_DIR
