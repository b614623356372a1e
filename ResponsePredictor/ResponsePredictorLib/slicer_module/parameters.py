"""The module's parameter node (what the panel shows and a saved scene keeps) and its GUI connectors.

Slicer's ``parameterNodeWrapper`` types every field and validates what is written into it. The
prediction model is a ``str`` model reference (``panel.model_reference``): "default", a bundled
model's folder name, or a user's folder path; never the extension's own install path, so that a
saved scene opens on another computer. Its path line edit shows the folder and writes back a
reference, through ``ModelFolderConnector``.
"""

from typing import Annotated, Optional

import slicer
from slicer import (
    vtkMRMLMarkupsFiducialNode,
    vtkMRMLMarkupsROINode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)
from slicer.parameterNodeWrapper import (
    Choice,
    Validator,
    WithinRange,
    findFirstAnnotation,
    parameterNodeWrapper,
    parameterPack,
    splitAnnotations,
)
from slicer.parameterNodeWrapper.guiConnectors import GuiConnector, parameterNodeGuiConnector

from ..features.settings import available_presets
from . import background, display, panel

SEGMENTATION_MODELS = background.segmentation_model_ids()  # the catalog's default first


class ModelReference(Validator):
    """A prediction model as ``panel.model_reference`` records it (and the mark its connector looks for)."""

    def __repr__(self) -> str:
        return "ModelReference()"

    def validate(self, value) -> None:
        if not isinstance(value, str) or value != panel.model_reference(value):
            raise ValueError(f"A prediction model is recorded as 'default', a bundled model's name or an absolute "
                             f"folder path (panel.model_reference); got {value!r}.")


@parameterPack
class OtherScan:
    """A row of the panel's other scans: name (PET, CT, MR_T1...), volume and, optionally, the scan's own
    tumor segmentation, bound in the .ui as ``scan1.name``...; outputSegmentation and outputHeatmap are
    where a run put that scan's carried tumor and heatmap (refilled by the next run, not in the panel)."""

    name: str = ""
    volume: Optional[vtkMRMLScalarVolumeNode]
    segmentation: Optional[vtkMRMLSegmentationNode]
    outputSegmentation: Optional[vtkMRMLSegmentationNode]
    outputHeatmap: Optional[vtkMRMLScalarVolumeNode]


@parameterNodeWrapper
class ResponsePredictorParameterNode:
    """
    inputVolume - the scan. seedPoint / roi - where the tumor is (the ROI wins when both are set).
    refineInteractively - each tumor point (seedPoint, which then keeps every point) and not-tumor point
    (notTumorPoints) re-segments at once in a background session (refinement.py); runs take that tumor.
    inputSegmentation, segmentId - an existing tumor segment, used as it is: nothing is segmented and a
    click or box is ignored, except by the segment step (panel.tumor_source).
    segmentationModel - catalog id. preset - radiomics preset, or the one the model records.
    predictionModel - "default", a bundled model's name, or a model folder. heatmapMethod, device,
    heatmapOpacity - as named. outputSegmentation, outputTable, outputHeatmap - where results go
    (made when empty; a chosen segmentation gets the tumor as one more segment).
    scan1, scan2, scan3 - the case's other scans (panel.SCAN_ROWS), co-registered with inputVolume.
    peritumoral - distances (mm) as typed, "5,10": features of the tissue around the tumor, on every
    scan. peritumoralBody - CT shells kept inside the body. deepFeatures - also the tumor's deep features
    (segmentationModel's encoder averaged over the tumor); a model that records them has them anyway.
    """

    inputVolume: vtkMRMLScalarVolumeNode
    seedPoint: Optional[vtkMRMLMarkupsFiducialNode]
    roi: Optional[vtkMRMLMarkupsROINode]
    refineInteractively: bool = False
    notTumorPoints: Optional[vtkMRMLMarkupsFiducialNode]
    inputSegmentation: Optional[vtkMRMLSegmentationNode]
    segmentId: str = ""
    segmentationModel: Annotated[str, Choice(SEGMENTATION_MODELS)] = SEGMENTATION_MODELS[0]
    preset: Annotated[str, Choice([panel.PRESET_FROM_MODEL, *available_presets()])] = panel.PRESET_FROM_MODEL
    predictionModel: Annotated[str, ModelReference()] = panel.DEFAULT_MODEL
    heatmapMethod: Annotated[str, Choice(panel.HEATMAP_CHOICES)] = background.DEFAULT_HEATMAP
    device: Annotated[str, Choice(background.DEVICES)] = background.DEVICES[0]
    heatmapOpacity: Annotated[float, WithinRange(0.0, 1.0)] = display.DEFAULT_OPACITY
    outputSegmentation: Optional[vtkMRMLSegmentationNode]
    outputTable: Optional[vtkMRMLTableNode]
    outputHeatmap: Optional[vtkMRMLScalarVolumeNode]
    scan1: OtherScan
    scan2: OtherScan
    scan3: OtherScan
    peritumoral: str = ""
    peritumoralBody: bool = False
    deepFeatures: bool = False


@parameterNodeGuiConnector
class SegmentSelectorToSegmentIdConnector(GuiConnector):
    """Binds a segment ID (str) to a qMRMLSegmentSelectorWidget, which Slicer has no connector for."""

    @staticmethod
    def canRepresent(widget, datatype) -> bool:
        return type(widget) == slicer.qMRMLSegmentSelectorWidget and datatype == str

    @staticmethod
    def create(widget, datatype):
        return SegmentSelectorToSegmentIdConnector(widget) if datatype == str else None

    def __init__(self, widget):
        super().__init__()
        self._widget = widget

    def _connect(self):
        self._widget.connect("currentSegmentChanged(QString)", self.changed)

    def _disconnect(self):
        self._widget.disconnect("currentSegmentChanged(QString)", self.changed)

    def widget(self):
        return self._widget

    def read(self) -> str:
        return self._widget.currentSegmentID() or ""

    def write(self, value: str) -> None:
        self._widget.setCurrentSegmentID(value)


@parameterNodeGuiConnector
class ModelFolderConnector(GuiConnector):
    """Shows a model reference as its folder in a ctkPathLineEdit; a folder chosen there is read back
    as a reference (a bundled model's folder by its name)."""

    @staticmethod
    def canRepresent(widget, datatype) -> bool:
        return (type(widget).__name__ == "ctkPathLineEdit"
                and findFirstAnnotation(splitAnnotations(datatype)[1], ModelReference) is not None)

    @staticmethod
    def create(widget, datatype):
        return ModelFolderConnector(widget) if ModelFolderConnector.canRepresent(widget, datatype) else None

    def __init__(self, widget):
        super().__init__()
        self._widget = widget
        self._shown = ("", "")  # (reference, the path shown for it)

    def _connect(self):
        self._widget.currentPathChanged.connect(self.changed)

    def _disconnect(self):
        self._widget.currentPathChanged.disconnect(self.changed)

    def widget(self):
        return self._widget

    def read(self) -> str:
        path = self._widget.currentPath
        return self._shown[0] if path == self._shown[1] else panel.model_reference(path)

    def write(self, value: str) -> None:
        try:
            path = str(background.model_folder(value))
        except Exception:  # a user's folder that is gone: show what the scene recorded
            path = value
        self._shown = (value, path)
        self._widget.currentPath = path
