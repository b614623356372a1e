"""ResponsePredictor: the 3D Slicer module. It wires the panel to the engine and decides nothing.

Decisions live in ``ResponsePredictorLib.slicer_module``: ``background`` (what to run in the background
process, reading its results), ``installation`` (first use), ``nodes``/``display`` (MRML nodes).
``ResponsePredictorLogic.process`` runs a case from the Python console without the panel.
"""

import logging
import pathlib
from typing import Annotated, Optional

import qt
import slicer
import vtk
from slicer import (
    vtkMRMLMarkupsFiducialNode,
    vtkMRMLMarkupsROINode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.parameterNodeWrapper.guiConnectors import GuiConnector, parameterNodeGuiConnector
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from ResponsePredictorLib import prediction_text
from ResponsePredictorLib.slicer_module import background, installation
from ResponsePredictorLib.features.settings import available_presets
from ResponsePredictorLib.resources import resource_path, sample_case

README_URL = "https://github.com/ResponsePredictor/SlicerResponsePredictor#readme"
PRESET_FROM_MODEL = "as the model records"
HEATMAP_CHOICES = ("contribution", "occlusion", background.NO_HEATMAP)
SEGMENTATION_MODELS = background.segmentation_model_ids()  # the catalog's default first
POLL_INTERVAL_MS = 500


#
# ResponsePredictor
#


class ResponsePredictor(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Response Predictor")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Quantification")]
        self.parent.dependencies = ["Markups", "Segmentations", "VolumeRendering"]
        self.parent.contributors = ["ResponsePredictor developers"]
        self.parent.helpText = _("""
Predicts a tumor's response to treatment from a baseline CT, MR or PET scan. Click the tumor (or draw
a box, or choose a segmentation) and press Apply: the tumor is segmented (MONAI), its radiomic
features computed (pyradiomics), the outcome model predicts with an interval, and a heatmap shows
where in the tumor the prediction comes from, over the scan and in 3D. Each step can run alone.
For research use only: not a medical device. See the <a href="{url}">documentation</a>.
""").format(url=README_URL)
        self.parent.acknowledgementText = _("""
Segmentation with MONAI; features with pyradiomics (van Griethuysen et al., Cancer Research 2017).
The bundled sample case is patient 070 of NSCLC-Radiogenomics (TCIA; Bakr et al., Scientific Data
2018; CC BY 3.0). The default models' training data and licenses are in their model cards.
""")


#
# ResponsePredictorParameterNode
#


@parameterNodeWrapper
class ResponsePredictorParameterNode:
    """
    inputVolume - the scan. seedPoint / roi - where the tumor is (the ROI wins when both are set).
    inputSegmentation, segmentId - an existing tumor segment, used instead of segmenting.
    segmentationModel - catalog id. preset - pyradiomics preset, or the one the model records.
    predictionModel - outcome model folder. heatmapMethod, device, heatmapOpacity - as named.
    outputSegmentation, outputTable, outputHeatmap - where results go (created when empty).
    """

    inputVolume: vtkMRMLScalarVolumeNode
    seedPoint: Optional[vtkMRMLMarkupsFiducialNode]
    roi: Optional[vtkMRMLMarkupsROINode]
    inputSegmentation: Optional[vtkMRMLSegmentationNode]
    segmentId: str = ""
    segmentationModel: Annotated[str, Choice(SEGMENTATION_MODELS)] = SEGMENTATION_MODELS[0]
    preset: Annotated[str, Choice([PRESET_FROM_MODEL, *available_presets()])] = PRESET_FROM_MODEL
    predictionModel: pathlib.Path = resource_path("Models", background.DEFAULT_OUTCOME_MODEL)
    heatmapMethod: Annotated[str, Choice(HEATMAP_CHOICES)] = "contribution"
    device: Annotated[str, Choice(background.DEVICES)] = "auto"
    heatmapOpacity: Annotated[float, WithinRange(0.0, 1.0)] = 0.6
    outputSegmentation: Optional[vtkMRMLSegmentationNode]
    outputTable: Optional[vtkMRMLTableNode]
    outputHeatmap: Optional[vtkMRMLScalarVolumeNode]


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


#
# ResponsePredictorWidget
#


class ResponsePredictorWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._run = None
        self._runStep = None
        self._timer = qt.QTimer()
        self._timer.setInterval(POLL_INTERVAL_MS)
        self._timer.connect("timeout()", self._pollRun)

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/ResponsePredictor.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = ResponsePredictorLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        for button, step in ((self.ui.applyButton, "all"), (self.ui.segmentButton, "segment"),
                             (self.ui.predictButton, "predict"), (self.ui.explainButton, "explain")):
            button.connect("clicked(bool)", lambda checked, step=step: self.onRun(step))
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)
        self.ui.installButton.connect("clicked(bool)", self.onInstall)
        self.ui.showTableButton.connect("clicked(bool)", self.onShowTable)
        self.ui.heatmapOpacitySlider.connect("valueChanged(double)", self.onOpacityChanged)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()
        self._timer.stop()
        if self._run is not None:
            self._run.cleanup()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        self.setParameterNode(None)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            self._parameterNode.inputVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")

    def setParameterNode(self, inputParameterNode: Optional[ResponsePredictorParameterNode]) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)
            self._updateButtons()

    def _updateButtons(self, caller=None, event=None) -> None:
        parameters = self._parameterNode
        if parameters is None:
            return
        idle = self._run is None
        hasScan = parameters.inputVolume is not None
        hasTumor = parameters.inputSegmentation is not None or parameters.outputSegmentation is not None
        hasClick = parameters.seedPoint is not None or parameters.roi is not None
        self.ui.applyButton.enabled = idle and hasScan and (hasClick or parameters.inputSegmentation is not None)
        self.ui.segmentButton.enabled = idle and hasScan and hasClick
        self.ui.predictButton.enabled = idle and hasScan and hasTumor
        self.ui.explainButton.enabled = idle and hasScan and hasTumor
        self.ui.cancelButton.enabled = not idle

    def onRun(self, step: str) -> None:
        if not self._ensureDependencies():
            return
        with slicer.util.tryWithErrorDisplay(_("Could not start the analysis."), waitCursor=True):
            self._run = self.logic.startRun(self._parameterNode, step)
            self._runStep = step
            self.ui.progressBar.visible = True
            self.ui.statusLabel.text = _("Starting...")
            self._timer.start()
        self._updateButtons()

    def _pollRun(self) -> None:
        run = self._run
        if run.poll() is None:
            self.ui.statusLabel.text = run.last_line()
            return
        self._timer.stop()
        self._run = None
        self.ui.progressBar.visible = False
        try:
            outputs = self.logic.loadRun(run, self._parameterNode)
            self.ui.statusLabel.text = _("Done.") + "".join(f"\n{warning}" for warning in outputs.warnings)
            self._showResults(outputs)
        except background.JobFailed as failure:
            self.ui.statusLabel.text = str(failure)
            if not run.cancelled:
                slicer.util.errorDisplay(_("The analysis failed: {error}").format(error=failure),
                                         detailedText=failure.details)
        except Exception as error:
            logging.exception("ResponsePredictor: loading the results failed")
            slicer.util.errorDisplay(_("Could not show the results: {error}").format(error=error),
                                     detailedText=run.log())
        finally:
            run.cleanup()
            self._updateButtons()

    def onCancel(self) -> None:
        if self._run is not None:
            self._run.cancel()
            self.ui.statusLabel.text = _("Cancelling...")

    def _showResults(self, outputs: background.CaseOutputs) -> None:
        if not outputs.features:  # the segment step alone
            return
        big, interval = prediction_text.prediction_headline(outputs.kind, outputs.prediction, outputs.model)
        self.ui.predictionLabel.text = big
        self.ui.intervalLabel.text = interval
        card = background.model_card(self._parameterNode.predictionModel)
        self.ui.intendedUseLabel.text = "\n\n".join(filter(None, [
            card.get("name", ""), card.get("intended_use", ""), card.get("outcome", {}).get("definition", "")]))
        self.ui.contributionsLabel.text = background.format_contributions(
            prediction_text.ranked_contributions(outputs.contributions))
        self.ui.resultsCollapsibleButton.collapsed = False

    def onOpacityChanged(self, opacity: float) -> None:
        parameters = self._parameterNode
        if parameters and parameters.outputHeatmap and parameters.inputVolume:
            from ResponsePredictorLib.slicer_module import display

            display.show_heatmap_in_slice_views(slicer.mrmlScene, parameters.inputVolume,
                                                     parameters.outputHeatmap, opacity)

    def onShowTable(self) -> None:
        table = self._parameterNode.outputTable
        if table is None:
            return
        slicer.app.layoutManager().setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView)
        slicer.app.applicationLogic().GetSelectionNode().SetActiveTableID(table.GetID())
        slicer.app.applicationLogic().PropagateTableSelection()

    def onInstall(self) -> None:
        folder = self.ui.wheelFolderPathLineEdit.currentPath or None
        with slicer.util.tryWithErrorDisplay(_("Could not install the Python packages."), waitCursor=True):
            self.logic.installDependencies(confirm=True, wheelFolder=folder)

    def _ensureDependencies(self) -> bool:
        if not self.logic.missingDependencies():
            return True
        self.onInstall()
        return not self.logic.missingDependencies()


#
# ResponsePredictorLogic
#


class ResponsePredictorLogic(ScriptedLoadableModuleLogic):
    """Runs cases without the panel. From the Python console:

    logic = slicer.util.getModuleLogic("ResponsePredictor")
    outputs, parameters = logic.process(getNode("CT"), seed=getNode("F"))  # blocks until done
    print(outputs.prediction, parameters.outputSegmentation, parameters.outputTable, parameters.outputHeatmap)
    """

    def getParameterNode(self) -> ResponsePredictorParameterNode:
        return ResponsePredictorParameterNode(super().getParameterNode())

    @staticmethod
    def missingDependencies() -> list:
        """Requirements not installed yet (torch included), as text."""
        missing = [str(requirement) for requirement in installation.missing_requirements()]
        return missing + ([str(installation.TORCH)] if installation.torch_missing() else [])

    def installDependencies(self, confirm: bool = True, wheelFolder: Optional[str] = None) -> None:
        """Install what is missing, after the user agrees when ``confirm``; offline from ``wheelFolder``."""
        missing = installation.missing_requirements()
        torch = installation.torch_missing()
        if not missing and not torch:
            return
        if confirm and not slicer.util.confirmOkCancelDisplay(
            installation.consent_text(missing, torch, wheelFolder), _("ResponsePredictor - Install Python packages")
        ):
            raise RuntimeError("The Python packages were not installed (declined); the analysis needs them.")
        if torch and not wheelFolder:
            self._installTorch()
        for step in installation.install_plan(missing, wheelFolder, with_torch=torch and bool(wheelFolder)):
            self._pipInstall(step)
        still = self.missingDependencies()
        if still:
            raise RuntimeError(f"pip finished but {', '.join(still)} is still missing; see the Python console.")

    @staticmethod
    def _installTorch() -> None:
        try:
            import PyTorchUtils
        except ImportError:
            raise RuntimeError("torch is missing and the PyTorch extension is not installed: install 'PyTorch' "
                               "from the Extension Manager, restart Slicer and try again.") from None
        if PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=True) is None:
            raise RuntimeError("torch was not installed; the segmentation needs it.")

    @staticmethod
    def _pipInstall(step: installation.PipStep) -> None:
        try:
            from slicer.packaging import pip_ensure  # Slicer 5.12 and later: checks, then installs what is missing
        except ImportError:
            pip_ensure = None
        if pip_ensure is not None and step.plain:
            from packaging.requirements import Requirement

            pip_ensure([Requirement(text) for text in step.requirements], prompt_install=False,
                       skip_in_testing=False, requester="ResponsePredictor")
        else:
            slicer.util.pip_install(step.arguments())

    def startRun(self, parameters: ResponsePredictorParameterNode, step: str,
                 covariates: Optional[dict] = None) -> background.BackgroundRun:
        """Start ``step`` for the parameter node's inputs in a background process (returns at once)."""
        from ResponsePredictorLib.slicer_module import nodes

        scan = parameters.inputVolume
        clicked = parameters.seedPoint is not None or parameters.roi is not None
        mask = None
        if step in ("predict", "explain") or (step == "all" and not clicked):
            # The tumor as it is now: the chosen segment, else the first segment of this module's output.
            segmentation = parameters.inputSegmentation or parameters.outputSegmentation
            chosen = parameters.segmentId if segmentation is parameters.inputSegmentation else ""
            if segmentation is not None:
                segmentId = chosen or segmentation.GetSegmentation().GetNthSegmentID(0)
                mask = nodes.labelmap_from_segmentation(segmentation, scan, [segmentId]).volume
        return background.BackgroundRun.start(
            nodes.volume_from_node(scan), mask,
            step=step,
            seed=nodes.point_from_markups(parameters.seedPoint) if parameters.seedPoint and not parameters.roi else None,
            roi=nodes.box_from_roi(parameters.roi) if parameters.roi else None,
            segmentation_model=parameters.segmentationModel,
            preset=None if parameters.preset == PRESET_FROM_MODEL else parameters.preset,
            model=str(parameters.predictionModel),
            heatmap=parameters.heatmapMethod,
            device=parameters.device,
            covariates=covariates or {},
        )

    def loadRun(self, run: background.BackgroundRun,
                parameters: ResponsePredictorParameterNode) -> background.CaseOutputs:
        """Show a finished run's results and record their nodes in the parameter node."""
        from ResponsePredictorLib.slicer_module import display

        outputs = run.result()
        shown = display.show_case(
            outputs, parameters.inputVolume,
            display.CaseNodes(parameters.outputSegmentation, parameters.outputTable, parameters.outputHeatmap),
            volume_rendering_logic=slicer.modules.volumerendering.logic(), opacity=parameters.heatmapOpacity,
        )
        parameters.outputSegmentation, parameters.outputTable, parameters.outputHeatmap = (
            shown.segmentation, shown.table, shown.heatmap)
        return outputs

    def process(self, inputVolume: vtkMRMLScalarVolumeNode, seed: Optional[vtkMRMLMarkupsFiducialNode] = None,
                roi: Optional[vtkMRMLMarkupsROINode] = None, segmentation: Optional[vtkMRMLSegmentationNode] = None,
                step: str = "all", covariates: Optional[dict] = None, timeout: Optional[float] = None, **settings):
        """Run ``step`` and wait for it: returns (CaseOutputs, the parameter node with the output nodes).

        ``settings``: any other parameter-node field (predictionModel, heatmapMethod, device, ...).
        """
        parameters = self.getParameterNode()
        parameters.inputVolume, parameters.seedPoint, parameters.roi = inputVolume, seed, roi
        parameters.inputSegmentation = segmentation
        for name, value in settings.items():
            setattr(parameters, name, value)
        run = self.startRun(parameters, step, covariates)
        try:
            run.wait(timeout)
            return self.loadRun(run, parameters), parameters
        finally:
            run.cleanup()

    @staticmethod
    def runCohort(manifest: str, outputFolder: str, model: str = "default", heatmap: str = "contribution",
                  workers: Optional[int] = None, scheduler: Optional[str] = None, report: bool = True,
                  device: str = "auto") -> pathlib.Path:
        """Run a manifest of cases as ``responsepredictor run`` does (resumable; README, Cohorts), in a
        separate process, and wait; then write the cohort report. Returns the report's index.html."""
        arguments = background.cohort_arguments(manifest, outputFolder, model=model, heatmap=heatmap, workers=workers,
                                                scheduler=scheduler, report=report, device=device)
        if background.run_engine(arguments) != 0:
            raise RuntimeError(f"The cohort run stopped before the end; see the Python console. {outputFolder} "
                               "keeps every case done: run again to go on.")
        if background.run_engine(["report", str(outputFolder)]) != 0:
            raise RuntimeError("The cohort report could not be written; see the Python console.")
        return pathlib.Path(outputFolder) / "index.html"


#
# ResponsePredictorTest
#


class ResponsePredictorTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_SampleCase()

    def test_SampleCase(self):
        """The bundled case, from a click on its tumor: segmentation, prediction, heatmap nodes."""
        import json

        import numpy as np

        logic = ResponsePredictorLogic()
        logic.installDependencies(confirm=False)
        self.delayDisplay("Loading the sample case")
        sample = sample_case()
        scan = slicer.util.loadVolume(str(sample.image))
        truth = slicer.util.arrayFromVolume(slicer.util.loadLabelVolume(str(sample.mask))) > 0
        ijk = np.mean(np.nonzero(truth), axis=1)[::-1]  # the tumor's centre, (i, j, k)
        ijkToRas = vtk.vtkMatrix4x4()
        scan.GetIJKToRASMatrix(ijkToRas)
        seed = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Tumor click")
        seed.AddControlPoint(ijkToRas.MultiplyPoint([*ijk, 1.0])[:3])
        covariates = json.loads(sample.clinical.read_text())

        self.delayDisplay("Segmenting, predicting and explaining (background process)")
        outputs, parameters = logic.process(scan, seed=seed, covariates=covariates, device="cpu", timeout=900)

        segmentation = parameters.outputSegmentation
        found = slicer.util.arrayFromSegmentBinaryLabelmap(
            segmentation, segmentation.GetSegmentation().GetNthSegmentID(0), scan) > 0
        dice = 2 * np.count_nonzero(found & truth) / (np.count_nonzero(found) + np.count_nonzero(truth))
        self.assertGreater(dice, 0.5)
        self.assertEqual(np.count_nonzero(found), np.count_nonzero(outputs.mask.array))
        self.assertIn("survival", outputs.prediction)
        table = parameters.outputTable
        features = {table.GetCellText(row, 1): float(table.GetCellText(row, 2))
                    for row in range(table.GetNumberOfRows()) if table.GetCellText(row, 0) == "feature"}
        self.assertEqual(set(features), set(outputs.features))
        heatmap = parameters.outputHeatmap
        self.assertEqual(heatmap.GetDisplayNode().GetColorNode().GetAttribute("ResponsePredictor.colormap"),
                         outputs.heatmap.colormap)
        self.assertIsNotNone(slicer.modules.volumerendering.logic().GetFirstVolumeRenderingDisplayNode(heatmap))
        composite = slicer.app.layoutManager().sliceWidget("Red").sliceLogic().GetSliceCompositeNode()
        self.assertEqual(composite.GetForegroundVolumeID(), heatmap.GetID())
        self.delayDisplay("Test passed")
