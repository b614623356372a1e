"""The tumor click: one seed point that a new click moves, and clearing where the tumor is.

Slicer's markups cannot do "one point, moved by the next click" by themselves: a point list limited
with ``SetMaximumNumberOfControlPoints(1)`` refuses the second point, and the markups displayable
manager then starts a new point list for the click (vtkMRMLMarkupsDisplayableManager, 5.10 and 5.12),
which the panel would not be using. So the module's seed list is an ordinary point list marked with
``SINGLE_POINT``: when a new point is placed in it (``PointPositionDefinedEvent``), the older points are
removed, after the placing widget is done with the event.

Only lists the module made are trimmed (the panel marks the list its selector creates): a list the
user made and chose keeps all its points, and the newest placed point is the seed.
"""

from __future__ import annotations

from collections.abc import Callable

import slicer

from ..errors import InputError
from .nodes import point_from_markups

SINGLE_POINT = "ResponsePredictor.singlePoint"  # node attribute: the module's one-point seed list


def make_single_point(node: slicer.vtkMRMLMarkupsFiducialNode) -> None:
    """Mark ``node`` as the module's seed list (one point, moved by the next click)."""
    if node is None or not node.IsA("vtkMRMLMarkupsFiducialNode"):
        return
    node.SetAttribute(SINGLE_POINT, "true")
    keep_newest_point(node)


def is_single_point(node) -> bool:
    return node is not None and node.GetAttribute(SINGLE_POINT) == "true"


def placed_indices(node: slicer.vtkMRMLMarkupsNode) -> list[int]:
    """Indices of the list's placed points (a defined position, not one still being placed), in list order."""
    return [index for index in range(node.GetNumberOfControlPoints())
            if node.GetNthControlPointPositionStatus(index) == slicer.vtkMRMLMarkupsNode.PositionDefined]


def newest_point(node: slicer.vtkMRMLMarkupsNode) -> int | None:
    """Index of the most recently placed point with a defined position (new points are appended)."""
    placed = placed_indices(node)
    return placed[-1] if placed else None


def keep_newest_point(node: slicer.vtkMRMLMarkupsNode) -> int:
    """In the module's seed list, remove every point but the newest placed one; returns how many went.

    A point still being placed (preview) stays: the user is moving the seed.
    """
    return _keep_one(node, newest=True)


def keep_first_point(node: slicer.vtkMRMLMarkupsNode) -> int:
    """In the module's seed list, remove every placed point but the first: when refinement ends, the
    one-click path keeps the click that decided the region refinement segmented, not a correction."""
    return _keep_one(node, newest=False)


def _keep_one(node, newest: bool) -> int:
    if node is None or not is_single_point(node):
        return 0
    placed = placed_indices(node)
    gone = placed[:-1] if newest else placed[1:]
    for index in reversed(gone):
        node.RemoveNthControlPoint(index)
    return len(gone)


def watch(node: slicer.vtkMRMLMarkupsNode, defer: Callable[[Callable[[], None]], None],
          changed: Callable[[], None] = lambda: None, trim: Callable[[], bool] = lambda: True) -> list[int]:
    """Trim ``node`` each time a point is placed in it (while ``trim()`` says so), and call ``changed``
    when its points change.

    Returns the observer tags (remove them with ``node.RemoveObserver``). ``defer`` runs the trimming
    later (in Slicer ``lambda f: qt.QTimer.singleShot(0, f)``): the markups widget that placed the
    point still uses its index while the event is being handled.
    """
    def placed(caller, event):
        if trim():
            defer(lambda: keep_newest_point(caller))
        changed()

    return [node.AddObserver(slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent, placed),
            node.AddObserver(slicer.vtkMRMLMarkupsNode.PointRemovedEvent, lambda caller, event: changed())]


def has_click(seed_node, roi_node) -> bool:
    """Whether the user showed where the tumor is: a placed seed point, or a placed box."""
    return ((seed_node is not None and newest_point(seed_node) is not None)
            or (roi_node is not None and roi_node.GetNumberOfControlPoints() > 0))


def seed_position(node: slicer.vtkMRMLMarkupsNode) -> tuple[float, float, float]:
    """The seed in LPS millimetres: the newest placed point of the list."""
    index = newest_point(node) if node is not None else None
    if index is None:
        name = node.GetName() if node is not None else "the tumor click"
        raise InputError(f"'{name}' has no placed point. Click the tumor in a slice view to place one.")
    return point_from_markups(node, index)


def clear_tumor_location(parameters) -> None:
    """Forget where the tumor is: the module's seed point is deleted, a user's list and the box are
    only unselected (their nodes stay as they are)."""
    node = parameters.seedPoint
    if is_single_point(node):
        node.RemoveAllControlPoints()
    else:
        parameters.seedPoint = None
    parameters.roi = None


class SeedWatcher:
    """Watches whichever list is the tumor click (``watch``): the panel keeps one and switches it.

    ``keep_one``: the module's list is trimmed to its newest point. Interactive refinement turns it
    off, as there the list holds every tumor point (``point_lists``); turned on again, the next
    placed point trims the list.
    """

    def __init__(self, defer: Callable[[Callable[[], None]], None], changed: Callable[[], None]) -> None:
        self._defer, self._changed = defer, changed
        self.node, self._tags = None, []
        self.keep_one = True

    def follow(self, node) -> None:
        """Watch ``node`` (None: nothing) instead of the list watched so far."""
        if node is self.node:
            return
        for tag in self._tags:
            self.node.RemoveObserver(tag)
        self.node, self._tags = node, []
        if node is not None:
            if self.keep_one:
                keep_newest_point(node)
            self._tags = watch(node, self._defer, self._changed, trim=lambda: self.keep_one)
