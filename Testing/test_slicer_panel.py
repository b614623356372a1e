"""The panel's decisions without Qt: what it shows for a run's progress and failures, which steps can
start, the settings a run takes, and which Slicer the module accepts."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import pytest

from conftest import REPO_ROOT

pytest.importorskip("slicer", reason="slicer-core is not installed (pip install slicer-core)")

from ResponsePredictorLib.engine_status import Progress  # noqa: E402
from ResponsePredictorLib.errors import InputError  # noqa: E402
from ResponsePredictorLib.slicer_module import compatibility, panel  # noqa: E402
from ResponsePredictorLib.slicer_module.background import JobFailed  # noqa: E402

COMPATIBILITY_FILE = REPO_ROOT / "ResponsePredictor" / "ResponsePredictorLib" / "slicer_module" / "compatibility.py"


def test_progress_shows_the_stage_its_message_and_a_percentage():
    assert panel.progress_view(Progress("segment", 0.256, "Segmenting the tumor")) == (
        26, "Segment: Segmenting the tumor (26%)")
    assert panel.progress_view(Progress("features", None, "Computing features")) == (None, "Features: Computing features")
    assert panel.progress_view(None) == (None, "Starting...")
    assert panel.progress_view(Progress("report", 1.7, ""))[0] == 100


# The messages as the background run words them (engine_run.EngineRun.check).
@pytest.mark.parametrize("kind, message, status, dialog", [
    ("crashed", "The analysis process stopped without finishing.", "crashed", "crashed or ran out of memory"),
    ("bad input", "the mask is empty", "cannot be analysed", "The input cannot be analysed: the mask is empty"),
    ("failed", "The analysis failed: exit code 1.", "failed", "The analysis failed: exit code 1."),
    ("timed out", "The analysis took longer than the time allowed and was stopped.", "too long",
     "The analysis took longer than the time allowed and was stopped."),
    ("cancelled", "Cancelled.", "Cancelled", None),
])
def test_failures_are_told_apart(kind, message, status, dialog):
    shown = panel.failure_view(JobFailed(message, "the log", kind))
    assert status in shown.status and shown.details == "the log"
    if dialog is None:
        assert shown.dialog is None  # the user cancelled: no error dialog
    else:
        assert shown.dialog == dialog or dialog in shown.dialog
        assert shown.dialog.count("The analysis failed") <= 1  # said once, not twice
    assert "crashed" not in (panel.failure_view(JobFailed("x", "", "failed")).dialog or "")


def test_steps_can_start_only_with_what_they_need_and_never_during_a_run(scene):
    seed = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode")
    parameters = types.SimpleNamespace(inputVolume=scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode"), seedPoint=seed,
                                       roi=None, inputSegmentation=None, outputSegmentation=None,
                                       refineInteractively=False)
    states = panel.button_states(parameters, running=False)
    assert not states.apply and not states.segment  # a point list without a placed point is no click
    seed.AddControlPoint(1.0, 2.0, 3.0)
    states = panel.button_states(parameters, running=False)
    assert states.apply and states.segment and not states.predict and not states.cancel
    parameters.outputSegmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    assert panel.button_states(parameters, running=False).predict
    seed.RemoveAllControlPoints()  # every step but segment can run on the segment this module made
    states = panel.button_states(parameters, running=False)
    assert states.apply and states.predict and states.explain and not states.segment
    seed.AddControlPoint(1.0, 2.0, 3.0)
    running = panel.button_states(parameters, running=True)
    assert running.cancel and not (running.apply or running.segment or running.predict or running.explain)


def test_console_settings_take_str_or_path_and_refuse_unknown_names():
    assert panel.RunSettings.for_console(predictionModel=Path("/data/m")).predictionModel == "/data/m"
    assert panel.RunSettings.for_console(predictionModel="/data/m").predictionModel == "/data/m"
    with pytest.raises(InputError, match="Unknown setting.*predictionModle"):
        panel.RunSettings.for_console(predictionModle="/data/m")
    with pytest.raises(InputError, match="heatmap method"):
        panel.RunSettings.for_console(heatmapMethod="grad-cam")
    with pytest.raises(InputError, match="opacity"):
        panel.RunSettings.for_console(heatmapOpacity=2.0)


@pytest.mark.parametrize("typed, distances", [
    ("", ()), ("5", (5.0,)), ("10, 5", (5.0, 10.0)), ("2.5 10", (2.5, 10.0)), (" 5,,10 ", (5.0, 10.0)),
    (7, (7.0,)), ((10, 5.0), (5.0, 10.0))])
def test_peritumoral_distances_are_read_as_typed_or_given(typed, distances):
    assert panel.RunSettings(peritumoral=typed).peritumoral == distances


@pytest.mark.parametrize("typed", ["5,x", "0", "-5", "5,5", "nan"])
def test_peritumoral_distances_no_run_can_take_are_refused_when_the_run_starts(typed):
    with pytest.raises(InputError, match="Peritumoral distances"):
        panel.RunSettings(peritumoral=typed)


def test_console_scans_are_names_with_a_volume_and_optionally_its_own_tumor(scene):
    pet, ct = (scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name) for name in ("PET", "CT"))
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    settings = panel.RunSettings.for_console(scans={"PET": pet, "CT_2": (ct, segmentation)})
    assert settings.scans == (panel.ScanSettings("PET", pet), panel.ScanSettings("CT_2", ct, segmentation))
    with pytest.raises(InputError, match="named 'PET' and 'pet'"):
        panel.RunSettings.for_console(scans={"PET": pet, "pet": ct})


def test_the_results_say_what_became_of_each_other_scan(sample):
    from panel_stand_ins import case_outputs, tumor_heatmap

    from ResponsePredictorLib.slicer_module.other_scans import ScanOutputs

    mask = sample[1]
    assert panel.scans_view(case_outputs(mask)) == ""  # one scan: nothing more to say
    outputs = case_outputs(mask, scans={"PET": ScanOutputs(mask, tumor_heatmap(mask), carried=True),
                                        "MR_T1": ScanOutputs(mask, None, carried=False)}, missing=("T2",))
    assert panel.results_view(outputs, {}).scans == (
        "PET: the tumor carried from the primary scan, heatmap\nMR_T1: its own tumor segmentation\n"
        "T2: missing, nothing of it is in the results")


def test_the_results_say_when_the_features_include_deep_ones_and_how_the_heatmap_reads(sample):
    from dataclasses import replace

    from panel_stand_ins import case_outputs, tumor_heatmap

    mask = sample[1]
    outputs = case_outputs(mask)  # radiomic features and a contribution map
    assert panel.results_view(outputs, {}).analysis == f"Heatmap (test): {outputs.heatmap.description}"
    assert panel.analysis_view(case_outputs(mask, heatmap=False)) == ""
    # A model of deep features: its map leaves blocks of the tumor out of the deep features' averages.
    occlusion = replace(tumor_heatmap(mask), method="deep occlusion", description=(
        "Each block of the tumor left out of the deep features' averages (the network still sees the whole scan): "
        "the change in the model's risk score."))
    deep = replace(outputs, features={**outputs.features, **{f"deep_{i}": 0.1 for i in range(360)}}, heatmap=occlusion)
    assert panel.results_view(deep, {}).analysis == (
        "The features include 360 deep features (the segmentation network's view of the tumor).\n"
        "Heatmap (deep occlusion): Each block of the tumor left out of the deep features' averages (the network "
        "still sees the whole scan): the change in the model's risk score.")


def test_waiting_from_the_console_keeps_slicer_responsive_and_logs_progress():
    steps = iter([Progress("cohort", 0.1, "1 of 10 cases"), Progress("cohort", 0.1, "1 of 10 cases"),
                  Progress("cohort", 0.5, "5 of 10 cases")])
    run = types.SimpleNamespace(progress=lambda: next(steps))
    logged, events = [], []
    idle = panel.progress_logger(run, logged.append, lambda: events.append(1))
    for _ in range(3):
        idle()
    assert events == [1, 1, 1]
    assert logged == ["ResponsePredictor: Cohort: 1 of 10 cases (10%)", "ResponsePredictor: Cohort: 5 of 10 cases (50%)"]


@pytest.mark.parametrize("python, slicer_version, supported", [
    ((3, 12), (5, 10), True), ((3, 12), (5, 12), True), ((3, 13), None, True), ((3, 11), None, True),
    ((3, 9), (5, 8), False), ((3, 12), (5, 8), False), ((3, 9), None, False), ((3, 10), None, False),
])
def test_the_module_accepts_slicer_5_10_and_later(python, slicer_version, supported):
    reason = compatibility.unsupported_reason(python, slicer_version)
    assert (reason is None) == supported
    if not supported:
        assert "5.10 or later" in reason and "download.slicer.org" in reason


def test_the_version_check_runs_on_any_python_3():
    # Slicer 5.8 and older have Python 3.9: the module file and this file must parse there.
    ast.parse(COMPATIBILITY_FILE.read_text(), feature_version=(3, 6))
    app = types.SimpleNamespace(majorVersion=5, minorVersion=8)
    assert compatibility.slicer_version(app) == (5, 8)
    assert compatibility.slicer_version(None) is None
    assert compatibility.MINIMUM_SLICER == (5, 10)
