"""ResponsePredictor: the 3D Slicer module. It wires the panel to ResponsePredictorLib.slicer_module, which
decides; ``ResponsePredictorLogic.process`` runs a case from the Python console."""

from __future__ import annotations  # the annotations name the engine's types, not imported on an old Slicer

import logging
import sys
from pathlib import Path

import qt
import slicer
import vtk
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.util import VTKObservationMixin

from ResponsePredictorLib.slicer_module import compatibility

UNSUPPORTED = compatibility.unsupported_reason(sys.version_info[:2],
                                               compatibility.slicer_version(getattr(slicer, "app", None)))
if UNSUPPORTED is None:
    from slicer.i18n import tr as _, translate

    from ResponsePredictorLib.slicer_module import background, display, first_use, panel, point_lists, refinement
    from ResponsePredictorLib.slicer_module import results, self_test, views
    from ResponsePredictorLib.slicer_module.parameters import ResponsePredictorParameterNode
else:  # an older Slicer: the module loads and says why it cannot run, rather than failing on its Python
    logging.error(UNSUPPORTED)
    _, translate = str, (lambda context, text: text)

README_URL = "https://github.com/ResponsePredictor/SlicerResponsePredictor#readme"
POLL_INTERVAL_MS = 500


class ResponsePredictor(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Response Predictor")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Quantification")]
        self.parent.dependencies = ["Markups", "Segmentations", "VolumeRendering"]
        self.parent.contributors = ["ResponsePredictor developers"]
        self.parent.helpText = (f"<b>{UNSUPPORTED}</b><br><br>" if UNSUPPORTED else "") + _("""
Predicts a tumor's response to treatment from a baseline CT, MR or PET scan. Click the tumor (or draw a box,
or choose a segmentation) and press Apply: the tumor is segmented (MONAI), its radiomic features computed, the
outcome model predicts with an interval, and a heatmap shows where in the tumor the prediction comes from.
For research use only: not a medical device. See the <a href="{url}">documentation</a>.""").format(url=README_URL)
        self.parent.acknowledgementText = _("""
Segmentation with MONAI; features as pyradiomics defines them (van Griethuysen et al., Cancer Research 2017).
The sample case is patient 070 of NSCLC-Radiogenomics (TCIA; Bakr et al., Scientific Data 2018; CC BY 3.0).
The default models' training data and licenses are in their model cards.""")


class ResponsePredictorWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._runs = None  # results.RunMonitor: a run outlives leaving the module
        self._timer = qt.QTimer()
        self._timer.setInterval(POLL_INTERVAL_MS)
        self._timer.connect("timeout()", self._pollRun)

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        if UNSUPPORTED:
            label = qt.QLabel(UNSUPPORTED)
            label.wordWrap = True
            self.layout.addWidget(label)
            return
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/ResponsePredictor.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = ResponsePredictorLogic()
        self._points = refinement.Refinement(self, qt.QTimer(), qt.QTimer.singleShot, self._updateButtons)
        self._runs = results.RunMonitor(self, self.logic.finishRun,
                                        lambda: self._parameterNode or self.logic.getParameterNode())
        # Only tables and heatmaps this module made can be chosen as outputs: they are refilled.
        self.ui.outputTableSelector.addAttribute("vtkMRMLTableNode", display.OUTPUT_ATTRIBUTE, "table")
        self.ui.outputHeatmapSelector.addAttribute("vtkMRMLScalarVolumeNode", display.OUTPUT_ATTRIBUTE, "heatmap")

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        slicer.app.connect("aboutToQuit()", self._endRun)
        for button, step in ((self.ui.applyButton, "all"), (self.ui.segmentButton, "segment"),
                             (self.ui.predictButton, "predict"), (self.ui.explainButton, "explain")):
            button.connect("clicked(bool)", lambda checked, step=step: self.onRun(step))
        self.ui.cancelButton.connect("clicked(bool)", lambda checked: self._runs.cancel())
        self.ui.clearTumorButton.connect("clicked(bool)", lambda checked: self._points.clear())
        self.ui.seedSelector.connect("nodeAddedByUser(vtkMRMLNode*)", point_lists.make_tumor_list)
        self.ui.notTumorSelector.connect("nodeAddedByUser(vtkMRMLNode*)", point_lists.make_not_tumor_list)
        self.ui.undoPointButton.connect("clicked(bool)", lambda checked: self._points.undo())
        self.ui.installButton.connect("clicked(bool)", self.onInstall)
        self.ui.showTableButton.connect("clicked(bool)", self.onShowTable)
        self.ui.shownScanComboBox.connect("activated(int)", lambda index: views.show_scan(
            slicer.mrmlScene, self._parameterNode, self.ui.shownScanComboBox.itemText(index)))
        self.ui.heatmapOpacitySlider.connect("valueChanged(double)", self.onOpacityChanged)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self._endRun()
        self.removeObservers()
        if self.logic:
            self._points.end(wait=True)
            slicer.app.disconnect("aboutToQuit()", self._endRun)

    def enter(self) -> None:
        if self.logic:
            self.initializeParameterNode()

    def exit(self) -> None:
        if self.logic:
            self.setParameterNode(None)  # a run goes on: its results are loaded into its nodes when it ends

    def onSceneStartClose(self, caller, event) -> None:
        self._runs.discard(_("Cancelled: the scene was closed."))  # the timer's ticks see it end
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            self._parameterNode.inputVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")

    def setParameterNode(self, inputParameterNode) -> None:
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
        self._points.follow(parameters)
        if parameters is None:
            return
        views.follow_scans(self.ui.shownScanComboBox, parameters)  # rows renamed or given another volume
        states = panel.button_states(parameters, running=self._runs.running, can_undo=self._points.can_undo)
        self.ui.applyButton.enabled, self.ui.segmentButton.enabled = states.apply, states.segment
        self.ui.predictButton.enabled, self.ui.explainButton.enabled = states.predict, states.explain
        self.ui.cancelButton.enabled, self.ui.undoPointButton.enabled = states.cancel, states.undo

    def onRun(self, step: str) -> None:
        if not self._ensureDependencies():
            return
        with slicer.util.tryWithErrorDisplay(_("Could not start the analysis."), waitCursor=True):
            self._runs.start(self.logic.startRun(panel.RunSettings.from_parameters(self._parameterNode), step))
            self._timer.start()
        self._updateButtons()

    def _pollRun(self) -> None:
        """The timer's tick: progress, or the results once the run ends (also when the module was left)."""
        if not self._runs.tick():
            self._timer.stop()
            self.ui.progressBar.visible = False
            self._updateButtons()

    def _endRun(self) -> None:
        """Slicer quits or the module goes: end the run now, loading nothing (no tick comes after)."""
        self._timer.stop()
        if self._runs is not None:
            self._runs.discard(_("Cancelled: Slicer is closing."), wait=True)
            self.ui.progressBar.visible = False

    def showProgress(self, percent, text) -> None:
        self.ui.progressBar.visible = True
        self.ui.progressBar.maximum = 0 if percent is None else 100  # 0: busy, no percentage yet
        self.ui.progressBar.value = percent or 0
        self.ui.statusLabel.text = text

    def showStatus(self, text) -> None:
        self.ui.statusLabel.text = text

    def showError(self, text, details) -> None:
        slicer.util.errorDisplay(text, detailedText=details)

    def showResults(self, outputs, settings) -> None:
        views.offer_scans(self.ui.shownScanComboBox, self._parameterNode or self.logic.getParameterNode())
        if not outputs.features:  # the segment step alone
            return
        view = panel.results_view(outputs, background.model_card(settings.predictionModel))
        self.ui.predictionLabel.text, self.ui.intervalLabel.text = view.headline, view.interval
        self.ui.intendedUseLabel.text, self.ui.contributionsLabel.text = view.intended_use, view.contributions
        self.ui.scansLabel.text, self.ui.analysisLabel.text = view.scans, view.analysis
        self.ui.resultsCollapsibleButton.collapsed = False

    def onOpacityChanged(self, opacity: float) -> None:
        if self._parameterNode:
            views.set_opacity(slicer.mrmlScene, self._parameterNode, opacity)

    def onShowTable(self) -> None:
        if self._parameterNode and self._parameterNode.outputTable:
            views.show_table(slicer.app, self._parameterNode.outputTable)

    def onInstall(self) -> None:
        folder = self.ui.wheelFolderPathLineEdit.currentPath or None
        with slicer.util.tryWithErrorDisplay(_("Could not install the Python packages."), waitCursor=True):
            self.logic.installDependencies(confirm=True, wheelFolder=folder)

    def _ensureDependencies(self) -> bool:
        if self.logic.missingDependencies():
            self.onInstall()
        return not self.logic.missingDependencies()


class ResponsePredictorLogic(ScriptedLoadableModuleLogic):
    """Runs cases without the panel. From the Python console: ``outputs, nodes = slicer.util.getModuleLogic(
    "ResponsePredictor").process(getNode("CT"), seed=getNode("F"), scans={"PET": getNode("PET")})``, then ``nodes.table``..."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self, parent)
        if UNSUPPORTED:
            raise RuntimeError(UNSUPPORTED)

    def getParameterNode(self):
        return ResponsePredictorParameterNode(super().getParameterNode())

    @staticmethod
    def _places():  # in Slicer, runs start through its console launcher, in its temporary folder
        return {"launch": slicer.util.launchConsoleProcess, "work_root": slicer.app.temporaryPath} \
            if hasattr(slicer, "app") else {}

    @staticmethod
    def _idle():  # waiting from the Python console, Slicer goes on handling its events
        return getattr(getattr(slicer, "app", None), "processEvents", None)

    def startRun(self, settings, step: str, covariates=None) -> results.CaseJob:
        """Start ``step`` for ``settings`` (a panel.RunSettings) in a background process; returns its CaseJob."""
        first_use.require_dependencies()
        return results.start_case(settings, step, covariates, **self._places())

    def finishRun(self, job) -> tuple[background.CaseOutputs, display.CaseNodes]:
        """Load a finished run into its nodes: returns (CaseOutputs, CaseNodes)."""
        return results.finish_case(job, slicer.modules.volumerendering.logic())

    def process(self, inputVolume, seed=None, roi=None, segmentation=None, step: str = "all", covariates=None,
                timeout=None, **settings) -> tuple[background.CaseOutputs, display.CaseNodes]:
        """Run ``step`` on a case and wait while Slicer stays responsive; returns (CaseOutputs, CaseNodes).
        Each call makes new output nodes unless given (outputSegmentation=, outputTable=, outputHeatmap=);
        ``settings``: the parameter node's fields (segmentId, predictionModel as str or Path, device...)."""
        job = self.startRun(panel.RunSettings.for_console(inputVolume=inputVolume, seedPoint=seed, roi=roi,
                                                          inputSegmentation=segmentation, **settings),
                            step, covariates)
        try:
            job.run.wait(timeout, idle=self._idle())
            return self.finishRun(job)
        finally:
            job.run.cleanup()

    def startCohort(self, manifest, outputFolder, **options) -> background.CohortRun:
        """Start a manifest of cases in the background, as ``responsepredictor run`` (resumable); returns
        the run at once: ``poll()``, ``progress()``, ``cancel()``, its log at ``log_path``."""
        first_use.require_dependencies()
        return background.CohortRun.start(manifest, outputFolder, **options, **self._places())

    def runCohort(self, manifest, outputFolder, wait: bool = True, timeout=None, **options) -> Path | background.CohortRun:
        """``startCohort``; with ``wait``, wait while Slicer stays responsive (progress in the log) and
        return the cohort page, else return the run at once. A failure says where the log is."""
        run = self.startCohort(manifest, outputFolder, **options)
        if not wait:
            return run
        try:
            run.wait(timeout, idle=panel.progress_logger(run, logging.info, self._idle()))
            return run.result()
        finally:
            run.cleanup()

    @staticmethod
    def missingDependencies() -> list:
        """The engine's Python packages that are not installed yet (torch included), as text."""
        return first_use.missing_dependencies()

    @staticmethod
    def installDependencies(confirm: bool = True, wheelFolder=None) -> None:
        """Install what is missing, after the user agrees when ``confirm``; offline from ``wheelFolder``."""
        first_use.install_dependencies(confirm, wheelFolder)


class ResponsePredictorTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_SampleCase()

    def test_SampleCase(self):
        """The bundled case, from a click on its tumor: segmentation, prediction, heatmap nodes."""
        if UNSUPPORTED:
            return self.delayDisplay(f"Skipped: {UNSUPPORTED}")
        self_test.sample_case_from_a_click(self, ResponsePredictorLogic())
