"""The Slicer module's background runs (slicer_job.py), outside Slicer: manifest, command line,
child process, cancel, and reading results back."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from ResponsePredictorLib.slicer_module import background as slicer_job
from ResponsePredictorLib.errors import InputError
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
    args = build_parser().parse_args(command[3:])
    assert args.command == ("segment" if step == "segment" else "run")
    assert args.device == "cpu"
    if step == "segment":
        assert tuple(args.seed) == (1.0, 2.0, 3.0) and str(args.output) == str(tmp_path / "mask.nrrd")
    else:
        assert (args.heatmap or "none") == (request.heatmap_method or "none")


def test_cohort_command_lines_are_ones_the_engine_accepts(tmp_path):
    from ResponsePredictorLib.cli import build_parser

    args = build_parser().parse_args(slicer_job.cohort_arguments(tmp_path / "m.csv", tmp_path / "out", workers=2))
    assert (args.command, args.workers, args.scheduler, args.no_report) == ("run", 2, None, False)
    args = build_parser().parse_args(slicer_job.cohort_arguments(
        "m.csv", "out", scheduler="tcp://127.0.0.1:8786", heatmap="none", report=False, model="my_model"))
    assert (args.scheduler, args.workers, args.heatmap, args.no_report, args.model) == (
        "tcp://127.0.0.1:8786", None, "none", True, "my_model")


def test_engine_runs_in_a_child_process_with_the_engine_importable(tmp_path, capfd):
    # A bad manifest: the child runs the real command and exits 3 (bad input), explained on stderr.
    assert slicer_job.run_engine(["run", str(tmp_path / "absent.csv"), "-o", str(tmp_path / "out")],
                                 python=sys.executable) == 3
    assert "absent.csv" in capfd.readouterr().err


def test_failure_messages_keep_the_engines_explanation():
    log = "loading...\nresponsepredictor run: error: Mask file not found: x.nrrd. Check the manifest.\n"
    assert slicer_job.failure_message(3, log) == "Mask file not found: x.nrrd. Check the manifest."
    assert "crashed" in slicer_job.failure_message(-11, "")
    assert "exit code 1" in slicer_job.failure_message(1, "Traceback ...")


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


def test_segment_step_runs_in_a_child_process(sample):
    image, mask = sample
    run = BackgroundRun.start(image, step="segment", seed=tumor_centre(mask), device="cpu", python=sys.executable)
    try:
        assert run.wait(300) == 0, run.log()
        outputs = run.result()
        assert outputs.mask.same_grid(image)
        found, truth = outputs.mask.array > 0, mask.array > 0
        dice = 2 * np.count_nonzero(found & truth) / (np.count_nonzero(found) + np.count_nonzero(truth))
        assert dice > 0.5
    finally:
        run.cleanup()
    assert not run.folder.exists()


def test_cancel_stops_the_child_and_loads_nothing(sample, tmp_path):
    image, mask = sample
    run = BackgroundRun.start(image, step="segment", seed=tumor_centre(mask), device="cpu", python=sys.executable)
    try:
        assert run.poll() is None  # still importing the engine
        run.cancel()
        assert run.poll() is not None
        with pytest.raises(JobFailed, match="Cancelled"):
            run.result()
    finally:
        run.cleanup()


def test_a_crashing_engine_is_reported_with_its_log(sample, tmp_path):
    image, mask = sample
    run = BackgroundRun.start(image, step="segment", seed=tumor_centre(mask), device="cpu", python=sys.executable)
    try:
        run.wait(300)
        (run.folder / "mask.nrrd").unlink()  # as if the process had died before writing
        run.process.returncode = -9
        with pytest.raises(JobFailed, match="stopped abruptly") as failure:
            run.result()
        assert isinstance(failure.value.details, str)
    finally:
        run.cleanup()


def test_model_card_is_read_without_loading_the_model(tmp_path):
    card = slicer_job.model_card("default")
    assert card["intended_use"].startswith("Research use only")
    assert "days" in card["outcome"]["definition"]
    with pytest.raises(InputError, match="not a prediction model folder"):
        slicer_job.model_card(tmp_path)


def test_nothing_is_written_for_a_request_that_cannot_run(sample, monkeypatch, tmp_path):
    monkeypatch.setattr(slicer_job.tempfile, "mkdtemp", lambda **kwargs: pytest.fail("wrote a work folder"))
    with pytest.raises(InputError, match="segment it first"):
        BackgroundRun.start(sample[0], step="predict")


def test_segmentation_models_come_from_the_catalog_default_first():
    from ResponsePredictorLib.catalog_file import read_catalog

    catalog = read_catalog()
    ids = slicer_job.segmentation_model_ids()
    assert ids[0] == catalog.default_id and set(ids) == set(catalog.entries)
