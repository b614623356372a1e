"""The case's other scans' results as MRML nodes, each over its own scan: the tumor carried onto that
scan's grid as a segmentation (a tumor the user segmented on it is theirs, and stays as it is), and
the scan's heatmap as a coloured volume, as ``display`` shows the primary's.

The slice views keep showing the primary scan and its heatmap; ``views`` switches them to another
scan on the user's asking. Each result node names the scan it was made over (``SCAN_REFERENCE``), so
that a row of other scans given another volume drops it (``made_over``) rather than show it there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import slicer

from . import display
from .other_scans import ScanOutputs

# The node reference from an other scan's result node (tumor, heatmap) to the scan it was made over.
SCAN_REFERENCE = "ResponsePredictorScan"


@dataclass
class ScanNodes:
    """One other scan and the nodes showing its results (None: none yet, or a new one is made)."""

    scan: slicer.vtkMRMLScalarVolumeNode
    segmentation: slicer.vtkMRMLSegmentationNode | None = None
    heatmap: slicer.vtkMRMLScalarVolumeNode | None = None

    def as_case(self) -> display.CaseNodes:
        """The result nodes as ``display``'s checks take a case's."""
        return display.CaseNodes(self.segmentation, None, self.heatmap)


def check_scan_targets(targets: Mapping[str, ScanNodes]) -> None:
    """Refuse result nodes the scans' results cannot go into, as ``display.check_targets`` does the case's."""
    for nodes in targets.values():
        display.check_targets(nodes.as_case(), segmentation=True)


def show_scans(outputs: Mapping[str, ScanOutputs], targets: Mapping[str, ScanNodes]) -> dict[str, ScanNodes]:
    """Each scan's results into its nodes in ``targets`` (by name; new nodes where None): the nodes filled.
    Check the targets first (``check_scan_targets``), with the case's, so that nothing is half shown.

    A scan the run used but ``targets`` lacks has no scan node to be shown over: it is left out.
    """
    shown = {}
    for name, results in outputs.items():
        nodes = targets.get(name)
        if nodes is None:
            continue
        scene, scan_name = nodes.scan.GetScene(), nodes.scan.GetName()
        if results.carried:
            nodes.segmentation = display.mask_to_segmentation(
                results.mask, scene, name=f"{scan_name} tumor", segment_name="Tumor (carried)",
                reference_volume_node=nodes.scan, node=nodes.segmentation)
        if results.heatmap is not None:
            nodes.heatmap = display.heatmap_to_volume(results.heatmap, scene, name=f"{scan_name} heatmap",
                                                      node=nodes.heatmap)
        for node in (nodes.segmentation, nodes.heatmap):
            if node is not None:
                node.SetNodeReferenceID(SCAN_REFERENCE, nodes.scan.GetID())
        shown[name] = nodes
    return shown


def made_over(node: slicer.vtkMRMLNode | None, scan: slicer.vtkMRMLScalarVolumeNode | None) -> bool:
    """Whether ``node``, a result node of ``show_scans``, was made over ``scan`` (one not marked so, as
    a scene saved before the mark was, counts as made over another scan)."""
    return node is not None and scan is not None and node.GetNodeReference(SCAN_REFERENCE) is scan
