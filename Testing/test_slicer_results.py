"""results.py on slicer-core: what a run starts from, where its results go, and the panel's run monitor.

The background run is ``panel_stand_ins.FakeRun`` (BackgroundRun's methods, its settings checked by the
real JobRequest); everything MRML is slicer-core's.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core is not installed (pip install slicer-core)")
if not hasattr(slicer, "vtkMRMLScene"):
    pytest.skip("the installed 'slicer' package is not slicer-core", allow_module_level=True)

from panel_stand_ins import FakeRun, case_outputs, fake_start  # noqa: E402

import vtk  # noqa: E402

from ResponsePredictorLib.errors import InputError  # noqa: E402
from ResponsePredictorLib.slicer_module import background, display, nodes, panel, results, seed  # noqa: E402
from ResponsePredictorLib.slicer_module.background import JobFailed  # noqa: E402


@pytest.fixture
def case(scene, sample, monkeypatch):
    """A scan in the scene, and BackgroundRun.start replaced by a recorder of fake runs."""
    image, mask = sample
    runs = []
    monkeypatch.setattr(background.BackgroundRun, "start", fake_start(runs, lambda settings: case_outputs(mask)))
    scan = nodes.volume_to_node(image, scene, "CT")
    return types.SimpleNamespace(scene=scene, scan=scan, mask=mask, runs=runs)


def tumor_click(scene, mask, scan):
    """The module's seed list with a first click somewhere and a second on the tumor's centre."""
    node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Tumor click")
    seed.make_single_point(node)
    k, j, i = (float(np.mean(axis)) for axis in np.nonzero(mask.array))
    lps = np.array(mask.origin) + (np.reshape(mask.direction, (3, 3)) * np.array(mask.spacing)) @ [i, j, k]
    node.AddControlPoint(0.0, 0.0, 0.0)
    node.AddControlPoint(-lps[0], -lps[1], lps[2])
    return node, tuple(lps)


def test_the_newest_click_is_the_seed_sent_to_the_engine(case):
    click, lps = tumor_click(case.scene, case.mask, case.scan)
    job = results.start_case(panel.RunSettings(inputVolume=case.scan, seedPoint=click, predictionModel="nsclc_os_ct"),
                             "all", launch="LAUNCH", work_root="/tmp/slicer")
    sent = case.runs[-1].settings
    np.testing.assert_allclose(sent["seed"], lps)
    assert sent["mask"] is None and sent["roi"] is None and job.segments
    assert sent["model"] == "nsclc_os_ct" and sent["launch"] == "LAUNCH" and sent["work_root"] == "/tmp/slicer"


def test_the_deep_features_box_is_sent_with_the_network_the_panel_segments_with(case):
    click, _ = tumor_click(case.scene, case.mask, case.scan)
    network = background.segmentation_model_ids()[-1]
    settings = panel.RunSettings(inputVolume=case.scan, seedPoint=click, segmentationModel=network, deepFeatures=True)
    results.start_case(settings, "all")
    sent = case.runs[-1].settings
    assert sent["deep_features"] and sent["segmentation_model"] == network  # engine_arguments pairs them
    results.start_case(panel.RunSettings(inputVolume=case.scan, seedPoint=click), "all")
    assert not case.runs[-1].settings["deep_features"]  # unchecked: only a model that records them has them


def test_the_tumor_is_the_chosen_segment_or_the_modules_own_never_any_other(case):
    users = case.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "mine")
    users.SetReferenceImageGeometryParameterFromVolumeNode(case.scan)
    for name in ("liver", "tumor", "vessel"):
        users.GetSegmentation().AddEmptySegment(name, name)
    settings = panel.RunSettings(inputVolume=case.scan, inputSegmentation=users)
    with pytest.raises(InputError, match="has 3 segments: choose"):
        results.tumor_segment(settings, "predict")
    settings.segmentId = "tumor"
    assert results.tumor_segment(settings, "predict") == (users, "tumor")

    output = display.mask_to_segmentation(case.mask, case.scene, node=case.scene.AddNewNodeByClass(
        "vtkMRMLSegmentationNode", "output"))
    output.GetSegmentation().AddEmptySegment("first", "first", [0.0, 0.0, 1.0])
    output.GetSegmentation().SetSegmentIndex("first", 0)  # a user's segment ahead of the module's
    settings = panel.RunSettings(inputVolume=case.scan, outputSegmentation=output)
    assert results.tumor_segment(settings, "explain") == (output, display.result_segment_id(output))
    empty = case.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "no result")
    with pytest.raises(InputError, match="no tumor segmented by ResponsePredictor"):
        results.tumor_segment(panel.RunSettings(inputVolume=case.scan, outputSegmentation=empty), "predict")


def users_segmentation(case) -> slicer.vtkMRMLSegmentationNode:
    """A segmentation of the user's: a tumor segment of their own, and an empty one."""
    users = display.mask_to_segmentation(case.mask, case.scene, name="mine")  # some voxels of the user's
    users.GetSegmentation().GetNthSegment(0).RemoveTag(display.RESULT_TAG)
    users.GetSegmentation().GetNthSegment(0).SetName("my tumor")
    users.GetSegmentation().AddEmptySegment("notes", "notes")
    return users


def test_results_into_the_users_segmentation_leave_its_other_segments(case):
    users = users_segmentation(case)
    click, _ = tumor_click(case.scene, case.mask, case.scan)
    settings = panel.RunSettings(inputVolume=case.scan, seedPoint=click, outputSegmentation=users)
    for _ in range(2):
        job = results.start_case(settings, "all")
        job.run.finish()
        outputs, shown = results.finish_case(job)
    segmentation = users.GetSegmentation()
    names = sorted(segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments()))
    assert names == ["Tumor", "my tumor", "notes"] and shown.segmentation is users

    # The predict step on the user's segment leaves every segmentation as it is.
    before = segmentation.GetNumberOfSegments()
    job = results.start_case(panel.RunSettings(inputVolume=case.scan, inputSegmentation=users,
                                               segmentId=segmentation.GetNthSegmentID(0)), "predict")
    assert case.runs[-1].settings["mask"] is not None and not job.segments
    job.run.finish()
    outputs, shown = results.finish_case(job)
    assert shown.segmentation is None and segmentation.GetNumberOfSegments() == before
    assert shown.table is not None and shown.heatmap is not None


def test_a_chosen_input_segmentation_is_used_as_it_is_and_a_stale_click_is_ignored(case):
    users = users_segmentation(case)
    click, _ = tumor_click(case.scene, case.mask, case.scan)
    settings = panel.RunSettings(inputVolume=case.scan, seedPoint=click, inputSegmentation=users,
                                 segmentId=users.GetSegmentation().GetNthSegmentID(0))
    assert panel.button_states(settings, running=False).apply
    job = results.start_case(settings, "all")
    sent = case.runs[-1].settings
    assert sent["mask"] is not None and sent["seed"] is None and not job.segments  # nothing is segmented
    job = results.start_case(settings, "segment")  # the segment step alone segments at the click
    assert case.runs[-1].settings["seed"] is not None and job.segments


def test_outputs_the_results_cannot_go_into_are_refused_before_the_run_starts(case):
    click, _ = tumor_click(case.scene, case.mask, case.scan)
    users_table = case.scene.AddNewNodeByClass("vtkMRMLTableNode", "my table")
    with pytest.raises(InputError, match="'my table' was not made by ResponsePredictor"):
        results.start_case(panel.RunSettings(inputVolume=case.scan, seedPoint=click, outputTable=users_table), "all")
    surfaces = case.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "surfaces")
    surfaces.GetSegmentation().SetSourceRepresentationName(
        slicer.vtkSegmentationConverter.GetSegmentationClosedSurfaceRepresentationName())
    surfaces.GetSegmentation().AddEmptySegment("organ")
    with pytest.raises(InputError, match="'surfaces' is edited as Closed surface"):
        results.start_case(panel.RunSettings(inputVolume=case.scan, seedPoint=click, outputSegmentation=surfaces),
                           "segment")
    assert case.runs == []  # no run started, to fail only at its end


@pytest.mark.parametrize("moved", ["scan", "input segmentation", "output segmentation"])
def test_nodes_under_a_transform_are_refused_until_it_is_hardened(case, moved):
    # Clicks and boxes are world positions; the module reads the nodes' own geometry.
    click, _ = tumor_click(case.scene, case.mask, case.scan)
    segmentation = display.mask_to_segmentation(case.mask, case.scene, reference_volume_node=case.scan)
    settings = panel.RunSettings(inputVolume=case.scan, seedPoint=click)
    if moved == "input segmentation":
        settings.inputSegmentation = segmentation
    elif moved == "output segmentation":
        settings.outputSegmentation = segmentation
    node = {"scan": case.scan}.get(moved, segmentation)
    transform = case.scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "moved")
    node.SetAndObserveTransformNodeID(transform.GetID())
    results.start_case(settings, "all")  # the identity: nothing moves
    matrix = vtk.vtkMatrix4x4()
    matrix.SetElement(0, 3, 10.0)
    transform.SetMatrixTransformToParent(matrix)
    with pytest.raises(InputError, match="under the transform 'moved'. Harden the transform first"):
        results.start_case(settings, "all")
    assert len(case.runs) == 1


def test_nothing_is_loaded_when_the_scan_went_away_and_deleted_outputs_are_made_anew(case):
    click, _ = tumor_click(case.scene, case.mask, case.scan)
    table = display.case_to_table({"x": 1.0}, {}, case.scene)
    settings = panel.RunSettings(inputVolume=case.scan, seedPoint=click, outputTable=table)
    job = results.start_case(settings, "all")
    case.scene.RemoveNode(table)  # the user deleted the output table during the run
    job.run.finish()
    _, shown = results.finish_case(job)
    assert shown.table is not None and shown.table is not table and shown.table.GetScene() is case.scene

    job = results.start_case(settings, "all")
    case.scene.RemoveNode(case.scan)
    assert_finishing_refused_adds_nothing(job, case.scene, "scan was removed")


def assert_finishing_refused_adds_nothing(job: results.CaseJob, scene, message: str) -> None:
    """The run ends; loading its results is refused with ``message`` and puts no node into the scene."""
    job.run.finish()
    count = scene.GetNumberOfNodes()
    with pytest.raises(InputError, match=message):
        results.finish_case(job)
    assert scene.GetNumberOfNodes() == count


class View:
    """The widget as the run monitor sees it."""

    def __init__(self) -> None:
        self.progress, self.status, self.errors, self.results = [], [], [], []

    def showProgress(self, percent, text):
        self.progress.append((percent, text))

    def showStatus(self, text):
        self.status.append(text)

    def showError(self, text, details):
        self.errors.append((text, details))

    def showResults(self, outputs, settings):
        self.results.append(outputs)


def job_with(run, scan, **settings) -> results.CaseJob:
    return results.CaseJob(run, "all", panel.RunSettings(inputVolume=scan, **settings), segments=True)


def test_the_run_monitor_loads_results_into_the_parameter_node_it_is_given_at_the_end(case):
    view, parameters = View(), types.SimpleNamespace(outputSegmentation=None, outputTable=None, outputHeatmap=None)
    monitor = results.RunMonitor(view, results.finish_case, lambda: parameters)
    run = FakeRun(case_outputs(case.mask))
    monitor.start(job_with(run, case.scan))
    assert monitor.running and view.progress[-1] == (None, "Starting...")
    assert monitor.tick() and view.progress[-1] == (25, "Segment: Segmenting the tumor (25%)")
    run.finish()
    assert not monitor.tick() and not monitor.running
    assert parameters.outputSegmentation is not None and parameters.outputTable is not None
    assert view.status[-1] == "Done." and view.results and not view.errors and run.cleaned
    assert not monitor.tick()  # a tick after the end does nothing


@pytest.mark.parametrize("kind", ["crashed", "bad input", "failed", "cancelled"])
def test_the_run_monitor_tells_failures_apart(case, kind):
    view = View()
    monitor = results.RunMonitor(view, results.finish_case, lambda: pytest.fail("nothing to record"))
    run = FakeRun(failure=JobFailed("the engine said no", "the log", kind))
    monitor.start(job_with(run, case.scan))
    if kind == "cancelled":
        monitor.cancel()
        assert view.status[-1] == "Cancelling..."
    else:
        run.finish(1)
    monitor.tick()
    assert run.cleaned
    if kind == "cancelled":
        assert not view.errors and view.status[-1].startswith("Cancelled")
    else:
        assert len(view.errors) == 1 and view.errors[0][1] == "the log"
    if kind == "crashed":
        assert "ran out of memory" in view.errors[0][0]


def test_the_run_monitor_never_raises(case):
    view = View()
    monitor = results.RunMonitor(view, lambda job: 1 / 0, lambda: None)
    run = FakeRun(case_outputs(case.mask))
    monitor.start(job_with(run, case.scan))
    run.finish()
    assert not monitor.tick()  # the error goes to a dialog, not out of the timer
    assert "Could not show the results" in view.errors[0][0] and view.errors[0][1] == "the run's log"


def monitoring_a_run(case) -> tuple[View, results.RunMonitor, FakeRun]:
    """A run going, watched by a monitor that must record nothing."""
    view = View()
    monitor = results.RunMonitor(view, results.finish_case, lambda: pytest.fail("nothing to record"))
    run = FakeRun(case_outputs(case.mask))
    monitor.start(job_with(run, case.scan))
    return view, monitor, run


@pytest.mark.parametrize("ended", [False, True], ids=["running", "ended but not loaded yet"])
def test_a_closing_scene_stops_the_run_without_waiting_and_loads_nothing(case, ended):
    view, monitor, run = monitoring_a_run(case)
    if ended:
        run.finish()
    monitor.discard("Cancelled: the scene was closed.")
    assert run.cancelled != ended and not run.cleaned  # its processes end while Slicer goes on
    assert monitor.running and view.status[-1] == "Cancelled: the scene was closed."
    assert not monitor.tick()  # the tick after its end cleans up
    assert run.cleaned and not view.results and not view.errors
    assert view.status[-1] == "Cancelled: the scene was closed."


def test_slicer_quitting_ends_the_run_at_once(case):
    view, monitor, run = monitoring_a_run(case)
    monitor.discard("Cancelled: Slicer is closing.", wait=True)  # no tick comes after
    assert run.cancelled and run.cleaned and not monitor.running
    assert not monitor.tick() and not view.results


# --- other scans (multimodal cases) ----------------------------------------------------------------


def on_half_grid(volume, array):
    """``array`` on ``volume``'s grid at every other voxel: a coarser scan of the same patient (as a PET
    is), its first voxel where the volume's is."""
    from ResponsePredictorLib.volume import Volume

    return Volume(array[::2, ::2, ::2], tuple(2 * s for s in volume.spacing), volume.origin, volume.direction)


@pytest.fixture
def multimodal(case, monkeypatch):
    """The case with a PET on a coarser grid and a T2 on the scan's grid; the fake engine carries the
    tumor onto a scan given none, and makes a heatmap over every scan, as the engine does."""
    from panel_stand_ins import engine_outputs

    image = nodes.volume_from_node(case.scan)
    pet_image = on_half_grid(image, image.array * 3.0 + 100)
    carried = {pet_image.shape: on_half_grid(case.mask, case.mask.array), image.shape: case.mask}
    monkeypatch.setattr(background.BackgroundRun, "start",
                        fake_start(case.runs, engine_outputs(case.mask, lambda scan: carried[scan.shape])))
    pet = nodes.volume_to_node(pet_image, case.scene, "PET AC")
    t2 = nodes.volume_to_node(image.with_array(image.array + 7), case.scene, "T2 axial")
    own = display.mask_to_segmentation(case.mask, case.scene, name="tumor on T2", reference_volume_node=t2)
    own.GetSegmentation().AddEmptySegment("edema", "edema")  # the user's: the module's segment is the tumor
    click, _ = tumor_click(case.scene, case.mask, case.scan)
    return types.SimpleNamespace(**vars(case), pet=pet, pet_image=pet_image, pet_mask=carried[pet_image.shape],
                                 t2=t2, own=own, click=click)


def test_other_scans_are_sent_with_their_own_tumor_on_their_grid_and_the_peritumoral_shells(multimodal):
    case = multimodal
    settings = panel.RunSettings(inputVolume=case.scan, seedPoint=case.click, peritumoral="10, 5",
                                 peritumoralBody=True, scans={"PET": case.pet, "MR_T2": (case.t2, case.own)})
    results.start_case(settings, "all")
    sent = case.runs[-1].settings
    assert sorted(sent["scans"]) == ["MR_T2", "PET"]
    pet, t2 = sent["scans"]["PET"], sent["scans"]["MR_T2"]
    assert pet.mask is None and pet.image.same_grid(case.pet_image)  # the PET carries the scan's tumor
    np.testing.assert_array_equal(pet.image.array, case.pet_image.array)
    np.testing.assert_array_equal(t2.mask.array > 0, case.mask.array > 0)  # the module's segment, not "edema"
    assert sent["peritumoral"] == (5.0, 10.0) and sent["peritumoral_body"]

    results.start_case(settings, "segment")  # the segment step segments the scan alone
    assert case.runs[-1].settings["scans"] == {}


def test_other_scans_that_cannot_be_sent_are_refused_before_the_run_starts(multimodal):
    case = multimodal
    start = lambda scans: results.start_case(  # noqa: E731
        panel.RunSettings(inputVolume=case.scan, seedPoint=case.click, scans=scans), "all")
    with pytest.raises(InputError, match="Scan 'PET' is the same image as the primary scan"):
        start({"PET": case.scan})
    with pytest.raises(InputError, match="named 'PET' and 'pet'"):
        start([panel.ScanSettings("PET", case.pet), panel.ScanSettings("pet", case.t2)])
    with pytest.raises(InputError, match="'PET/CT'.*use a letter"):
        start({"PET/CT": case.pet})
    case.own.GetSegmentation().GetNthSegment(0).RemoveTag(display.RESULT_TAG)  # two segments of the user's
    with pytest.raises(InputError, match="2 segments: keep only the tumor in it, or choose none"):
        start({"MR_T2": (case.t2, case.own)})
    users_heatmap = nodes.volume_to_node(case.pet_image, case.scene, "my PET copy")
    with pytest.raises(InputError, match="'my PET copy' was not made by ResponsePredictor"):
        start([panel.ScanSettings("PET", case.pet, outputHeatmap=users_heatmap)])
    assert case.runs == []


def test_each_scans_carried_tumor_and_heatmap_are_shown_over_it_and_refilled_next_time(multimodal):
    case = multimodal
    views = [case.scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode") for _ in range(3)]
    rows = [types.SimpleNamespace(name="PET", volume=case.pet, segmentation=None, outputSegmentation=None,
                                  outputHeatmap=None),
            types.SimpleNamespace(name="MR_T2", volume=case.t2, segmentation=case.own, outputSegmentation=None,
                                  outputHeatmap=None),
            types.SimpleNamespace(name="", volume=None, segmentation=None, outputSegmentation=None,
                                  outputHeatmap=None)]
    parameters = types.SimpleNamespace(outputSegmentation=None, outputTable=None, outputHeatmap=None,
                                       **dict(zip(panel.SCAN_ROWS, rows)))
    settings = panel.RunSettings(inputVolume=case.scan, seedPoint=case.click, scans=panel.scans_from_rows(rows))
    job = results.start_case(settings, "all")
    job.run.finish()
    outputs, shown = results.finish_case(job)
    results.record(parameters, shown)

    pet = shown.scans["PET"]
    segment = display.result_segment_id(pet.segmentation)
    on_pet = nodes.labelmap_from_segmentation(pet.segmentation, case.pet, [segment]).volume
    np.testing.assert_array_equal(on_pet.array > 0, case.pet_mask.array > 0)  # the carried tumor, over the PET
    assert pet.segmentation.GetName() == "PET AC tumor"
    assert pet.segmentation.GetSegmentation().GetSegment(segment).GetName() == "Tumor (carried)"
    assert nodes.volume_from_node(pet.heatmap).same_grid(case.pet_image) and pet.heatmap.GetName() == "PET AC heatmap"
    assert pet.heatmap.GetAttribute(display.OUTPUT_ATTRIBUTE) == "heatmap"
    t2 = shown.scans["MR_T2"]
    assert t2.segmentation is None and t2.heatmap is not None  # the user's own tumor stays theirs, as it is
    assert case.own.GetSegmentation().GetNumberOfSegments() == 2
    # The slice views show the scan and its heatmap, as with one scan.
    assert {(view.GetBackgroundVolumeID(), view.GetForegroundVolumeID()) for view in views} == {
        (case.scan.GetID(), shown.heatmap.GetID())}
    assert (rows[0].outputSegmentation, rows[0].outputHeatmap) == (pet.segmentation, pet.heatmap)
    assert (rows[1].outputSegmentation, rows[1].outputHeatmap) == (None, t2.heatmap)

    count = case.scene.GetNumberOfNodes()  # run again into the nodes recorded: refilled, none added
    job = results.start_case(panel.RunSettings(inputVolume=case.scan, seedPoint=case.click, outputTable=shown.table,
                                               outputSegmentation=shown.segmentation, outputHeatmap=shown.heatmap,
                                               scans=panel.scans_from_rows(rows)), "all")
    job.run.finish()
    _, again = results.finish_case(job)
    assert again.scans["PET"].segmentation is pet.segmentation and again.scans["PET"].heatmap is pet.heatmap
    assert case.scene.GetNumberOfNodes() == count


def test_nothing_is_loaded_when_another_scan_went_away_during_the_run(multimodal):
    case = multimodal
    job = results.start_case(panel.RunSettings(inputVolume=case.scan, seedPoint=case.click,
                                               scans={"PET": case.pet}), "all")
    case.scene.RemoveNode(case.pet)
    assert_finishing_refused_adds_nothing(job, case.scene, "scan.s. PET were removed")
