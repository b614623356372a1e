"""display.py (a case's results as nodes) and the markups bridges, against slicer-core."""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core is not installed (pip install slicer-core)")
if not hasattr(slicer, "vtkMRMLScene"):
    pytest.skip("the installed 'slicer' package is not slicer-core", allow_module_level=True)
vtk = pytest.importorskip("vtk")

from vtk.util.numpy_support import vtk_to_numpy  # noqa: E402

from ResponsePredictorLib.slicer_module import display as mrml_results  # noqa: E402
from ResponsePredictorLib.slicer_module import nodes as mrml  # noqa: E402
from ResponsePredictorLib.errors import InputError, MaskError  # noqa: E402
from ResponsePredictorLib.explain.heatmap import Heatmap  # noqa: E402
from ResponsePredictorLib.resources import sample_case  # noqa: E402
from ResponsePredictorLib.volume import Volume  # noqa: E402


def signed_heatmap(mask: Volume) -> Heatmap:
    """A map that is +1 in the tumor's upper half, -1 in its lower half, 0 outside."""
    tumor = mask.array > 0
    middle = int(np.median(np.nonzero(tumor)[0]))
    values = np.where(tumor, np.where(np.arange(mask.shape[0])[:, None, None] < middle, -1.0, 1.0), 0.0)
    return Heatmap(mask.with_array(values.astype(np.float32)), "signed", "test", "halves", (-1.0, 1.0))


def display_rgba(volume_node) -> np.ndarray:
    """What a slice view blends: the display node's RGBA output, one row per voxel."""
    display = volume_node.GetDisplayNode()
    display.SetInputImageDataConnection(volume_node.GetImageDataConnection())
    display.UpdateImageDataPipeline()
    producer = display.GetOutputImageDataConnection().GetProducer()
    producer.Update()
    return vtk_to_numpy(producer.GetOutputDataObject(0).GetPointData().GetScalars())


# --- markups ---------------------------------------------------------------------------------


def test_seed_and_roi_come_out_in_lps(scene):
    seed = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "seed")
    seed.AddControlPoint(vtk.vtkVector3d(10.0, -20.0, 30.0))
    assert mrml.point_from_markups(seed) == (-10.0, 20.0, 30.0)
    with pytest.raises(InputError, match="no point 2"):
        mrml.point_from_markups(seed, 1)

    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "box")
    with pytest.raises(InputError, match="not placed"):
        mrml.box_from_roi(roi)
    roi.SetCenter(10.0, -20.0, 30.0)
    roi.SetSize(4.0, 6.0, 8.0)
    assert mrml.box_from_roi(roi) == (-12.0, 17.0, 26.0, -8.0, 23.0, 34.0)
    # A transform moves where the views show it, and so where the box is.
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    matrix = vtk.vtkMatrix4x4()
    matrix.SetElement(0, 3, 5.0)
    transform.SetMatrixTransformToParent(matrix)
    roi.SetAndObserveTransformNodeID(transform.GetID())
    assert mrml.box_from_roi(roi) == (-17.0, 17.0, 26.0, -13.0, 23.0, 34.0)


# --- segmentation ----------------------------------------------------------------------------


def test_mask_becomes_a_tumor_segment_with_the_masks_voxels(scene, sample):
    image, mask = sample
    scan = mrml.volume_to_node(image, scene, "CT")
    node = mrml_results.mask_to_segmentation(mask, scene, reference_volume_node=scan)
    segmentation = node.GetSegmentation()
    assert segmentation.GetNumberOfSegments() == 1
    segment = segmentation.GetNthSegment(0)
    assert segment.GetName() == "Tumor"
    np.testing.assert_allclose(segment.GetColor(), mrml_results.TUMOR_COLOR)
    assert segment.HasTag(mrml_results.RESULT_TAG)
    assert mrml_results.result_segment_id(node) == segmentation.GetNthSegmentID(0)
    # Slicer reads the entry back as the DICOM master list's Neoplasm, Morphologically Altered Structure.
    entry = slicer.vtkSlicerTerminologyEntry()
    assert slicer.vtkSlicerTerminologiesModuleLogic.DeserializeTerminologyEntry(segment.GetTerminology(), entry)
    assert entry.GetTerminologyContextName() == "Segmentation category and type - DICOM master list"
    assert (entry.GetCategoryObject().GetCodeValue(), entry.GetTypeObject().GetCodeValue()) == ("49755003", "108369006")
    assert entry.GetTypeObject().GetCodeMeaning() == "Neoplasm"
    assert segment.GetTag(slicer.vtkSegment.GetTerminologyEntryTagName(), vtk.reference(""))

    # Exported back onto the scan, it holds exactly the mask's voxels.
    back = mrml.labelmap_from_segmentation(node, scan)
    assert np.count_nonzero(back.volume.array) == np.count_nonzero(mask.array)
    np.testing.assert_array_equal(back.volume.array > 0, mask.array > 0)
    assert not scene.GetNodesByClass("vtkMRMLLabelMapVolumeNode").GetNumberOfItems()  # no leftovers

    # Refilled in place on a second run, with the new mask only.
    smaller = mask.with_array(np.where(np.arange(mask.shape[0])[:, None, None] % 2 == 0, mask.array, 0))
    tumor_id = mrml_results.result_segment_id(node)
    assert mrml_results.mask_to_segmentation(smaller, scene, node=node) is node
    assert node.GetSegmentation().GetNumberOfSegments() == 1 and mrml_results.result_segment_id(node) == tumor_id
    assert np.count_nonzero(mrml.labelmap_from_segmentation(node, scan).volume.array) == np.count_nonzero(smaller.array)


def users_segmentation(scene, scan, mask, count: int = 3):
    """A segmentation the user made: ``count`` slabs of the scan, each its own segment (imported from
    a label map, as the Data module does)."""
    labels = np.zeros(mask.shape, dtype=np.uint8)
    for index in range(count):
        labels[index * 2:index * 2 + 2, 5:15, 5:15] = index + 1
    existing = {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}
    labelmap = mrml.volume_to_node(mask.with_array(labels), scene, "my labels", labelmap=True)
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "my segments")
    node.SetReferenceImageGeometryParameterFromVolumeNode(scan)
    assert slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(labelmap, node)
    scene.RemoveNode(labelmap)
    assert {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())} - existing
    return node


def segment_arrays(node, scan) -> dict[str, np.ndarray]:
    segmentation = node.GetSegmentation()
    ids = [segmentation.GetNthSegmentID(index) for index in range(segmentation.GetNumberOfSegments())]
    return {segment_id: mrml.labelmap_from_segmentation(node, scan, [segment_id]).volume.array > 0
            for segment_id in ids}


def test_a_users_segmentation_keeps_its_segments_after_two_runs_into_it(scene, sample):
    image, mask = sample
    scan = mrml.volume_to_node(image, scene, "CT")
    node = users_segmentation(scene, scan, mask)
    before = segment_arrays(node, scan)
    names = {segment_id: node.GetSegmentation().GetSegment(segment_id).GetName() for segment_id in before}
    assert len(before) == 3

    mrml_results.mask_to_segmentation(mask, scene, node=node, reference_volume_node=scan)
    smaller = mask.with_array(np.where(np.arange(mask.shape[0])[:, None, None] % 2 == 0, mask.array, 0))
    mrml_results.mask_to_segmentation(smaller, scene, node=node, reference_volume_node=scan)

    after = segment_arrays(node, scan)
    tumor_id = mrml_results.result_segment_id(node)
    assert set(after) == set(before) | {tumor_id}  # one segment more: the module's, replaced, not duplicated
    for segment_id, voxels in before.items():
        np.testing.assert_array_equal(after[segment_id], voxels, err_msg=segment_id)
        assert node.GetSegmentation().GetSegment(segment_id).GetName() == names[segment_id]
        assert not node.GetSegmentation().GetSegment(segment_id).HasTag(mrml_results.RESULT_TAG)
    assert np.count_nonzero(after[tumor_id]) == np.count_nonzero(smaller.array)
    assert [node.GetSegmentation().GetNthSegment(i).HasTag(mrml_results.RESULT_TAG) for i in range(4)].count(True) == 1


def test_the_modules_segment_is_found_again_after_the_scene_is_saved(scene, sample, tmp_path):
    image, mask = sample
    scan = mrml.volume_to_node(image, scene, "CT")
    node = mrml_results.mask_to_segmentation(mask, scene, reference_volume_node=scan)
    storage = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    storage.SetFileName(str(tmp_path / "tumor.seg.nrrd"))
    assert storage.WriteData(node)
    again = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "reloaded")
    assert storage.ReadData(again)
    assert mrml_results.result_segment_id(again) == mrml_results.result_segment_id(node)  # the tag is saved


def test_a_surface_segmentation_is_refused_rather_than_converted(scene, sample):
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "surfaces")
    surface_name = slicer.vtkSegmentationConverter.GetSegmentationClosedSurfaceRepresentationName()
    node.GetSegmentation().SetSourceRepresentationName(surface_name)
    node.GetSegmentation().AddEmptySegment("organ")
    with pytest.raises(InputError, match="Create new segmentation"):
        mrml_results.mask_to_segmentation(sample[1], scene, node=node)
    assert node.GetSegmentation().GetNumberOfSegments() == 1


def test_tables_and_volumes_the_module_did_not_make_are_never_overwritten(scene, sample):
    image, mask = sample
    scan = mrml.volume_to_node(image, scene, "CT")
    with pytest.raises(InputError, match="not made by ResponsePredictor"):
        mrml_results.heatmap_to_volume(signed_heatmap(mask), scene, node=scan)
    np.testing.assert_array_equal(mrml.volume_from_node(scan).array, image.array)
    users_table = scene.AddNewNodeByClass("vtkMRMLTableNode", "my table")
    users_table.AddColumn().SetName("mine")
    with pytest.raises(InputError, match="not made by ResponsePredictor"):
        mrml_results.case_to_table({"x": 1.0}, {}, scene, node=users_table)
    assert users_table.GetNumberOfColumns() == 1


def test_empty_mask_is_refused(scene, sample):
    mask = sample[1]
    with pytest.raises(MaskError, match="empty"):
        mrml_results.mask_to_segmentation(mask.with_array(np.zeros_like(mask.array)), scene)


# --- table -----------------------------------------------------------------------------------


def table_rows(node) -> list[tuple[str, str, float]]:
    return [(node.GetCellText(row, 0), node.GetCellText(row, 1), node.GetTable().GetValue(row, 2).ToDouble())
            for row in range(node.GetNumberOfRows())]


def test_case_table_holds_prediction_contributions_and_features(scene):
    features = {"original_shape_MeshVolume": 1234.5, "original_firstorder_Mean": -12.25}
    prediction = {"risk": 0.42, "risk_lower": 0.3, "risk_upper": 0.55, "predicted": True, "outcome": "death"}
    contributions = {"age": 0.2, "(baseline)": -0.1}
    node = mrml_results.case_to_table(features, prediction, scene, contributions=contributions)
    assert [node.GetColumnName(column) for column in range(3)] == ["section", "name", "value"]
    rows = table_rows(node)
    assert rows[:4] == [("prediction", "risk", 0.42), ("prediction", "risk_lower", 0.3),
                        ("prediction", "risk_upper", 0.55), ("prediction", "predicted", 1.0)]
    assert rows[4][:2] == ("prediction", "outcome: death") and np.isnan(rows[4][2])
    assert rows[5:7] == [("contribution", "age", 0.2), ("contribution", "(baseline)", -0.1)]
    assert {name: value for section, name, value in rows if section == "feature"} == features

    again = mrml_results.case_to_table({"x": 1.0}, {}, scene, node=node)
    assert again is node and table_rows(node) == [("feature", "x", 1.0)]
    with pytest.raises(InputError, match="no features"):
        mrml_results.case_to_table({}, prediction, scene)


# --- heatmap ---------------------------------------------------------------------------------


@pytest.mark.parametrize("colormap", ["signed", "positive"])
def test_colour_tables_are_transparent_near_zero_and_opaque_at_the_ends(colormap):
    colors = mrml_results.heatmap_colors(colormap)
    assert colors.shape == (256, 4) and colors.min() >= 0 and colors.max() <= 1
    assert colors[-1, 3] == 1.0
    if colormap == "signed":
        assert colors[0, 3] == 1.0 and colors[127, 3] == 0.0 and colors[128, 3] == 0.0
        assert colors[0, 2] > colors[0, 0] and colors[-1, 0] > colors[-1, 2]  # blue below 0, red above
        np.testing.assert_allclose(colors[127, :3], colors[128, :3], atol=0.02)  # a light middle
        assert colors[127, :3].min() > 0.8
    else:
        assert colors[0, 3] == 0.0
        assert colors[0, :3].sum() < colors[-1, :3].sum()  # dark to light


def test_heatmap_volume_is_coloured_and_shown_in_slice_views(scene, sample):
    image, mask = sample
    heatmap = signed_heatmap(mask)
    scan = mrml.volume_to_node(image, scene, "CT")
    node = mrml_results.heatmap_to_volume(heatmap, scene)
    assert mrml.volume_from_node(node).same_grid(image, tolerance=0.0)
    display = node.GetDisplayNode()
    color = display.GetColorNode()
    assert color.GetAttribute("ResponsePredictor.colormap") == "signed" and color.GetNumberOfColors() == 256
    assert (display.GetWindowLevelMin(), display.GetWindowLevelMax()) == (-1.0, 1.0)

    # What the slice view blends: opaque blue and red in the tumor, transparent elsewhere.
    rgba = display_rgba(node).reshape(*mask.shape, 4)
    tumor = mask.array > 0
    assert (rgba[~tumor][:, 3] == 0).all()
    assert (rgba[tumor][:, 3] == 255).all()
    negative = heatmap.volume.array < 0
    assert (rgba[negative][:, 2] > rgba[negative][:, 0]).all()
    assert (rgba[tumor & ~negative][:, 0] > rgba[tumor & ~negative][:, 2]).all()

    # Three slice views, as the application's default layout has.
    composites = [scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode") for _ in range(3)]
    assert mrml_results.show_heatmap_in_slice_views(scene, scan, node, opacity=0.4) == 3
    for composite in composites:
        assert composite.GetBackgroundVolumeID() == scan.GetID()
        assert composite.GetForegroundVolumeID() == node.GetID()
        assert composite.GetForegroundOpacity() == pytest.approx(0.4)
    with pytest.raises(InputError, match="between 0 and 1"):
        mrml_results.show_heatmap_in_slice_views(scene, scan, node, opacity=2)

    # A second run refills the same node and colour table.
    colour_tables = scene.GetNodesByClass("vtkMRMLColorTableNode").GetNumberOfItems()
    assert mrml_results.heatmap_to_volume(heatmap, scene, node=node) is node
    assert scene.GetNodesByClass("vtkMRMLColorTableNode").GetNumberOfItems() == colour_tables


def test_heatmap_volume_rendering_follows_the_colour_table(scene, sample):
    heatmap = signed_heatmap(sample[1])
    node = mrml_results.heatmap_to_volume(heatmap, scene)
    logic = slicer.vtkSlicerVolumeRenderingLogic()
    logic.SetMRMLScene(scene)
    rendering = mrml_results.show_heatmap_volume_rendering(node, logic)
    assert rendering.IsA("vtkMRMLVolumeRenderingDisplayNode") and rendering.GetVisibility()
    assert rendering.GetVolumeNode() is node
    volume_property = rendering.GetVolumePropertyNode().GetVolumeProperty()
    colors, opacity = volume_property.GetRGBTransferFunction(), volume_property.GetScalarOpacity()
    assert opacity.GetValue(0.0) == 0.0 and opacity.GetValue(0.05) == 0.0  # nothing where the map is ~0
    assert volume_property.GetScalarOpacityUnitDistance() == mrml_results.OPACITY_UNIT_DISTANCE_MM
    assert opacity.GetValue(1.0) == pytest.approx(mrml_results.VOLUME_RENDERING_MAX_OPACITY)
    assert opacity.GetValue(-1.0) == pytest.approx(mrml_results.VOLUME_RENDERING_MAX_OPACITY)
    table = node.GetDisplayNode().GetColorNode()
    for index, value in ((0, -1.0), (255, 1.0)):
        rgba = [0.0] * 4
        table.GetColor(index, rgba)
        np.testing.assert_allclose(colors.GetColor(value), rgba[:3], atol=1e-6)
    # Asked again, the same display node is updated rather than a second one added.
    assert mrml_results.show_heatmap_volume_rendering(node, logic) is rendering


def test_positive_heatmap_range_is_kept(scene, sample):
    mask = sample[1]
    values = (mask.array > 0).astype(np.float32) * 3.0
    heatmap = Heatmap(mask.with_array(values), "positive", "test", "flat", (0.0, 3.0))
    display = mrml_results.heatmap_to_volume(heatmap, scene).GetDisplayNode()
    assert (display.GetWindowLevelMin(), display.GetWindowLevelMax()) == (0.0, 3.0)
    assert mrml_results.heatmap_window("signed", (-0.5, 2.0)) == (-2.0, 2.0)
    assert mrml_results.heatmap_window("positive", (0.0, 0.0))[1] > 0.0


# --- a real case, end to end ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def case_folder(tmp_path_factory, sample):
    """The sample case run by the engine's pipeline (given mask, a model of radiomics and clinical covariates,
    contribution heatmap) and written as the cohort runner writes it."""
    import json

    from ResponsePredictorLib.pipeline import CaseInput, Pipeline, write_case
    from survival_model import radiomics_survival_model

    image, mask = sample
    covariates = json.loads(sample_case().clinical.read_text())
    model = radiomics_survival_model(tmp_path_factory.mktemp("model") / "survival")
    pipeline = Pipeline(model, heatmap="contribution", report=False, device="cpu")
    result = pipeline.run(CaseInput("nsclc070", image, mask=mask, extra=covariates))
    folder = tmp_path_factory.mktemp("case")
    write_case(result, folder)
    return folder


@pytest.mark.slow
def test_a_case_folder_becomes_segmentation_table_and_heatmap(scene, sample, case_folder):
    from ResponsePredictorLib.slicer_module.background import read_case_folder

    image, mask = sample
    outputs = read_case_folder(case_folder)
    scan = mrml.volume_to_node(image, scene, "CT")
    composite = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
    logic = slicer.vtkSlicerVolumeRenderingLogic()
    logic.SetMRMLScene(scene)
    nodes = mrml_results.show_case(outputs, scan, volume_rendering_logic=logic, opacity=0.5)

    # The segmentation holds the mask's voxels, exactly.
    exported = mrml.labelmap_from_segmentation(nodes.segmentation, scan).volume.array
    assert np.count_nonzero(exported) == np.count_nonzero(mask.array) == np.count_nonzero(outputs.mask.array)
    # The table's feature rows are the features, value for value, and its prediction rows the prediction.
    rows = table_rows(nodes.table)
    assert {name: value for section, name, value in rows if section == "feature"} == outputs.features
    prediction = {name: value for section, name, value in rows if section == "prediction"}
    assert prediction == pytest.approx({key: float(value) for key, value in outputs.prediction.items()})
    # The heatmap: on the scan's grid, its colour table, in the slice view over the scan, and in 3D.
    heatmap = mrml.volume_from_node(nodes.heatmap)
    assert heatmap.same_grid(image, tolerance=0.0)
    np.testing.assert_array_equal(heatmap.array, outputs.heatmap.volume.array)
    assert nodes.heatmap.GetDisplayNode().GetColorNode().GetAttribute("ResponsePredictor.colormap") == "signed"
    assert composite.GetForegroundVolumeID() == nodes.heatmap.GetID() and composite.GetForegroundOpacity() == 0.5
    rendering = logic.GetFirstVolumeRenderingDisplayNode(nodes.heatmap)
    assert rendering is not None and rendering.GetVolumePropertyNode().GetVolumeProperty().GetRGBTransferFunction().GetSize() == 256

    # Run again into the same nodes: nothing new is added.
    count = scene.GetNumberOfNodes()
    assert mrml_results.show_case(outputs, scan, nodes, volume_rendering_logic=logic) is nodes
    assert scene.GetNumberOfNodes() == count


@pytest.mark.parametrize("tag", ["v5.10.0", "v5.12.3"])
def test_the_tumor_terminology_is_in_slicers_dicom_master_list(tag):
    """The codes the segment carries, looked up in Slicer's own terminology files at each release."""
    import json

    from slicer_python import slicer_file

    folder = "Modules/Loadable/Terminologies/Resources"
    master = json.loads(slicer_file(tag, f"{folder}/SegmentationCategoryTypeModifier-DICOM-Master.json"))
    assert master["SegmentationCategoryTypeContextName"] == mrml_results.TERMINOLOGY_CONTEXT
    category = next(entry for entry in master["SegmentationCodes"]["Category"]
                    if entry["CodeValue"] == mrml_results.TUMOR_CATEGORY[1])
    assert (category["CodingSchemeDesignator"], category["CodeValue"], category["CodeMeaning"]) == \
        mrml_results.TUMOR_CATEGORY
    found = [(entry["CodingSchemeDesignator"], entry["CodeValue"], entry["CodeMeaning"]) for entry in category["Type"]]
    assert mrml_results.TUMOR_TYPE in found
    general = json.loads(slicer_file(tag, f"{folder}/SegmentationCategoryTypeModifier-SlicerGeneralAnatomy.json"))
    assert mrml_results.TUMOR_TYPE[1] not in json.dumps(general)  # the context the module named before
