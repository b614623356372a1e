"""mrml.py against Slicer's real MRML libraries (the slicer-core package), without the application.

Geometry is checked two ways: round trips through our own functions, and against code we did not
write (the node's own IJK-to-RAS matrix, and Slicer's NRRD reader and writer against SimpleITK's).
"""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core is not installed (pip install slicer-core)")
if not hasattr(slicer, "vtkMRMLScene"):
    pytest.skip("the installed 'slicer' package is not slicer-core", allow_module_level=True)
vtk = pytest.importorskip("vtk")

from ResponsePredictorLib.slicer_module import nodes as mrml  # noqa: E402  (after the skip: it imports slicer)
from ResponsePredictorLib.errors import ImageContentError, InputError, MaskError  # noqa: E402
from ResponsePredictorLib.volume import Volume, read_volume, write_volume  # noqa: E402

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def oblique_volume() -> Volume:
    """A small volume with anisotropic spacing, an off-zero origin and a rotated, non-symmetric grid."""
    angle_z, angle_x = np.deg2rad(30.0), np.deg2rad(-20.0)
    rot_z = np.array([[np.cos(angle_z), -np.sin(angle_z), 0], [np.sin(angle_z), np.cos(angle_z), 0], [0, 0, 1]])
    rot_x = np.array([[1, 0, 0], [0, np.cos(angle_x), -np.sin(angle_x)], [0, np.sin(angle_x), np.cos(angle_x)]])
    array = np.random.default_rng(7).normal(40.0, 30.0, size=(7, 9, 11)).astype(np.float32)
    return Volume(array, (0.7, 1.3, 2.5), (-12.5, 33.0, 101.25), tuple((rot_z @ rot_x).ravel()))


def ijk_to_lps(volume: Volume) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = np.reshape(volume.direction, (3, 3)) * np.array(volume.spacing)
    matrix[:3, 3] = volume.origin
    return matrix


def node_ijk_to_ras(node) -> np.ndarray:
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return np.array([[matrix.GetElement(row, column) for column in range(4)] for row in range(4)])


def assert_same_volume(actual: Volume, expected: Volume, atol: float = 0.0) -> None:
    np.testing.assert_array_equal(actual.array, expected.array)
    assert actual.array.dtype == expected.array.dtype
    for name in ("spacing", "origin", "direction"):
        np.testing.assert_allclose(getattr(actual, name), getattr(expected, name), rtol=0, atol=atol, err_msg=name)


# --- volumes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["sample", "oblique"])
def test_volume_round_trip_is_exact_and_in_ras(scene, sample, which):
    volume = sample[0] if which == "sample" else oblique_volume()
    node = mrml.volume_to_node(volume, scene, "image")
    assert node.GetScene() is scene and node.GetClassName() == "vtkMRMLScalarVolumeNode"
    assert node.GetName() == "image"
    # The node's own matrix, built by Slicer from what we set, is the LPS grid with x and y flipped.
    np.testing.assert_array_equal(node_ijk_to_ras(node), LPS_TO_RAS @ ijk_to_lps(volume))
    back = mrml.volume_from_node(node)
    assert_same_volume(back, volume)
    back.array[0, 0, 0] += 1  # a copy: changing it leaves the node's voxels alone
    assert slicer.util.arrayFromVolume(node)[0, 0, 0] == volume.array[0, 0, 0]


def test_labelmap_node_round_trip(scene, sample):
    mask = sample[1]
    node = mrml.volume_to_node(mask, scene, "tumor", labelmap=True)
    assert node.GetClassName() == "vtkMRMLLabelMapVolumeNode"
    assert_same_volume(mrml.volume_from_node(node), mask)


def test_slicer_reads_what_simpleitk_writes(scene, tmp_path):
    volume = oblique_volume()
    path = write_volume(volume, tmp_path / "oblique.nrrd")
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(str(path))
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode")
    assert storage.ReadData(node)
    # NRRD headers hold decimal text, so allow its last digit; a sign error would be metres off.
    assert_same_volume(mrml.volume_from_node(node), volume, atol=1e-9)


def test_simpleitk_reads_what_slicer_writes(scene, tmp_path):
    volume = oblique_volume()
    node = mrml.volume_to_node(volume, scene, "oblique")
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(str(tmp_path / "from_slicer.nrrd"))
    assert storage.WriteData(node)
    assert_same_volume(read_volume(tmp_path / "from_slicer.nrrd"), volume, atol=1e-9)


def test_array_not_starting_at_ijk_zero_keeps_its_place(scene):
    volume = oblique_volume()
    node = mrml.volume_to_node(volume, scene, "oblique")
    # The same voxels stored with an extent starting at IJK (2, 1, 3): they now lie 2, 1, 3 voxels on.
    shifted = vtk.vtkImageData()
    shifted.SetExtent(2, 12, 1, 9, 3, 9)
    shifted.AllocateScalars(vtk.VTK_FLOAT, 1)
    shifted.GetPointData().GetScalars().DeepCopy(node.GetImageData().GetPointData().GetScalars())
    node.SetAndObserveImageData(shifted)
    moved = mrml.volume_from_node(node)
    np.testing.assert_array_equal(moved.array, volume.array)
    expected_origin = ijk_to_lps(volume) @ np.array([2, 1, 3, 1])
    np.testing.assert_allclose(moved.origin, expected_origin[:3], rtol=0, atol=1e-12)


def test_64_bit_integer_volume_is_stored_as_32_bit(scene):
    volume = Volume(np.arange(24, dtype=np.int64).reshape(2, 3, 4), (1, 1, 1), (0, 0, 0), tuple(np.eye(3).ravel()))
    node = mrml.volume_to_node(volume, scene, "int64")
    back = mrml.volume_from_node(node)
    assert back.array.dtype == np.int32
    np.testing.assert_array_equal(back.array, volume.array)


def test_volume_errors(scene):
    with pytest.raises(InputError, match="No volume selected"):
        mrml.volume_from_node(None)
    with pytest.raises(InputError, match="vtkMRMLScalarVolumeNode; got vtkMRMLTableNode"):
        mrml.volume_from_node(scene.AddNewNodeByClass("vtkMRMLTableNode"))
    with pytest.raises(InputError, match="got ndarray"):
        mrml.volume_from_node(np.zeros((2, 2, 2)))
    with pytest.raises(ImageContentError, match="'empty' has no voxels"):
        mrml.volume_from_node(scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "empty"))
    vector = scene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", "rgb")
    slicer.util.updateVolumeFromArray(vector, np.zeros((2, 3, 4, 3), np.uint8))
    with pytest.raises(ImageContentError, match="3 components"):
        mrml.volume_from_node(vector)
    with pytest.raises(InputError, match="Expected a Volume"):
        mrml.volume_to_node(np.zeros((2, 2, 2)), scene, "array")
    with pytest.raises(InputError, match="No scene selected"):
        mrml.volume_to_node(oblique_volume(), None, "no scene")


# --- segmentations ---------------------------------------------------------------------------


def two_segment_labels(mask: Volume) -> np.ndarray:
    """The tumor split in two at its middle slice: label 1 below, 2 above."""
    tumor = mask.array > 0
    middle = int(np.median(np.nonzero(tumor)[0]))
    labels = np.zeros(mask.shape, np.uint8)
    labels[:middle][tumor[:middle]] = 1
    labels[middle:][tumor[middle:]] = 2
    return labels


def make_segmentation(scene, labels: Volume, names: list[str]):
    """A segmentation node with one segment per label, named in label order."""
    labelmap_node = mrml.volume_to_node(labels, scene, "labels", labelmap=True)
    segmentation_node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Segmentation")
    assert slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(labelmap_node, segmentation_node)
    segmentation = segmentation_node.GetSegmentation()
    for index, name in enumerate(names):
        segmentation.GetNthSegment(index).SetName(name)
    return segmentation_node


def test_labelmap_from_segmentation_two_segments(scene, sample):
    image, mask = sample
    labels = two_segment_labels(mask)
    reference = mrml.volume_to_node(image, scene, "ct")
    segmentation_node = make_segmentation(scene, mask.with_array(labels), ["Lower", "Upper"])
    nodes_before = scene.GetNumberOfNodes()

    result = mrml.labelmap_from_segmentation(segmentation_node, reference)
    assert result.names == {1: "Lower", 2: "Upper"}
    segmentation = segmentation_node.GetSegmentation()
    assert result.segment_ids == {1: segmentation.GetNthSegmentID(0), 2: segmentation.GetNthSegmentID(1)}
    assert result.volume.same_grid(image, tolerance=0.0)
    np.testing.assert_array_equal(result.volume.array, labels)
    assert scene.GetNumberOfNodes() == nodes_before  # the export's temporary nodes are gone

    # Chosen segments, in the chosen order: labels follow that order.
    upper_first = mrml.labelmap_from_segmentation(
        segmentation_node, reference, [result.segment_ids[2], result.segment_ids[1]]
    )
    assert upper_first.names == {1: "Upper", 2: "Lower"}
    np.testing.assert_array_equal(upper_first.volume.array, np.choose(labels, [0, 2, 1]))


def test_segmentation_on_another_grid_is_exported_onto_the_reference_grid(scene):
    image = oblique_volume()
    reference = mrml.volume_to_node(image, scene, "oblique")
    # A segment drawn on a crop of the image: its grid starts 2, 3, 1 voxels (i, j, k) further on.
    crop_start = np.array([2, 3, 1])
    crop = np.zeros((4, 5, 6), np.uint8)
    crop[1:3, 1:4, 2:5] = 1
    crop_origin = (ijk_to_lps(image) @ np.append(crop_start, 1))[:3]
    crop_volume = Volume(crop, image.spacing, tuple(crop_origin), image.direction)
    segmentation_node = make_segmentation(scene, crop_volume, ["Tumor"])

    result = mrml.labelmap_from_segmentation(segmentation_node, reference)
    expected = np.zeros(image.shape, np.uint8)
    i, j, k = crop_start
    expected[k : k + 4, j : j + 5, i : i + 6] = crop
    assert result.volume.same_grid(image)
    np.testing.assert_array_equal(result.volume.array, expected)


def test_segmentation_errors(scene, sample):
    image, mask = sample
    reference = mrml.volume_to_node(image, scene, "ct")
    empty = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Nothing")
    with pytest.raises(MaskError, match="'Nothing' has no segments"):
        mrml.labelmap_from_segmentation(empty, reference)
    with pytest.raises(InputError, match="must be a vtkMRMLSegmentationNode"):
        mrml.labelmap_from_segmentation(reference, reference)
    with pytest.raises(InputError, match="No reference volume selected"):
        mrml.labelmap_from_segmentation(empty, None)

    segmentation_node = make_segmentation(scene, mask, ["Tumor"])
    with pytest.raises(MaskError, match="no segment with ID nope"):
        mrml.labelmap_from_segmentation(segmentation_node, reference, ["nope"])
    segmentation_node.GetSegmentation().AddEmptySegment("", "Unpainted")
    with pytest.raises(MaskError, match="Unpainted of 'Segmentation' have no voxel"):
        mrml.labelmap_from_segmentation(segmentation_node, reference)


# --- end to end --------------------------------------------------------------------------------


def test_features_through_slicer_nodes_equal_features_from_files(scene, sample):
    """The Slicer path (nodes, segment export, the module's table) gives pyradiomics' numbers for the files."""
    pytest.importorskip("radiomics")
    from ResponsePredictorLib.features import FeatureExtractor
    from ResponsePredictorLib.slicer_module import display

    image, mask = sample
    # Shape and first-order features only: enough to catch a wrong grid or mask, and fast.
    extractor = FeatureExtractor({"imageType": {"Original": {}}, "featureClass": {"shape": [], "firstorder": []}})
    expected = extractor.extract(image, mask)

    reference = mrml.volume_to_node(image, scene, "ct")
    label_map = mrml.labelmap_from_segmentation(make_segmentation(scene, mask, ["Tumor"]), reference)
    result = extractor.extract(mrml.volume_from_node(reference), label_map.volume)
    table = display.case_to_table(result.features, {}, scene).GetTable()
    shown = {table.GetValue(row, 1).ToString(): table.GetValue(row, 2).ToDouble() for row in range(table.GetNumberOfRows())}
    assert shown == expected.features
