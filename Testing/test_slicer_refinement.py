"""Refining the tumor at each point (refinement.py, point_lists.py) on slicer-core: tumor and not-tumor
points placed as the markups widget places them, sent to a real background session process, its masks
in the module's tumor segment, Undo, a crashed session, and when sessions end.

The session is ``segment_session.SegmentSession`` as the module starts it, through the stand-in for
Slicer's launcher; its engine is ``session_engine_standin.py``, which speaks the session's protocol with
the engine's own prompt checks and makes masks known exactly (balls around the points), without torch.
"""

from __future__ import annotations

import json
import time
import types

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core is not installed (pip install slicer-core)")
if not hasattr(slicer, "vtkMRMLScene"):
    pytest.skip("the installed 'slicer' package is not slicer-core", allow_module_level=True)

import vtk  # noqa: E402
from session_engine_standin import ball_mask  # noqa: E402
from slicer_python import FakeTimer  # noqa: E402
from slicer_run_helpers import RecordingLaunch, assert_all_ended  # noqa: E402
from test_slicer_session import STANDIN_ENGINE  # noqa: E402
from test_slicer_seed import place  # noqa: E402

from ResponsePredictorLib.slicer_module import display, nodes, panel, point_lists  # noqa: E402
from ResponsePredictorLib.slicer_module.refinement import Refinement  # noqa: E402
from ResponsePredictorLib.slicer_module.segment_session import SegmentSession  # noqa: E402
from ResponsePredictorLib.volume import Volume  # noqa: E402

# Points in LPS mm on the test scan below; the panel places them in RAS (x and y negated).
A, B, C = (-8.0, -6.0, 12.0), (-4.0, -6.0, 12.0), (-8.0, -2.0, 14.0)


def scan_volume(origin=(-20.0, -20.0, 0.0)) -> Volume:
    return Volume(np.zeros((24, 32, 32), np.int16), (1.0, 1.0, 1.0), origin, (1, 0, 0, 0, 1, 0, 0, 0, 1))


def ras(lps):
    return (-lps[0], -lps[1], lps[2])


class View:
    """The panel as the refinement talks to it: the status line and error dialogs, recorded."""

    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.errors: list[tuple[str, str]] = []

    def showStatus(self, text: str) -> None:
        self.statuses.append(text)

    def showError(self, text: str, details: str) -> None:
        self.errors.append((text, details))


@pytest.fixture
def panel_points(scene, latest_slicer_python, monkeypatch, tmp_path):
    """The module's parameter node with a scan and the two point lists (made as the selectors make
    them), followed by a Refinement as the panel follows it: on every change of the parameter node."""
    from ResponsePredictorLib.slicer_module.parameters import ResponsePredictorParameterNode

    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
    logic = type("ResponsePredictorLogic", (latest_slicer_python.scripted.ScriptedLoadableModuleLogic,), {})()
    parameters = ResponsePredictorParameterNode(logic.getParameterNode())
    parameters.inputVolume = nodes.volume_to_node(scan_volume(), scene, "CT")
    tumor = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Tumor click")
    point_lists.make_tumor_list(tumor)
    not_tumor = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Not tumor points")
    point_lists.make_not_tumor_list(not_tumor)
    parameters.seedPoint, parameters.notTumorPoints = tumor, not_tumor
    sessions, launches = [], []

    def start(image, model, device):
        launches.append(RecordingLaunch(with_input=True))
        sessions.append(SegmentSession.start(image, model=model, device=device, python=STANDIN_ENGINE,
                                             launch=launches[-1], work_root=tmp_path))
        return sessions[-1]

    view, timer, deferred = View(), FakeTimer(), []
    # qt.QTimer.singleShot(0, action): the action runs once the event being handled is done.
    refinement = Refinement(view, timer, lambda milliseconds, action: deferred.append(action),
                            lambda: refinement.follow(parameters), start=start)
    parameters.parameterNode.AddObserver(vtk.vtkCommand.ModifiedEvent, lambda caller, event: refinement.follow(parameters))
    refinement.follow(parameters)
    yield types.SimpleNamespace(parameters=parameters, tumor=tumor, not_tumor=not_tumor, refinement=refinement,
                                view=view, timer=timer, deferred=deferred, sessions=sessions, launches=launches,
                                scene=scene)
    refinement.end(wait=True)


def click(points, node, lps) -> None:
    """A point placed in ``node`` as the markups widget places it, then Qt's event loop going on."""
    place(node, ras(lps))
    run_deferred(points)


def run_deferred(points) -> None:
    while points.deferred:
        points.deferred.pop(0)()


def settle(points, timeout: float = 60) -> None:
    """Tick as the panel's timer does until the refinement has nothing left to wait for."""
    run_deferred(points)
    deadline = time.monotonic() + timeout
    while points.timer.isActive():
        assert time.monotonic() < deadline, points.sessions[-1].log() if points.sessions else "no session"
        points.refinement.tick()
        time.sleep(0.01)


def refine(points) -> None:
    points.parameters.refineInteractively = True
    settle(points)
    assert points.sessions and points.sessions[-1].ready is not None


def requests(session) -> list[dict]:
    """What the session was sent, as its engine echoed it into the log."""
    return [json.loads(line.partition(" ")[2]) for line in session.log().splitlines() if line.startswith("request ")]


def tumor_segment(points) -> np.ndarray:
    """The module's tumor segment on the scan's grid (all zero when there is none)."""
    parameters = points.parameters
    output = parameters.outputSegmentation
    segment = display.result_segment_id(output) if output is not None else None
    if segment is None:
        return np.zeros(scan_volume().shape, bool)
    return nodes.labelmap_from_segmentation(output, parameters.inputVolume, [segment]).volume.array > 0


def expected(tumor=(), not_tumor=()) -> np.ndarray:
    return ball_mask(scan_volume(), tumor, not_tumor) > 0


def test_a_placed_point_is_segmented_in_the_session_and_shown_as_the_tumor_segment(panel_points):
    refine(panel_points)
    assert "ready" in panel_points.view.statuses[-1] and "not-tumor points" in panel_points.view.statuses[-1]
    click(panel_points, panel_points.tumor, A)
    settle(panel_points)
    (sent,) = requests(panel_points.sessions[0])
    assert sent["tumor"] == [list(A)] and sent["not_tumor"] == [] and sent["box"] is None  # LPS
    assert np.array_equal(tumor_segment(panel_points), expected([A]))
    assert panel_points.view.statuses[-1].startswith("Tumor segmented (")
    click(panel_points, panel_points.not_tumor, B)
    settle(panel_points)
    assert np.array_equal(tumor_segment(panel_points), expected([A], [B]))
    assert len(panel_points.sessions) == 1 and not list(panel_points.sessions[0].folder.glob("mask-*"))


def test_points_placed_while_one_is_segmented_send_only_the_latest(panel_points):
    refine(panel_points)
    click(panel_points, panel_points.tumor, A)  # sent at once
    click(panel_points, panel_points.not_tumor, B)  # while A is segmented: waits
    click(panel_points, panel_points.tumor, C)  # replaces what waited
    settle(panel_points)
    first, latest = requests(panel_points.sessions[0])
    assert first["tumor"] == [list(A)] and first["not_tumor"] == []
    assert latest["tumor"] == [list(A), list(C)] and latest["not_tumor"] == [list(B)]
    assert np.array_equal(tumor_segment(panel_points), expected([A, C], [B]))


def test_undo_removes_the_last_point_and_shows_the_mask_before_it_without_asking_again(panel_points):
    earlier = scan_volume().with_array(expected([C]).astype(np.uint8))  # a tumor segmented before refining
    parameters = panel_points.parameters
    parameters.outputSegmentation = display.mask_to_segmentation(earlier, panel_points.scene,
                                                                  reference_volume_node=parameters.inputVolume)
    refine(panel_points)
    assert not panel_points.refinement.can_undo
    click(panel_points, panel_points.tumor, A)
    settle(panel_points)
    click(panel_points, panel_points.not_tumor, B)
    settle(panel_points)
    assert panel_points.refinement.can_undo and len(requests(panel_points.sessions[0])) == 2

    panel_points.refinement.undo()
    settle(panel_points)
    assert panel_points.not_tumor.GetNumberOfControlPoints() == 0 and panel_points.tumor.GetNumberOfControlPoints() == 1
    assert np.array_equal(tumor_segment(panel_points), expected([A]))
    panel_points.refinement.undo()
    settle(panel_points)
    assert panel_points.tumor.GetNumberOfControlPoints() == 0 and not panel_points.refinement.can_undo
    assert np.array_equal(tumor_segment(panel_points), expected([C]))  # the segment from before the first point
    assert len(requests(panel_points.sessions[0])) == 2  # nothing was segmented again


def test_a_refused_point_is_said_and_the_mask_stays(panel_points):
    refine(panel_points)
    click(panel_points, panel_points.tumor, A)
    settle(panel_points)
    click(panel_points, panel_points.not_tumor, A)  # the engine refuses a voxel that is tumor and not tumor
    settle(panel_points)
    assert panel_points.view.statuses[-1].startswith("Not segmented: ") and "same voxel" in panel_points.view.statuses[-1]
    assert np.array_equal(tumor_segment(panel_points), expected([A]))
    assert panel_points.sessions[0].poll() is None and not panel_points.view.errors  # the session goes on


def test_not_tumor_points_alone_are_not_sent(panel_points):
    refine(panel_points)
    click(panel_points, panel_points.not_tumor, B)
    settle(panel_points)
    assert requests(panel_points.sessions[0]) == [] and "Place a tumor point" in panel_points.view.statuses[-1]


def test_a_crashed_session_is_said_and_the_next_point_starts_another(panel_points):
    refine(panel_points)
    crashed = panel_points.sessions[0]
    processes = panel_points.launches[0].processes()
    processes[1].kill()  # the engine under the launcher, as the system kills a process out of memory
    crashed.wait(30)
    click(panel_points, panel_points.tumor, A)
    settle(panel_points)
    ((message, details),) = panel_points.view.errors
    assert "The interactive segmentation session stopped" in message and "crashed" in message
    assert "Place or move a point to start it again" in message and "RP-SESSION" in details  # its log
    assert len(panel_points.sessions) == 2 and not crashed.folder.exists()
    assert np.array_equal(tumor_segment(panel_points), expected([A]))  # segmented by the new session
    assert_all_ended(processes)


def test_sessions_end_with_a_new_scan_refinement_off_and_the_panel_letting_go(panel_points):
    refine(panel_points)
    parameters = panel_points.parameters
    parameters.inputVolume = nodes.volume_to_node(scan_volume(origin=(0.0, 0.0, 0.0)), panel_points.scene, "CT 2")
    settle(panel_points)
    first, second = panel_points.sessions
    assert first.closed and not first.folder.exists() and second.ready is not None
    parameters.refineInteractively = False
    settle(panel_points)
    assert second.closed and not second.folder.exists() and panel_points.refinement.session is None
    parameters.refineInteractively = True
    settle(panel_points)
    panel_points.refinement.follow(None)  # the module is left, or the scene closes
    settle(panel_points)
    assert len(panel_points.sessions) == 3 and all(not session.folder.exists() for session in panel_points.sessions)
    for launch in panel_points.launches:
        assert_all_ended(launch.processes())


def test_the_tumor_list_keeps_every_point_while_refining_and_only_the_newest_otherwise(panel_points):
    refine(panel_points)
    click(panel_points, panel_points.tumor, A)
    click(panel_points, panel_points.tumor, C)
    assert panel_points.tumor.GetNumberOfControlPoints() == 2
    panel_points.parameters.refineInteractively = False
    run_deferred(panel_points)
    # The click that decided the region stays for the one-click path, not the correction placed last.
    assert panel_points.tumor.GetNumberOfControlPoints() == 1
    assert np.allclose(panel_points.tumor.GetNthControlPointPositionWorld(0), ras(A))
    click(panel_points, panel_points.tumor, B)  # the one-click tumor location again: a new click moves it
    assert panel_points.tumor.GetNumberOfControlPoints() == 1


def test_clear_forgets_the_tumor_and_not_tumor_points(panel_points):
    refine(panel_points)
    click(panel_points, panel_points.tumor, A)
    click(panel_points, panel_points.not_tumor, B)
    settle(panel_points)
    refined = tumor_segment(panel_points)
    panel_points.refinement.clear()
    settle(panel_points)
    assert panel_points.tumor.GetNumberOfControlPoints() == 0 and panel_points.not_tumor.GetNumberOfControlPoints() == 0
    assert refined.any() and np.array_equal(tumor_segment(panel_points), refined)  # the refined tumor stays
    users = panel_points.scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "my landmarks")
    place(users, ras(B))
    panel_points.parameters.notTumorPoints = users
    panel_points.refinement.clear()
    assert panel_points.parameters.notTumorPoints is None and users.GetNumberOfControlPoints() == 1  # only unselected


def test_runs_take_the_refined_tumor_rather_than_segmenting_the_newest_point_again(panel_points):
    refine(panel_points)
    click(panel_points, panel_points.tumor, A)
    click(panel_points, panel_points.tumor, C)
    settle(panel_points)
    parameters = panel_points.parameters
    states = panel.button_states(parameters, running=False, can_undo=panel_points.refinement.can_undo)
    assert not states.segment and states.apply and states.predict and states.undo
    assert panel.tumor_source(panel.RunSettings.from_parameters(parameters), "all") is panel.TumorSource.OWN
    parameters.refineInteractively = False
    assert panel.tumor_source(panel.RunSettings.from_parameters(parameters), "all") is panel.TumorSource.CLICK
