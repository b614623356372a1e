"""MRML nodes to and from the engine's types: volumes, points, boxes and segmentations.

Slicer keeps a volume's geometry in RAS (its IJK-to-RAS matrix); ``Volume`` keeps it in LPS like
SimpleITK. The two differ by the sign of the first two physical axes, so the conversion flips x and
y of the origin and of the direction cosines and nothing else: it is exact, bit for bit.

Every function takes the scene or the nodes it works on as arguments (there is no global scene
outside the Slicer application), so the same code runs in Slicer and against ``slicer-core``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import slicer
import vtk
from slicer.util import updateVolumeFromArray
from vtk.util.numpy_support import vtk_to_numpy

from ..errors import ImageContentError, InputError, MaskError
from ..volume import Volume, as_label_map


@contextlib.contextmanager
def standalone_scene() -> Iterator[slicer.vtkMRMLScene]:
    """A scene set up as the Slicer application sets up its own at start-up, for use outside it
    (slicer-core in tests, offscreen rendering): the default colour tables, which display nodes
    look up, and the segmentation converter rules, which empty and surface segments need."""
    scene = slicer.vtkMRMLScene()
    color_logic = slicer.vtkMRMLColorLogic()
    color_logic.SetMRMLScene(scene)
    factory = slicer.vtkSegmentationConverterFactory.GetInstance()
    if not factory.GetConverterRules():
        factory.RegisterConverterRule(slicer.vtkBinaryLabelmapToClosedSurfaceConversionRule())
        factory.RegisterConverterRule(slicer.vtkClosedSurfaceToBinaryLabelmapConversionRule())
    try:
        yield scene
    finally:
        color_logic.SetMRMLScene(None)
        scene.Clear(1)


# diag(-1, -1, 1) takes LPS to RAS and back.
_LPS_RAS_FLIP = np.array([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class LabelMap:
    """A label map on a reference volume's grid, with what each label stands for."""

    volume: Volume
    names: dict[int, str]  # label value -> segment name ("label N" for a label map volume)
    segment_ids: dict[int, str] = field(default_factory=dict)  # label value -> segment ID, when from segments


def require_node(node: Any, class_name: str, what: str) -> None:
    """``InputError`` unless ``node`` is a node of ``class_name`` (``what``: the node in the message)."""
    if node is None:
        raise InputError(f"No {what} selected.")
    if not hasattr(node, "IsA") or not node.IsA(class_name):
        kind = node.GetClassName() if hasattr(node, "GetClassName") else type(node).__name__
        raise InputError(f"The {what} must be a {class_name}; got {kind}.")


def alive(node: Any) -> Any:
    """The node if it is still in a scene (the user may have deleted it meanwhile), else None."""
    return node if node is not None and node.GetScene() is not None else None


def require_untransformed(node: slicer.vtkMRMLTransformableNode, what: str) -> None:
    """``InputError`` when ``node`` is under a transform that moves it: the module reads and writes
    node geometry as it is stored, while clicks and boxes are world positions, so the two would not
    meet (a transform that does nothing, or none, is fine)."""
    transform = node.GetParentTransformNode()
    if transform is None:
        return
    matrix = vtk.vtkMatrix4x4()
    if not (transform.IsTransformToWorldLinear() and transform.GetMatrixTransformToWorld(matrix)
            and np.array_equal(_matrix_to_numpy(matrix), np.eye(4))):
        raise InputError(f"{what} '{node.GetName()}' is under the transform '{transform.GetName()}'. Harden the "
                         "transform first (Data module: right-click it, 'Harden transform'), then run again.")


def _matrix_to_numpy(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(row, column) for column in range(4)] for row in range(4)])


def volume_from_node(node: slicer.vtkMRMLScalarVolumeNode) -> Volume:
    """The voxels and LPS geometry of a scalar (or label map) volume node, copied.

    The geometry is the node's own IJK-to-RAS: a volume under a transform that moves it is refused
    (harden the transform first), as it would be analysed away from where the views show it.
    """
    require_node(node, "vtkMRMLScalarVolumeNode", "volume")
    require_untransformed(node, "Volume")
    image = node.GetImageData()
    name = node.GetName()
    if image is None or image.GetNumberOfPoints() == 0 or image.GetPointData().GetScalars() is None:
        raise ImageContentError(f"Volume '{name}' has no voxels. Load or compute the image first.")
    if image.GetNumberOfScalarComponents() != 1:
        raise ImageContentError(
            f"Volume '{name}' has {image.GetNumberOfScalarComponents()} components per voxel (colour or vector "
            "data); a scalar CT, MR or PET volume is needed."
        )
    # Read as slicer.util.arrayFromVolume does, but for any scalar node class (that helper knows a
    # fixed list); copied, because VTK's buffer is freed or reused with the node.
    shape = tuple(reversed(image.GetDimensions()))
    array = np.array(vtk_to_numpy(image.GetPointData().GetScalars()).reshape(shape), copy=True)
    direction = vtk.vtkMatrix4x4()
    node.GetIJKToRASDirectionMatrix(direction)
    ras_direction = _matrix_to_numpy(direction)[:3, :3]
    ras_origin = np.array(node.GetOrigin())
    extent_start = np.array(image.GetExtent()[::2], dtype=float)
    if extent_start.any():
        # The array starts at this IJK index, not at 0: its first voxel is where the origin moves to.
        ras_origin = ras_origin + ras_direction @ (extent_start * np.array(node.GetSpacing()))
    return Volume(
        array,
        spacing=node.GetSpacing(),
        origin=tuple(_LPS_RAS_FLIP * ras_origin),
        direction=tuple((_LPS_RAS_FLIP[:, None] * ras_direction).ravel()),
    )


def volume_to_node(
    volume: Volume,
    scene: slicer.vtkMRMLScene,
    name: str,
    *,
    labelmap: bool = False,
    node: slicer.vtkMRMLScalarVolumeNode | None = None,
) -> slicer.vtkMRMLScalarVolumeNode:
    """A scalar (or label map) volume node in ``scene`` holding a copy of ``volume``.

    ``node``, when given, is refilled (voxels and geometry) instead of adding a new node, so that
    running again updates the views that show it.
    """
    require_node(scene, "vtkMRMLScene", "scene")
    node_class = "vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLScalarVolumeNode"
    if node is not None:
        require_node(node, node_class, f"output volume '{name}'")
    if not isinstance(volume, Volume):
        raise InputError(f"Expected a Volume; got {type(volume).__name__}.")
    array = volume.array
    if labelmap:
        array = as_label_map(volume, source=f"Label map '{name}'").array
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8)
    elif array.dtype.kind in "iu" and array.dtype.itemsize == 8:
        # Slicer does not display 64-bit integer volumes; CT, MR and PET values fit 32 bits.
        if array.size and (array.min() < np.iinfo(np.int32).min or array.max() > np.iinfo(np.int32).max):
            raise ImageContentError(f"Volume '{name}' holds values beyond 32-bit integers; Slicer cannot show them.")
        array = array.astype(np.int32)
    if node is None:
        node = scene.AddNewNodeByClass(node_class, name)
    updateVolumeFromArray(node, array)
    direction = vtk.vtkMatrix4x4()
    ras_direction = _LPS_RAS_FLIP[:, None] * np.reshape(volume.direction, (3, 3))
    for row in range(3):
        for column in range(3):
            direction.SetElement(row, column, ras_direction[row, column])
    node.SetIJKToRASDirectionMatrix(direction)
    node.SetSpacing(*volume.spacing)
    node.SetOrigin(*(_LPS_RAS_FLIP * np.array(volume.origin)))
    node.CreateDefaultDisplayNodes()
    return node


def point_from_markups(node: slicer.vtkMRMLMarkupsNode, index: int = 0) -> tuple[float, float, float]:
    """A markups control point in LPS millimetres (world position: parent transforms applied)."""
    require_node(node, "vtkMRMLMarkupsNode", "seed point")
    count = node.GetNumberOfControlPoints()
    if not 0 <= index < count:
        raise InputError(
            f"Markups '{node.GetName()}' has {count} point(s), no point {index + 1}. Click the tumor to place one."
        )
    ras = [0.0, 0.0, 0.0]
    node.GetNthControlPointPositionWorld(index, ras)
    return tuple(float(value) for value in _LPS_RAS_FLIP * np.array(ras))


def box_from_roi(node: slicer.vtkMRMLMarkupsROINode) -> tuple[float, float, float, float, float, float]:
    """The axis-aligned box around a markups ROI, as (x0, y0, z0, x1, y1, z1) in LPS millimetres."""
    require_node(node, "vtkMRMLMarkupsROINode", "region of interest")
    if not node.GetNumberOfControlPoints():
        raise InputError(f"ROI '{node.GetName()}' is not placed yet. Draw it around the tumor.")
    bounds = [0.0] * 6
    node.GetRASBounds(bounds)  # world bounds, (xmin, xmax, ymin, ymax, zmin, zmax) in RAS
    corners = _LPS_RAS_FLIP[:, None] * np.reshape(bounds, (3, 2))  # flipping x and y swaps their min and max
    low, high = corners.min(axis=1), corners.max(axis=1)
    return tuple(float(value) for value in (*low, *high))


def labelmap_from_segmentation(
    segmentation_node: slicer.vtkMRMLSegmentationNode,
    reference_volume_node: slicer.vtkMRMLScalarVolumeNode,
    segment_ids: list[str] | None = None,
) -> LabelMap:
    """Segments as one label map on the reference volume's grid, labels 1, 2, ... in segment order.

    Slicer's own export does the work (it converts surface-only segments and applies the transforms
    between the segmentation and the volume), so the mask is the one the user sees in the views.
    ``segment_ids`` chooses segments and their order (default: all, in the segmentation's order).
    """
    require_node(segmentation_node, "vtkMRMLSegmentationNode", "segmentation")
    require_node(reference_volume_node, "vtkMRMLScalarVolumeNode", "reference volume")
    segmentation = segmentation_node.GetSegmentation()
    name = segmentation_node.GetName()
    if segment_ids is None:
        segment_ids = [segmentation.GetNthSegmentID(index) for index in range(segmentation.GetNumberOfSegments())]
    segment_ids = list(segment_ids)
    if not segment_ids:
        raise MaskError(f"Segmentation '{name}' has no segments. Segment the tumor first (Segment Editor).")
    unknown = [segment_id for segment_id in segment_ids if segmentation.GetSegment(segment_id) is None]
    if unknown:
        raise MaskError(f"Segmentation '{name}' has no segment with ID {', '.join(unknown)}.")
    scene = segmentation_node.GetScene()
    if scene is None:
        raise InputError(f"Segmentation '{name}' is not in a scene; Slicer's export needs one.")

    # The export writes into a label map node that must be in the scene, and adds a display node and
    # a colour table for it; all of them are removed afterwards so that the user's scene is left as
    # it was.
    existing = node_ids(scene)
    exported = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", f"{name} export")
    try:
        ok = slicer.vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(
            segmentation_node, segment_ids, exported, reference_volume_node
        )
        if not ok:
            raise MaskError(f"Slicer could not export segmentation '{name}' onto '{reference_volume_node.GetName()}'.")
        mask = as_label_map(volume_from_node(exported), source=f"Segmentation '{name}'")
    finally:
        remove_nodes_added_since(scene, existing)

    names = {label: segmentation.GetSegment(segment_id).GetName() for label, segment_id in enumerate(segment_ids, 1)}
    counts = np.bincount(mask.array.ravel(), minlength=len(segment_ids) + 1)
    empty = [names[label] for label in names if counts[label] == 0]
    if empty:
        raise MaskError(
            f"Segment(s) {', '.join(empty)} of '{name}' have no voxel inside volume "
            f"'{reference_volume_node.GetName()}'. Paint them, or leave them out."
        )
    return LabelMap(mask, names, dict(enumerate(segment_ids, 1)))


def node_ids(scene: slicer.vtkMRMLScene) -> set[str]:
    return {scene.GetNthNode(index).GetID() for index in range(scene.GetNumberOfNodes())}


def remove_nodes_added_since(scene: slicer.vtkMRMLScene, existing: set[str]) -> None:
    added = [scene.GetNthNode(index) for index in range(scene.GetNumberOfNodes())]
    # Newest first, so display nodes go before the nodes they show. Singletons (the subject
    # hierarchy) are shared by the whole scene and stay.
    for node in reversed(added):
        if node.GetID() not in existing and not node.GetSingletonTag():
            scene.RemoveNode(node)
