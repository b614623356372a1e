"""A case's results as MRML nodes: the tumor as a segmentation, the numbers as a table, the heatmap
as a coloured volume over the scan in the slice views and as volume rendering in 3D.

Like ``nodes`` (which owns the LPS/RAS conversion used here), every function takes the scene or the
nodes it works on, so the same code runs in Slicer and against ``slicer-core``. Output nodes can be
passed back in to be refilled, so that running a case again updates what the views show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import slicer
import vtk

from ..errors import InputError, MaskError
from ..volume import Volume
from .nodes import node_ids, remove_nodes_added_since, require_node, require_untransformed, volume_to_node

if TYPE_CHECKING:
    from ..explain import Heatmap
    from .background import CaseOutputs
    from .scan_display import ScanNodes

TUMOR_COLOR = (0.95, 0.75, 0.2)  # amber: stands apart from both heatmap colour maps
# The segment's meaning in DICOM codes, as Slicer's terminology files list it (Modules/Loadable/
# Terminologies/Resources/SegmentationCategoryTypeModifier-DICOM-Master.json, the same at 5.10.0 and
# 5.12.3): "Neoplasm" is in the DICOM master list, not in the General Anatomy list.
TERMINOLOGY_CONTEXT = "Segmentation category and type - DICOM master list"
TUMOR_CATEGORY = ("SCT", "49755003", "Morphologically Altered Structure")
TUMOR_TYPE = ("SCT", "108369006", "Neoplasm")
# The segment this module made in a segmentation: the only one it ever replaces. Segment tags are
# saved with the segmentation (.seg.nrrd), so a reloaded scene keeps the mark.
RESULT_TAG = "ResponsePredictor.result"
# Table and heatmap nodes this module made (node attribute): the only ones it refills.
OUTPUT_ATTRIBUTE = "ResponsePredictor.output"
# A heatmap's colour map ("signed" or "positive"), on its volume and on its colour table (node attribute).
COLORMAP_ATTRIBUTE = "ResponsePredictor.colormap"
DEFAULT_OPACITY = 0.6  # the heatmap over the scan in the slice views
_LABELMAP = slicer.vtkSegmentationConverter.GetSegmentationBinaryLabelmapRepresentationName()

COLOR_TABLE_SIZE = 256
# Map values below this fraction of the colour range's half-width (signed) or width (positive)
# are transparent, then opacity ramps to full over the next RAMP: the scan stays readable where
# the map says little.
TRANSPARENT_BELOW = 0.1
OPACITY_RAMP = 0.3
VOLUME_RENDERING_MAX_OPACITY = 0.6  # in 3D, several layers of voxels add up; keep the inside visible
# Opacity is per this many millimetres of map, not VTK's default 1 mm: a 3 cm tumor then stays
# see-through enough to show its inside, whatever the voxel size.
OPACITY_UNIT_DISTANCE_MM = 10.0
# Moreland's cool-warm diverging map (VTK's own diverging colour space) for signed maps.
DIVERGING_ENDS = ((0.230, 0.299, 0.754), (0.706, 0.016, 0.150))
# Matplotlib's "inferno" at 0, 1/4, 1/2, 3/4, 1, interpolated in Lab: sequential, dark to light.
SEQUENTIAL_POINTS = ((0.0, (0.001, 0.000, 0.014)), (0.25, (0.341, 0.062, 0.429)), (0.5, (0.735, 0.216, 0.330)),
                     (0.75, (0.978, 0.557, 0.035)), (1.0, (0.988, 1.000, 0.645)))


def tumor_terminology() -> str:
    """The terminology entry string Slicer stores on a tumor segment (category and type codes)."""
    entry = slicer.vtkSlicerTerminologyEntry()
    entry.SetTerminologyContextName(TERMINOLOGY_CONTEXT)
    for code, (scheme, value, meaning) in ((entry.GetCategoryObject(), TUMOR_CATEGORY),
                                           (entry.GetTypeObject(), TUMOR_TYPE)):
        code.SetCodingSchemeDesignator(scheme)
        code.SetCodeValue(value)
        code.SetCodeMeaning(meaning)
    return slicer.vtkSlicerTerminologiesModuleLogic.SerializeTerminologyEntry(entry)


def result_segment_id(node: slicer.vtkMRMLSegmentationNode) -> str | None:
    """The ID of the segment this module made in ``node`` (tagged ``RESULT_TAG``), or None."""
    segmentation = node.GetSegmentation()
    for index in range(segmentation.GetNumberOfSegments()):
        if segmentation.GetNthSegment(index).HasTag(RESULT_TAG):
            return segmentation.GetNthSegmentID(index)
    return None


def remove_result_segment(node: slicer.vtkMRMLSegmentationNode) -> bool:
    """Remove the segment this module made in ``node``, and only that one; False when there is none."""
    segment_id = result_segment_id(node)
    if segment_id is None:
        return False
    node.GetSegmentation().RemoveSegment(segment_id)
    return True


def mask_to_segmentation(
    mask: Volume,
    scene: slicer.vtkMRMLScene,
    *,
    name: str = "Tumor segmentation",
    segment_name: str = "Tumor",
    reference_volume_node: slicer.vtkMRMLScalarVolumeNode | None = None,
    node: slicer.vtkMRMLSegmentationNode | None = None,
) -> slicer.vtkMRMLSegmentationNode:
    """The mask's voxels above 0 as a named, coloured tumor segment, on the mask's own grid.

    Into a new segmentation node, or into ``node``, where only the segment this module made there
    before (tagged ``RESULT_TAG``) is replaced, keeping its ID and place: every other segment, the
    user's, stays as it is. ``reference_volume_node`` (the scan) becomes a new segmentation's
    geometry, so that editing it in the Segment Editor stays on the scan's grid; a given node keeps
    its own.
    """
    require_node(scene, "vtkMRMLScene", "scene")
    if not isinstance(mask, Volume):
        raise InputError(f"Expected the mask as a Volume; got {type(mask).__name__}.")
    binary = mask.array > 0
    if not binary.any():
        raise MaskError(f"The mask for '{name}' is empty: the segmentation found no tumor voxel.")
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
        if reference_volume_node is not None:
            node.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume_node)
    else:
        _require_segmentation_output(node)
    segmentation = node.GetSegmentation()
    if not segmentation.GetNumberOfSegments():  # nothing to convert in an empty one
        segmentation.SetSourceRepresentationName(_LABELMAP)
    segment_id = result_segment_id(node) or segmentation.GenerateUniqueSegmentID(segment_name)
    existing = node_ids(scene)
    labelmap = volume_to_node(mask.with_array(binary.astype(np.uint8)), scene, f"{name} import", labelmap=True)
    try:
        # Slicer's update-by-ID import: the segment with this ID is cleared and refilled (or added).
        ids = vtk.vtkStringArray()
        ids.InsertNextValue(segment_id)
        if not slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(labelmap, node, ids):
            raise MaskError(f"Slicer could not import the tumor mask into segmentation '{node.GetName()}'.")
    finally:
        remove_nodes_added_since(scene, existing)  # the temporary label map and its display nodes
    segment = segmentation.GetSegment(segment_id)
    segment.SetName(segment_name)
    segment.SetColor(*TUMOR_COLOR)
    segment.SetTag(slicer.vtkSegment.GetTerminologyEntryTagName(), tumor_terminology())
    segment.SetTag(RESULT_TAG, "tumor")
    node.CreateDefaultDisplayNodes()
    return node


def _require_segmentation_output(node: slicer.vtkMRMLSegmentationNode) -> None:
    """Refuse a segmentation the tumor cannot be added to as it is (never converted behind the user's back)."""
    require_node(node, "vtkMRMLSegmentationNode", "output segmentation")
    require_untransformed(node, "Segmentation")
    segmentation = node.GetSegmentation()
    if segmentation.GetNumberOfSegments() and segmentation.GetSourceRepresentationName() != _LABELMAP:
        raise InputError(f"Segmentation '{node.GetName()}' is edited as {segmentation.GetSourceRepresentationName()}, "
                         "not as a labelmap, so the tumor cannot be added to it. Choose 'Create new segmentation'.")


def _require_own_output(node: slicer.vtkMRMLNode, kind: str, node_class: str, what: str) -> None:
    """Refuse to refill a node this module did not make: it may hold the user's data (or be the scan)."""
    require_node(node, node_class, f"output {kind}")
    own = node.GetAttribute(OUTPUT_ATTRIBUTE) == kind or (
        kind == "heatmap" and node.GetAttribute(COLORMAP_ATTRIBUTE) is not None)  # earlier versions
    if not own:
        raise InputError(f"{what} '{node.GetName()}' was not made by ResponsePredictor, and its contents would be "
                         "replaced. Leave the output empty so that a new one is made.")


def case_to_table(
    features: Mapping[str, float],
    prediction: Mapping[str, Any],
    scene: slicer.vtkMRMLScene,
    *,
    contributions: Mapping[str, float] | None = None,
    name: str = "Response prediction",
    node: slicer.vtkMRMLTableNode | None = None,
) -> slicer.vtkMRMLTableNode:
    """One case's numbers as a three-column table: section, name, value.

    One row per quantity (prediction outputs, then contributions, then features) rather than one
    row per case: a single case with a hundred features reads down a column, not across a screen.
    Non-numeric prediction entries (labels, units) are kept as text in ``name`` with no value.
    """
    require_node(scene, "vtkMRMLScene", "scene")
    if node is not None:
        _require_own_output(node, "table", "vtkMRMLTableNode", "Table")
    if not features:
        raise InputError("The case has no features to show.")
    rows: list[tuple[str, str, float]] = []
    for key, value in prediction.items():
        if isinstance(value, bool) or isinstance(value, (int, float, np.integer, np.floating)):
            rows.append(("prediction", str(key), float(value)))
        elif value is not None:
            rows.append(("prediction", f"{key}: {value}", float("nan")))
    rows += [("contribution", str(key), float(value)) for key, value in (contributions or {}).items()]
    rows += [("feature", str(key), float(value)) for key, value in features.items()]

    sections, names, values = vtk.vtkStringArray(), vtk.vtkStringArray(), vtk.vtkDoubleArray()
    for array, title in ((sections, "section"), (names, "name"), (values, "value")):
        array.SetName(title)
    for section, label, value in rows:
        sections.InsertNextValue(section)
        names.InsertNextValue(label)
        values.InsertNextValue(value)
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
        node.SetAttribute(OUTPUT_ATTRIBUTE, "table")
    was_modifying = node.StartModify()
    try:
        node.RemoveAllColumns()
        for array in (sections, names, values):
            node.AddColumn(array)
    finally:
        node.EndModify(was_modifying)
    return node


def heatmap_opacity(fraction: np.ndarray) -> np.ndarray:
    """Opacity for a map value at ``fraction`` of its colour range's reach (0 = nothing, 1 = most)."""
    return np.clip((np.abs(fraction) - TRANSPARENT_BELOW) / OPACITY_RAMP, 0.0, 1.0)


def heatmap_colors(colormap: str, count: int = COLOR_TABLE_SIZE) -> np.ndarray:
    """``count`` RGBA rows from the range's low end to its high end, alpha from ``heatmap_opacity``."""
    function = vtk.vtkColorTransferFunction()
    positions = np.linspace(0.0, 1.0, count)
    if colormap == "signed":
        function.SetColorSpaceToDiverging()
        function.AddRGBPoint(0.0, *DIVERGING_ENDS[0])
        function.AddRGBPoint(1.0, *DIVERGING_ENDS[1])
        reach = 2.0 * positions - 1.0  # the middle of the table is 0
    elif colormap == "positive":
        function.SetColorSpaceToLab()
        for position, rgb in SEQUENTIAL_POINTS:
            function.AddRGBPoint(position, *rgb)
        reach = positions
    else:
        raise InputError(f"Unknown heatmap colour map {colormap!r}; use 'signed' or 'positive'.")
    rgb = np.array([function.GetColor(position) for position in positions])
    return np.column_stack([rgb, heatmap_opacity(reach)])


def heatmap_color_node(
    scene: slicer.vtkMRMLScene, colormap: str, name: str, node: slicer.vtkMRMLColorTableNode | None = None
) -> slicer.vtkMRMLColorTableNode:
    """A colour table for a ``signed`` (diverging) or ``positive`` (sequential) heatmap.

    Its alpha is 0 where the map is near zero: Slicer's slice views use a foreground colour
    table's alpha, so only the parts of the tumor that matter are tinted.
    """
    colors = heatmap_colors(colormap)
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLColorTableNode", name)
    node.SetTypeToUser()
    node.SetNumberOfColors(len(colors))
    for index, (red, green, blue, alpha) in enumerate(colors):
        node.SetColor(index, f"{index}", red, green, blue, alpha)
    node.SetAttribute(COLORMAP_ATTRIBUTE, colormap)
    return node


def heatmap_to_volume(
    heatmap: Heatmap,
    scene: slicer.vtkMRMLScene,
    *,
    name: str = "Heatmap",
    node: slicer.vtkMRMLScalarVolumeNode | None = None,
) -> slicer.vtkMRMLScalarVolumeNode:
    """The heatmap as a scalar volume coloured by its colour map across its value range.

    A signed map's range is made symmetric about 0, so that white (no effect) sits at 0. ``node``,
    when given, must be a heatmap this module made (never the scan or another volume).
    """
    if node is not None:
        _require_own_output(node, "heatmap", "vtkMRMLScalarVolumeNode", "Volume")
    node = volume_to_node(heatmap.volume, scene, name, node=node)
    node.SetAttribute(OUTPUT_ATTRIBUTE, "heatmap")
    low, high = heatmap_window(heatmap.colormap, heatmap.value_range)
    color_node = heatmap_color_node(scene, heatmap.colormap, f"{name} colours",
                                    _referenced_color_node(node))
    display = node.GetDisplayNode()
    display.SetAndObserveColorNodeID(color_node.GetID())
    display.AutoWindowLevelOff()
    display.SetWindowLevelMinMax(low, high)
    display.SetInterpolate(True)
    node.SetAttribute(COLORMAP_ATTRIBUTE, heatmap.colormap)
    node.SetAttribute("ResponsePredictor.method", heatmap.method)
    node.SetAttribute("ResponsePredictor.units", heatmap.units)  # free text, not a UCUM code Slicer could show
    return node


def heatmap_window(colormap: str, value_range: tuple[float, float]) -> tuple[float, float]:
    """The span the colour table stretches over: symmetric about 0 for signed maps, never empty."""
    low, high = (float(value) for value in value_range)
    if colormap == "signed":
        reach = max(abs(low), abs(high))
        low, high = -reach, reach
    if high <= low:  # a flat map: give the table some width so the display stays defined
        high = low + 1e-6
    return low, high


def show_heatmap_in_slice_views(
    scene: slicer.vtkMRMLScene,
    background_node: slicer.vtkMRMLScalarVolumeNode,
    heatmap_node: slicer.vtkMRMLScalarVolumeNode | None,
    opacity: float = DEFAULT_OPACITY,
) -> int:
    """The scan as background and the heatmap as foreground, at ``opacity``, in every slice view
    (``heatmap_node`` None: the scan alone, a scan without a heatmap).

    Returns how many slice views were set (each view has one slice composite node in the scene).
    """
    _require_opacity(opacity)
    require_node(background_node, "vtkMRMLScalarVolumeNode", "scan")
    if heatmap_node is not None:
        require_node(heatmap_node, "vtkMRMLScalarVolumeNode", "heatmap volume")
    composites = _slice_composites(scene)
    for composite in composites:
        composite.SetBackgroundVolumeID(background_node.GetID())
        composite.SetForegroundVolumeID(None if heatmap_node is None else heatmap_node.GetID())
        composite.SetForegroundOpacity(opacity)
    return len(composites)


def set_heatmap_opacity(scene: slicer.vtkMRMLScene, heatmap_node: slicer.vtkMRMLScalarVolumeNode,
                        opacity: float) -> int:
    """The heatmap's opacity in the slice views that show it as their foreground; every other view
    stays as the user set it. Returns how many views changed."""
    _require_opacity(opacity)
    showing = [composite for composite in _slice_composites(scene)
               if composite.GetForegroundVolumeID() == heatmap_node.GetID()]
    for composite in showing:
        composite.SetForegroundOpacity(opacity)
    return len(showing)


def _require_opacity(opacity: float) -> None:
    if not 0.0 <= opacity <= 1.0:
        raise InputError(f"Heatmap opacity must be between 0 and 1; got {opacity}.")


def _slice_composites(scene: slicer.vtkMRMLScene) -> list[slicer.vtkMRMLSliceCompositeNode]:
    """Each slice view's composite node (one per view in the scene)."""
    composites = scene.GetNodesByClass("vtkMRMLSliceCompositeNode")
    return [composites.GetItemAsObject(index) for index in range(composites.GetNumberOfItems())]


def show_heatmap_volume_rendering(
    heatmap_node: slicer.vtkMRMLScalarVolumeNode,
    logic: slicer.vtkSlicerVolumeRenderingLogic,
) -> slicer.vtkMRMLVolumeRenderingDisplayNode:
    """Volume rendering of the heatmap in the 3D views, coloured like the slice overlay.

    ``logic`` is Slicer's volume rendering logic (``slicer.modules.volumerendering.logic()`` in the
    application). The transfer functions are sampled from the heatmap's colour table over its
    window, so 3D and 2D agree; opacity is 0 where the map is near zero.
    """
    require_node(heatmap_node, "vtkMRMLScalarVolumeNode", "heatmap volume")
    display = heatmap_node.GetDisplayNode()
    color_node = display.GetColorNode() if display is not None else None
    if color_node is None:
        raise InputError(f"Volume '{heatmap_node.GetName()}' has no colour table; show it with heatmap_to_volume first.")
    rendering = logic.GetFirstVolumeRenderingDisplayNode(heatmap_node)
    if rendering is None:
        rendering = logic.CreateDefaultVolumeRenderingNodes(heatmap_node)
    low, high = display.GetWindowLevelMin(), display.GetWindowLevelMax()
    volume_property = rendering.GetVolumePropertyNode().GetVolumeProperty()
    colors = vtk.vtkColorTransferFunction()
    opacities = vtk.vtkPiecewiseFunction()
    count = color_node.GetNumberOfColors()
    rgba = [0.0] * 4
    for index in range(count):
        value = low + (high - low) * index / (count - 1)
        color_node.GetColor(index, rgba)
        colors.AddRGBPoint(value, *rgba[:3])
        opacities.AddPoint(value, rgba[3] * VOLUME_RENDERING_MAX_OPACITY)
    volume_property.SetColor(colors)
    volume_property.SetScalarOpacity(opacities)
    volume_property.SetScalarOpacityUnitDistance(OPACITY_UNIT_DISTANCE_MM)
    volume_property.SetInterpolationTypeToLinear()
    volume_property.ShadeOff()  # shading darkens the colours the legend promises
    rendering.SetVisibility(True)
    return rendering


def _referenced_color_node(node: slicer.vtkMRMLScalarVolumeNode) -> slicer.vtkMRMLColorTableNode | None:
    """The node's own heatmap colour table from an earlier run, to refill rather than add another."""
    display = node.GetDisplayNode()
    color = display.GetColorNode() if display is not None else None
    if color is not None and color.GetAttribute(COLORMAP_ATTRIBUTE) is not None:
        return color
    return None


@dataclass
class CaseNodes:
    """The nodes showing one case: filled by ``show_case``, passed back in to be refilled."""

    segmentation: slicer.vtkMRMLSegmentationNode | None = None
    table: slicer.vtkMRMLTableNode | None = None
    heatmap: slicer.vtkMRMLScalarVolumeNode | None = None
    scans: dict[str, ScanNodes] = field(default_factory=dict)  # the other scans' nodes, by name (scan_display)


def check_targets(nodes: CaseNodes, *, segmentation: bool) -> None:
    """Refuse output nodes a case's results cannot go into, before anything is filled: run before a
    run starts too, so that a long run does not end in this error. ``segmentation``: whether the
    results bring a tumor segment for ``nodes.segmentation``."""
    if segmentation and nodes.segmentation is not None:
        _require_segmentation_output(nodes.segmentation)
    if nodes.table is not None:
        _require_own_output(nodes.table, "table", "vtkMRMLTableNode", "Table")
    if nodes.heatmap is not None:
        _require_own_output(nodes.heatmap, "heatmap", "vtkMRMLScalarVolumeNode", "Volume")


def show_case(
    outputs: CaseOutputs,
    scan_node: slicer.vtkMRMLScalarVolumeNode,
    nodes: CaseNodes | None = None,
    *,
    segmentation: bool = True,
    volume_rendering_logic: slicer.vtkSlicerVolumeRenderingLogic | None = None,
    opacity: float = DEFAULT_OPACITY,
) -> CaseNodes:
    """Everything a run brought back, shown over ``scan_node``: segmentation, table, heatmap.

    ``segmentation``: whether the run's mask is new (segmented by the run) and goes into the tumor
    segmentation; a mask the user gave is left where it is. Parts the run did not make (no features
    after the segment step, no heatmap without one) leave their nodes as they were. The heatmap goes
    into the slice views, and into 3D when a volume rendering logic is given. The other scans' results
    (``outputs.scans``) go over their own scans: ``scan_display.show_scans``.
    """
    require_node(scan_node, "vtkMRMLScalarVolumeNode", "scan")
    scene = scan_node.GetScene()
    nodes = nodes if nodes is not None else CaseNodes()
    check_targets(nodes, segmentation=segmentation)  # all of them first: nothing is half shown
    name = scan_node.GetName()
    if segmentation:
        nodes.segmentation = mask_to_segmentation(outputs.mask, scene, name=f"{name} tumor",
                                                  reference_volume_node=scan_node, node=nodes.segmentation)
    if outputs.features:
        nodes.table = case_to_table(outputs.features, outputs.prediction, scene, contributions=outputs.contributions,
                                    name=f"{name} prediction", node=nodes.table)
    if outputs.heatmap is not None:
        nodes.heatmap = heatmap_to_volume(outputs.heatmap, scene, name=f"{name} heatmap", node=nodes.heatmap)
        show_heatmap_in_slice_views(scene, scan_node, nodes.heatmap, opacity)
        if volume_rendering_logic is not None:
            show_heatmap_volume_rendering(nodes.heatmap, volume_rendering_logic)
    return nodes
