"""The two point lists of interactive segmentation: tumor points (green) and not-tumor points (red).

The tumor points are the panel's seed list. With interactive refinement off it is the one-click
tumor location it has always been (``seed``: a new click moves the point); switched on, it keeps
every point, so that the click that started the segmentation is its first tumor point and further
clicks add to it, rather than a second list beside it holding the same kind of point. The first
tumor point is also what decides the region the network sees, in both modes. Not-tumor points have
a list of their own (``notTumorPoints``), made by its selector.

Prompts are read as the engine takes them: placed points only (not one being placed), world
positions, LPS millimetres (Slicer shows RAS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import slicer

from ..session_protocol import Prompts
from . import seed
from .nodes import box_from_roi, point_from_markups

TUMOR_POINT_COLOR = (0.2, 0.8, 0.3)  # green: "tumor here"
NOT_TUMOR_POINT_COLOR = (0.9, 0.2, 0.2)  # red: "not tumor here"
NOT_TUMOR_LIST = "ResponsePredictor.notTumorPoints"  # node attribute: the module's not-tumor list


def set_point_color(node: slicer.vtkMRMLMarkupsNode, rgb: tuple[float, float, float]) -> None:
    """Draw the list's points in ``rgb``, selected or not (Slicer draws selected points, the default,
    in the display node's selected colour)."""
    node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    display.SetSelectedColor(*rgb)
    display.SetColor(*rgb)


def make_tumor_list(node: slicer.vtkMRMLMarkupsFiducialNode) -> None:
    """The seed list the panel's selector made: the module's tumor click (``seed.make_single_point``), green."""
    if node is not None and node.IsA("vtkMRMLMarkupsFiducialNode"):
        seed.make_single_point(node)
        set_point_color(node, TUMOR_POINT_COLOR)


def make_not_tumor_list(node: slicer.vtkMRMLMarkupsFiducialNode) -> None:
    """The not-tumor list the panel's selector made: the module's own, red."""
    if node is not None and node.IsA("vtkMRMLMarkupsFiducialNode"):
        node.SetAttribute(NOT_TUMOR_LIST, "true")
        set_point_color(node, NOT_TUMOR_POINT_COLOR)


def clear_not_tumor_points(parameters: Any) -> None:
    """Forget the not-tumor points as ``seed.clear_tumor_location`` forgets the tumor click: the
    module's list is emptied, a user's list only unselected (its points stay)."""
    node = parameters.notTumorPoints
    if node is not None and node.GetAttribute(NOT_TUMOR_LIST) == "true":
        node.RemoveAllControlPoints()
    else:
        parameters.notTumorPoints = None


def placed_points(node: slicer.vtkMRMLMarkupsNode | None) -> tuple[tuple[float, float, float], ...]:
    """The list's placed points in LPS mm, in list order (None: no list, no points)."""
    if node is None:
        return ()
    return tuple(point_from_markups(node, index) for index in seed.placed_indices(node))


def current_prompts(parameters: Any) -> Prompts:
    """What the panel shows now: its tumor points, not-tumor points and box (when one is placed)."""
    roi = parameters.roi
    box = box_from_roi(roi) if roi is not None and roi.GetNumberOfControlPoints() else None
    return Prompts(placed_points(parameters.seedPoint), placed_points(parameters.notTumorPoints), box)


class PointListsWatcher:
    """Observes the tumor and not-tumor lists: ``changed()`` when any of their points is placed, moved
    or removed, and each newly placed point remembered, in placing order, for undo."""

    def __init__(self, changed: Callable[[], None]) -> None:
        self._changed = changed
        self._observed: list[tuple[slicer.vtkMRMLMarkupsNode, int]] = []
        self.lists: tuple = ()
        self.placed: list[tuple[slicer.vtkMRMLMarkupsNode, str]] = []  # (list, control point ID), oldest first

    def follow(self, *lists: slicer.vtkMRMLMarkupsNode | None) -> None:
        """Observe ``lists`` (None entries skipped) instead of those observed so far; placing order
        is kept only for lists still followed."""
        lists = tuple(node for node in lists if node is not None)
        if lists == self.lists:
            return
        for node, tag in self._observed:
            node.RemoveObserver(tag)
        self.lists, self._observed = lists, []
        self.placed = [(node, point) for node, point in self.placed if node in lists]
        for node in lists:
            for event in (slicer.vtkMRMLMarkupsNode.PointModifiedEvent, slicer.vtkMRMLMarkupsNode.PointRemovedEvent):
                self._observed.append((node, node.AddObserver(event, lambda caller, event: self._changed())))
            self._observed.append((node, node.AddObserver(slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent,
                                                          self._placed)))

    def forget_placing_order(self) -> None:
        self.placed = []

    def remove_last_placed(self) -> bool:
        """Remove the most recently placed point still there (whichever list); False when none is."""
        while self.placed:
            node, point_id = self.placed.pop()
            index = node.GetNthControlPointIndexByID(point_id)
            if index >= 0:
                node.RemoveNthControlPoint(index)  # observed: changed() follows
                return True
        return False

    def _placed(self, node, event) -> None:
        index = seed.newest_point(node)  # a placed point is appended to its list
        if index is not None:
            point = (node, node.GetNthControlPointID(index))
            if point in self.placed:  # placed again (undefined meanwhile): it is the newest now
                self.placed.remove(point)
            self.placed.append(point)
        self._changed()
