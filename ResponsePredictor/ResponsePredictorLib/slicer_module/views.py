"""What Slicer's views show of a case on the user's asking: which of its scans (with that scan's
heatmap over it) the slice views show, the heatmaps' opacity there, the table in a table view.

The choices are read from the parameter node each time (the scan, the rows of other scans and the
nodes the runs filled), so that they follow whatever changed meanwhile and a saved scene offers them
again; ``follow_scans``, called whenever the parameter node changes, keeps the panel's list of them
current and drops a row's results once the row names another volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import slicer

from . import display
from .panel import SCAN_ROWS
from .scan_display import made_over


@dataclass(frozen=True)
class ScanChoice:
    """A scan the slice views can show, with its heatmap (None: none yet)."""

    label: str
    scan: slicer.vtkMRMLScalarVolumeNode
    heatmap: slicer.vtkMRMLScalarVolumeNode | None


def scan_choices(parameters: Any) -> list[ScanChoice]:
    """The primary scan first, then each named row of other scans with a volume."""
    primary = parameters.inputVolume
    choices = [] if primary is None else [ScanChoice(f"{primary.GetName()} (primary)", primary,
                                                     parameters.outputHeatmap)]
    for row in (getattr(parameters, name) for name in SCAN_ROWS):
        if row.name.strip() and row.volume is not None:
            choices.append(ScanChoice(f"{row.name.strip()}: {row.volume.GetName()}", row.volume, row.outputHeatmap))
    return choices


def offer_scans(combo_box: Any, parameters: Any) -> None:
    """List the choices in the panel's combo box (a QComboBox), the primary scan first: the one that
    ``display.show_case`` shows after a run. With the primary alone there is nothing to choose."""
    labels = [choice.label for choice in scan_choices(parameters)]
    combo_box.clear()
    combo_box.addItems(labels)
    combo_box.enabled = len(labels) > 1


def follow_scans(combo_box: Any, parameters: Any) -> None:
    """After any change to the parameter node: forget each row's results (its ``outputSegmentation`` and
    ``outputHeatmap``; the nodes stay in the scene) that were not made over the row's volume, so that
    an old heatmap is never shown over another scan, and list the choices anew in ``combo_box`` when
    they changed (a row renamed, another volume), keeping the item chosen while it is still listed, or
    its row's while the rows listed are the same (choosing an item is what changes the views)."""
    for name in SCAN_ROWS:
        for field in ("outputSegmentation", "outputHeatmap"):
            row = getattr(parameters, name)  # read anew: each write changes the parameter node (and calls this)
            if getattr(row, field) is not None and not made_over(getattr(row, field), row.volume):
                setattr(row, field, None)
    labels = [choice.label for choice in scan_choices(parameters)]
    listed = [combo_box.itemText(index) for index in range(combo_box.count)]
    if labels == listed:
        return
    chosen, index = combo_box.currentText, combo_box.currentIndex
    offer_scans(combo_box, parameters)
    if chosen in labels:
        combo_box.currentIndex = labels.index(chosen)
    elif len(labels) == len(listed) and 0 <= index < len(labels):  # the same rows, one renamed or re-pointed
        combo_box.currentIndex = index


def show_scan(scene: slicer.vtkMRMLScene, parameters: Any, label: str) -> bool:
    """The scan listed as ``label`` and its heatmap in every slice view, at the panel's opacity;
    False when no scan is listed so any more (nothing changes)."""
    for choice in scan_choices(parameters):
        if choice.label == label:
            display.show_heatmap_in_slice_views(scene, choice.scan, choice.heatmap, parameters.heatmapOpacity)
            return True
    return False


def set_opacity(scene: slicer.vtkMRMLScene, parameters: Any, opacity: float) -> int:
    """Each of the case's heatmaps at ``opacity`` in the slice views that show it (every other view
    stays as the user set it); returns how many views changed."""
    return sum(display.set_heatmap_opacity(scene, choice.heatmap, opacity)
               for choice in scan_choices(parameters) if choice.heatmap is not None)


def show_table(app: Any, table: slicer.vtkMRMLTableNode) -> None:
    """``table`` in the table view of Slicer's four-up layout. ``app``: ``slicer.app``."""
    app.layoutManager().setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView)
    logic = app.applicationLogic()
    logic.GetSelectionNode().SetActiveTableID(table.GetID())
    logic.PropagateTableSelection()
