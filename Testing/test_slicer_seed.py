"""The tumor click with slicer-core's markups: one seed point that a new click moves, and clearing it."""

from __future__ import annotations

import types

import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core is not installed (pip install slicer-core)")
if not hasattr(slicer, "vtkMRMLScene"):
    pytest.skip("the installed 'slicer' package is not slicer-core", allow_module_level=True)

from ResponsePredictorLib.errors import InputError  # noqa: E402
from ResponsePredictorLib.slicer_module import seed  # noqa: E402


def place(node, ras) -> None:
    """A click in place mode as the markups widget makes it: a preview point follows the mouse, the
    click defines it (vtkSlicerMarkupsWidget::PlacePoint sets the preview point's position as defined)."""
    index = node.AddControlPoint(0.0, 0.0, 0.0)
    node.SetNthControlPointPosition(index, 0.0, 0.0, 0.0, slicer.vtkMRMLMarkupsNode.PositionPreview)
    node.SetNthControlPointPosition(index, *ras, slicer.vtkMRMLMarkupsNode.PositionDefined)


def positions(node) -> list[tuple[float, ...]]:
    return [tuple(node.GetNthControlPointPosition(index)) for index in range(node.GetNumberOfControlPoints())]


@pytest.fixture
def clicks(scene):
    """The module's seed list (as the selector's "Create new" makes it) watched as the panel watches it."""
    node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Tumor click")
    seed.make_single_point(node)
    deferred, changes = [], []
    watcher = seed.SeedWatcher(deferred.append, lambda: changes.append(node.GetNumberOfControlPoints()))
    watcher.follow(node)
    yield types.SimpleNamespace(node=node, deferred=deferred, changes=changes, watcher=watcher)
    watcher.follow(None)


def test_a_second_click_moves_the_seed(clicks):
    node = clicks.node
    place(node, (10.0, 20.0, 30.0))
    place(node, (-5.0, 1.0, 2.0))
    # While the markups widget handles the click, the point list is left alone; the trim runs after.
    assert node.GetNumberOfControlPoints() == 2 and clicks.deferred
    for action in clicks.deferred:
        action()
    assert positions(node) == [(-5.0, 1.0, 2.0)]
    assert seed.seed_position(node) == (5.0, -1.0, 2.0)  # LPS
    assert clicks.changes  # the panel's buttons were told


def test_a_point_being_placed_is_not_removed(clicks):
    node = clicks.node
    place(node, (1.0, 2.0, 3.0))
    preview = node.AddControlPoint(4.0, 5.0, 6.0)
    node.SetNthControlPointPosition(preview, 4.0, 5.0, 6.0, slicer.vtkMRMLMarkupsNode.PositionPreview)
    assert seed.keep_newest_point(node) == 0 and node.GetNumberOfControlPoints() == 2
    assert seed.seed_position(node) == (-1.0, -2.0, 3.0)  # the placed point, not the preview


def test_a_users_own_point_list_keeps_its_points_and_its_newest_is_the_seed(scene):
    node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "my landmarks")
    watcher = seed.SeedWatcher(lambda action: action(), lambda: None)
    watcher.follow(node)
    for ras in ((1.0, 1.0, 1.0), (2.0, 2.0, 2.0), (3.0, 3.0, 3.0)):
        place(node, ras)
    assert node.GetNumberOfControlPoints() == 3
    assert seed.seed_position(node) == (-3.0, -3.0, 3.0)  # the newest click, not the first point
    watcher.follow(None)


def test_the_watcher_follows_whichever_list_is_the_seed(scene, clicks):
    other = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "another click")
    seed.make_single_point(other)
    clicks.watcher.follow(other)
    place(clicks.node, (1.0, 1.0, 1.0))
    place(clicks.node, (2.0, 2.0, 2.0))
    assert not clicks.deferred  # the old list is no longer watched
    place(other, (1.0, 1.0, 1.0))
    assert clicks.deferred


def test_clearing_deletes_the_modules_point_and_unselects_the_box(scene, clicks):
    place(clicks.node, (1.0, 2.0, 3.0))
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "box")
    parameters = types.SimpleNamespace(seedPoint=clicks.node, roi=roi)
    assert seed.has_click(parameters.seedPoint, None)
    seed.clear_tumor_location(parameters)
    assert clicks.node.GetNumberOfControlPoints() == 0 and parameters.seedPoint is clicks.node
    assert parameters.roi is None and roi.GetScene() is scene  # the box itself stays
    assert not seed.has_click(parameters.seedPoint, parameters.roi)
    with pytest.raises(InputError, match="no placed point"):
        seed.seed_position(clicks.node)

    users = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "my landmarks")
    place(users, (1.0, 1.0, 1.0))
    parameters.seedPoint = users
    seed.clear_tumor_location(parameters)
    assert parameters.seedPoint is None and users.GetNumberOfControlPoints() == 1  # unselected, not emptied
