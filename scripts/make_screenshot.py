"""Render the extension's screenshot: a real case, its tumor, and its heatmap, as the module shows them.

    python scripts/make_screenshot.py [--data DIR] [-o ResponsePredictor/Resources/Screenshots/ResponsePredictor.png]

The case is pyradiomics' lung2 test case (public data folder, RP_DATA_DIR). The heatmap is the
contribution map (``explain.contribution_map``) of the NSCLC radiomics + clinical model in
benchmarks/models. Everything shown goes through the
module's own MRML code (slicer-core): the segmentation node, the heatmap volume with its colour
table, the slice view's RGBA blend of that table, and the volume-rendering transfer functions.
VTK renders offscreen: left, an axial slice through the tumor with the overlay and the tumor
outline; right, the heatmap in 3D beside the tumor's surface.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import slicer
import vtk
from vtk.util.numpy_support import numpy_to_vtk, vtk_to_numpy

from ResponsePredictorLib.slicer_module import display as mrml_results
from ResponsePredictorLib.slicer_module import nodes as mrml
from ResponsePredictorLib.explain import contribution_map
from ResponsePredictorLib.predict import load_model
from ResponsePredictorLib.volume import read_mask, read_volume

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("RP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_OUTPUT = REPO_ROOT / "ResponsePredictor" / "Resources" / "Screenshots" / "ResponsePredictor.png"
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from radiomics_model import RADIOMICS_MODEL  # noqa: E402  (the default model has no contribution map)
PANEL = 600  # pixels, each of the two views
WINDOW = (-1000.0, 300.0)  # HU: lung and soft tissue both readable
OVERLAY_OPACITY = 0.7
BACKGROUND = (0.08, 0.08, 0.1)


def build_scene(scene, image, mask, heatmap):
    """The case as the module shows it: scan, tumor segmentation, heatmap volume and its rendering."""
    scan = mrml.volume_to_node(image, scene, "lung2")
    segmentation = mrml_results.mask_to_segmentation(mask, scene, reference_volume_node=scan)
    heatmap_node = mrml_results.heatmap_to_volume(heatmap, scene)
    logic = slicer.vtkSlicerVolumeRenderingLogic()
    logic.SetMRMLScene(scene)
    rendering = mrml_results.show_heatmap_volume_rendering(heatmap_node, logic)
    return scan, segmentation, heatmap_node, rendering


def slice_picture(image, mask, heatmap_node, k: int) -> np.ndarray:
    """Axial slice k: the scan in grey, the heatmap blended with its table's alpha, the tumor outlined."""
    from scipy import ndimage

    low, high = WINDOW
    grey = np.clip((image.array[k].astype(float) - low) / (high - low), 0, 1)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    display = heatmap_node.GetDisplayNode()
    display.SetInputImageDataConnection(heatmap_node.GetImageDataConnection())
    display.UpdateImageDataPipeline()
    producer = display.GetOutputImageDataConnection().GetProducer()
    producer.Update()
    rgba = vtk_to_numpy(producer.GetOutputDataObject(0).GetPointData().GetScalars()).reshape(*image.shape, 4)[k] / 255.0
    alpha = rgba[..., 3:] * OVERLAY_OPACITY  # what Slicer's slice view does with a foreground at this opacity
    rgb = rgb * (1 - alpha) + rgba[..., :3] * alpha
    tumor = mask.array[k] > 0
    outline = tumor & ~ndimage.binary_erosion(tumor)
    rgb[outline] = mrml_results.TUMOR_COLOR
    return rgb


def crop_box(mask, k: int, margin: int = 40) -> tuple[slice, slice]:
    rows, cols = np.nonzero(mask.array[k])
    size = max(np.ptp(rows), np.ptp(cols)) + 2 * margin
    centre = ((rows.min() + rows.max()) // 2, (cols.min() + cols.max()) // 2)
    start = [int(np.clip(c - size // 2, 0, n - size)) for c, n in zip(centre, mask.shape[1:])]
    return slice(start[0], start[0] + size), slice(start[1], start[1] + size)


def image_actor(picture: np.ndarray) -> vtk.vtkImageActor:
    # Row 0 of the array is the top of the picture (anterior, as Slicer shows axial slices); VTK's is the bottom.
    data = vtk.vtkImageData()
    data.SetDimensions(picture.shape[1], picture.shape[0], 1)
    flat = (np.flipud(picture) * 255).astype(np.uint8).reshape(-1, 3)
    data.GetPointData().SetScalars(numpy_to_vtk(flat, deep=True, array_type=vtk.VTK_UNSIGNED_CHAR))
    actor = vtk.vtkImageActor()
    actor.GetMapper().SetInputData(data)
    actor.InterpolateOff()
    return actor


def volume_actor(heatmap_node, rendering, mask, margin: int = 3) -> vtk.vtkVolume:
    """The heatmap volume in RAS with the module's own transfer functions, cropped to the tumor."""
    k, j, i = np.nonzero(mask.array)
    crop = vtk.vtkExtractVOI()  # the map is 0 elsewhere; rendering the whole CT grid would only cost time
    crop.SetInputData(heatmap_node.GetImageData())
    crop.SetVOI(*(value for low, high, size in ((i.min(), i.max(), mask.shape[2]), (j.min(), j.max(), mask.shape[1]),
                                                 (k.min(), k.max(), mask.shape[0]))
                  for value in (max(int(low) - margin, 0), min(int(high) + margin, size - 1))))
    crop.Update()
    mapper = vtk.vtkFixedPointVolumeRayCastMapper()  # CPU: renders the same offscreen everywhere
    mapper.SetInputConnection(crop.GetOutputPort())
    mapper.SetSampleDistance(0.25)
    volume = vtk.vtkVolume()
    volume.SetMapper(mapper)
    volume.SetProperty(rendering.GetVolumePropertyNode().GetVolumeProperty())
    matrix = vtk.vtkMatrix4x4()
    heatmap_node.GetIJKToRASMatrix(matrix)
    volume.SetUserMatrix(matrix)
    return volume


def surface_actor(segmentation) -> vtk.vtkActor:
    node_segmentation = segmentation.GetSegmentation()
    segmentation.CreateClosedSurfaceRepresentation()
    surface = vtk.vtkPolyData()
    segmentation.GetClosedSurfaceRepresentation(node_segmentation.GetNthSegmentID(0), surface)
    mapper = vtk.vtkPolyDataMapper()
    mapper.SetInputData(surface)
    mapper.ScalarVisibilityOff()
    actor = vtk.vtkActor()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColor(*mrml_results.TUMOR_COLOR)
    actor.GetProperty().SetOpacity(0.25)
    return actor


def label(text: str, size: int, position: tuple[float, float], bold: bool = False) -> vtk.vtkTextActor:
    actor = vtk.vtkTextActor()
    actor.SetInput(text)
    actor.GetTextProperty().SetFontSize(size)
    actor.GetTextProperty().SetBold(bold)
    actor.GetTextProperty().SetColor(0.95, 0.95, 0.95)
    actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    actor.SetPosition(*position)
    return actor


def render(image, mask, heatmap, output: Path) -> Path:
    with mrml.standalone_scene() as scene:
        return _render(scene, image, mask, heatmap, output)


def _render(scene, image, mask, heatmap, output: Path) -> Path:
    scan, segmentation, heatmap_node, rendering = build_scene(scene, image, mask, heatmap)
    k = int(np.argmax((mask.array > 0).sum(axis=(1, 2))))  # the slice with the most tumor
    rows, cols = crop_box(mask, k)
    picture = slice_picture(image, mask, heatmap_node, k)[rows, cols]

    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(True)
    window.SetSize(2 * PANEL, PANEL)
    left, right = vtk.vtkRenderer(), vtk.vtkRenderer()
    left.SetViewport(0, 0, 0.5, 1)
    right.SetViewport(0.5, 0, 1, 1)
    for renderer in (left, right):
        renderer.SetBackground(*BACKGROUND)
        window.AddRenderer(renderer)

    left.AddActor(image_actor(picture))
    left.ResetCamera()
    left.GetActiveCamera().Zoom(1.15)  # leaves room for the captions above and below
    left.AddViewProp(label("Axial slice: contribution heatmap over the CT", 16, (0.03, 0.95), bold=True))
    left.AddViewProp(label("red: towards higher risk    blue: towards lower risk    amber: tumor outline", 13,
                           (0.03, 0.015)))

    surface = surface_actor(segmentation)
    right.AddVolume(volume_actor(heatmap_node, rendering, mask))
    right.AddActor(surface)
    camera = right.GetActiveCamera()
    camera.SetPosition(0, -1, 0)  # from the front (anterior), head up, as Slicer's 3D view starts
    camera.SetFocalPoint(0, 0, 0)
    camera.SetViewUp(0, 0, 1)
    camera.Azimuth(35)
    camera.Elevation(20)
    camera.OrthogonalizeViewUp()
    right.ResetCamera(surface.GetBounds())
    camera.Zoom(0.95)
    right.AddViewProp(label("3D: heatmap volume rendering and tumor surface", 16, (0.03, 0.95), bold=True))
    right.AddViewProp(label("ResponsePredictor for 3D Slicer - pyradiomics lung2 case", 13, (0.03, 0.015)))

    window.Render()
    capture = vtk.vtkWindowToImageFilter()
    capture.SetInput(window)
    capture.Update()
    output.parent.mkdir(parents=True, exist_ok=True)
    writer = vtk.vtkPNGWriter()
    writer.SetFileName(str(output))
    writer.SetInputConnection(capture.GetOutputPort())
    writer.Write()
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the public data folder")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    image = read_volume(args.data / "pyradiomics" / "lung2_image.nrrd")
    mask = read_mask(args.data / "pyradiomics" / "lung2_label.nrrd", image)
    saved = load_model(RADIOMICS_MODEL)
    heatmap = contribution_map(saved, image, mask, device="cpu")  # no clinical values: the training medians
    print(f"heatmap: {heatmap.method}, range {heatmap.value_range}")
    print(render(image, mask, heatmap, args.output))


if __name__ == "__main__":
    main()
