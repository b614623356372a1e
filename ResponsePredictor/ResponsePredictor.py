"""ResponsePredictor: the 3D Slicer module. It wires the panel to the engine and decides nothing.

The work happens in ``ResponsePredictorLib`` (``mrml`` for nodes, ``features`` for pyradiomics);
``ResponsePredictorLogic.process`` runs it from the Python console without the panel. Python
packages that Slicer lacks are installed on first use, after the user agrees.
"""

import importlib.util
import logging
import time
from types import SimpleNamespace
from typing import Optional, Union

import ctk
import qt
import slicer
import vtk
from slicer import (
    vtkMRMLLabelMapVolumeNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

# Python packages the engine needs beyond what Slicer ships, installed in the Makefile's order:
# pyradiomics 3.x has no wheels and builds against the numpy already installed
# (--no-build-isolation), so its build tools come first. PyYAML reads the presets.
BUILD_REQUIREMENTS = ["numpy", "versioneer", "wheel", "setuptools", "PyYAML"]
PYRADIOMICS_REQUIREMENT = "pyradiomics==3.0.1"
REQUIRED_MODULES = {"yaml": "PyYAML", "radiomics": PYRADIOMICS_REQUIREMENT}  # import name -> requirement

SAMPLE_IMAGE = ("SampleData", "nsclc070_ct.nrrd")
SAMPLE_MASK = ("SampleData", "nsclc070_tumor.nrrd")


#
# ResponsePredictor
#


class ResponsePredictor(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Response Predictor")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Quantification")]
        self.parent.dependencies = []
        self.parent.contributors = ["ResponsePredictor developers"]
        self.parent.helpText = _("""
Radiomic features of a tumor, the first step towards predicting its response to treatment from a
baseline CT, MR or PET scan. Choose the image, the tumor (a segmentation or a label map volume on the
image's grid) and a feature preset, then click Apply: one table row per segment, with pyradiomics'
feature names. On first use the module offers to install pyradiomics into Slicer's Python.
For research use only.
""")
        self.parent.acknowledgementText = _("""
Features are computed with pyradiomics (van Griethuysen et al., Cancer Research 2017; BSD-3-Clause license).
The bundled sample case is patient 070 of the NSCLC-Radiogenomics collection of The Cancer Imaging Archive
(Bakr et al., Scientific Data 2018), licensed CC BY 3.0.
""")


#
# ResponsePredictorParameterNode
#


@parameterNodeWrapper
class ResponsePredictorParameterNode:
    """
    inputVolume - the scan to analyse.
    maskNode - the tumor: a segmentation, or a label map volume on the scan's grid.
    preset - the pyradiomics parameter file (Resources/Presets/<preset>.yaml).
    outputTable - the feature table; a new one is made when none is chosen.
    """

    inputVolume: vtkMRMLScalarVolumeNode
    maskNode: Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode, None]
    preset: str = "ct"
    outputTable: vtkMRMLTableNode


#
# ResponsePredictorWidget
#


class ResponsePredictorWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)  # needed for parameter node observation
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        self.ui = self._buildGui()
        self.logic = ResponsePredictorLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.initializeParameterNode()

    def _buildGui(self) -> SimpleNamespace:
        # Built in code for now; a .ui file with SlicerParameterName properties replaces this later.
        section = ctk.ctkCollapsibleButton()
        section.text = _("Radiomic features")
        self.layout.addWidget(section)
        form = qt.QFormLayout(section)

        def nodeSelector(toolTip: str, *, canAdd: bool = False, noneText: str = "") -> slicer.qMRMLNodeComboBox:
            # Node types come from the parameter node's annotations when it is connected.
            selector = slicer.qMRMLNodeComboBox()
            selector.selectNodeUponCreation = True
            selector.addEnabled = canAdd
            selector.renameEnabled = canAdd
            selector.removeEnabled = False
            selector.noneEnabled = bool(noneText)
            selector.noneDisplay = noneText
            selector.showHidden = False
            selector.setMRMLScene(slicer.mrmlScene)
            selector.toolTip = toolTip
            return selector

        ui = SimpleNamespace(
            inputSelector=nodeSelector(_("The CT, MR or PET scan to analyse.")),
            maskSelector=nodeSelector(_("The tumor: a segmentation, or a label map volume on the scan's grid.")),
            presetComboBox=qt.QComboBox(),
            outputSelector=nodeSelector(_("Table for the features, one row per segment."), canAdd=True,
                                        noneText=_("Create new table")),
            applyButton=qt.QPushButton(_("Apply")),
        )
        ui.presetComboBox.toolTip = _("pyradiomics settings: a preset for the image modality, or 'ibsi'.")
        form.addRow(_("Input volume:"), ui.inputSelector)
        form.addRow(_("Tumor:"), ui.maskSelector)
        form.addRow(_("Feature preset:"), ui.presetComboBox)
        form.addRow(_("Output table:"), ui.outputSelector)
        form.addRow(ui.applyButton)
        self.layout.addStretch(1)
        return ui

    def cleanup(self) -> None:
        self.removeObservers()

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
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            from ResponsePredictorLib.features import available_presets
            from slicer.parameterNodeWrapper.guiConnectors import QComboBoxToStringableConnector

            # The presets are files, so the combo box gets its choices here rather than from a
            # Choice annotation fixed when this file is imported.
            presets = QComboBoxToStringableConnector(self.ui.presetComboBox, available_presets())
            self._parameterNodeGuiTag = self._parameterNode.connectParametersToGui({
                "inputVolume": self.ui.inputSelector,
                "maskNode": self.ui.maskSelector,
                "preset": presets,
                "outputTable": self.ui.outputSelector,
            })
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            self._checkCanApply()

    def _checkCanApply(self, caller=None, event=None) -> None:
        ready = bool(self._parameterNode and self._parameterNode.inputVolume and self._parameterNode.maskNode)
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = _("Compute the features") if ready else _("Choose an input volume and a tumor")

    def onApplyButton(self) -> None:
        if self.logic.missingRequirements():
            with slicer.util.tryWithErrorDisplay(_("Could not install the Python packages ResponsePredictor needs.")):
                self.logic.installDependencies(confirm=True)
            if self.logic.missingRequirements():
                return
        with slicer.util.tryWithErrorDisplay(_("Failed to compute the radiomic features."), waitCursor=True):
            parameters = self._parameterNode
            table = self.logic.process(parameters.inputVolume, parameters.maskNode, parameters.preset,
                                       parameters.outputTable)
            parameters.outputTable = table
            showTable(table)


def showTable(table: vtkMRMLTableNode) -> None:
    layoutManager = slicer.app.layoutManager()
    if layoutManager:
        layoutManager.setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView)
    slicer.app.applicationLogic().GetSelectionNode().SetActiveTableID(table.GetID())
    slicer.app.applicationLogic().PropagateTableSelection()


#
# ResponsePredictorLogic
#


class ResponsePredictorLogic(ScriptedLoadableModuleLogic):
    """Computation without the panel; from the Python console:

    logic = slicer.util.getModuleLogic("ResponsePredictor")
    table = logic.process(getNode("CT"), getNode("Segmentation"), "ct")
    """

    def getParameterNode(self) -> ResponsePredictorParameterNode:
        return ResponsePredictorParameterNode(super().getParameterNode())

    @staticmethod
    def missingRequirements() -> list:
        importlib.invalidate_caches()  # see packages that pip installed since the last look
        return [requirement for module, requirement in REQUIRED_MODULES.items()
                if importlib.util.find_spec(module) is None]

    def installDependencies(self, confirm: bool = True) -> None:
        """Install pyradiomics and PyYAML into Slicer's Python, asking the user first when ``confirm``."""
        missing = self.missingRequirements()
        if not missing:
            return
        if confirm and not slicer.util.confirmOkCancelDisplay(
            _("ResponsePredictor needs these Python packages: {packages}.\n\n"
              "Install them into Slicer's Python now? pyradiomics is compiled during installation, "
              "which needs a C compiler and takes a few minutes.").format(packages=", ".join(missing)),
            _("ResponsePredictor - Install Python Packages"),
        ):
            raise RuntimeError("The Python packages were not installed (declined); features need them.")
        # One consent above covers both steps, so neither asks again.
        # "from slicer import packaging" rather than "import slicer.packaging", which would make
        # "slicer" a local name in this whole method.
        try:
            from slicer import packaging  # Slicer 5.12 and later
        except ImportError:
            slicer.util.pip_install(" ".join(BUILD_REQUIREMENTS))
        else:
            packaging.pip_ensure(BUILD_REQUIREMENTS, prompt_install=False, skip_in_testing=False,
                                 requester="ResponsePredictor")
        # pip_ensure takes requirements only; the build flag needs pip_install.
        slicer.util.pip_install(f"--no-build-isolation {PYRADIOMICS_REQUIREMENT}")
        still_missing = self.missingRequirements()
        if still_missing:
            raise RuntimeError(
                f"pip finished but {', '.join(still_missing)} cannot be imported; its output is in the Python console."
            )

    def process(
        self,
        inputVolume: vtkMRMLScalarVolumeNode,
        maskNode: Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode],
        preset: str = "ct",
        outputTable: Optional[vtkMRMLTableNode] = None,
    ) -> vtkMRMLTableNode:
        """Features of each segment (or label) of ``maskNode`` in ``inputVolume``, as a table node.

        Rows are named after the volume, with the segment's name when there are several segments.
        """
        missing = self.missingRequirements()
        if missing:
            raise RuntimeError(f"Missing Python packages: {', '.join(missing)}. Call installDependencies() first.")
        from ResponsePredictorLib import mrml
        from ResponsePredictorLib.features import FeatureExtractor

        started = time.perf_counter()
        image = mrml.volume_from_node(inputVolume)
        labelMap = mrml.mask_from_node(maskNode, inputVolume)
        results = FeatureExtractor.from_preset(preset).extract_labels(image, labelMap.volume)
        name = inputVolume.GetName()
        rows = [(name if len(results) == 1 else f"{name}_{labelMap.names[result.label]}", result)
                for result in results]
        table = mrml.features_to_table(rows, inputVolume.GetScene(), outputTable)
        elapsed = time.perf_counter() - started
        logging.info(f"ResponsePredictor: {len(rows)} row(s) of {preset} features in {elapsed:.1f} s")
        return table


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
        """The bundled case, with its tumor as a label map and as a segmentation, gives one row each."""
        import numpy as np
        from ResponsePredictorLib.resources import resource_path

        logic = ResponsePredictorLogic()
        logic.installDependencies(confirm=False)
        self.delayDisplay("Loading the sample case")
        volume = slicer.util.loadVolume(str(resource_path(*SAMPLE_IMAGE)))
        labelMap = slicer.util.loadLabelVolume(str(resource_path(*SAMPLE_MASK)))
        segmentation = slicer.util.loadSegmentation(str(resource_path(*SAMPLE_MASK)))

        self.delayDisplay("Computing features")
        fromLabelMap = logic.process(volume, labelMap, "ct")
        fromSegmentation = logic.process(volume, segmentation, "ct")

        for table in (fromLabelMap, fromSegmentation):
            self.assertEqual(table.GetNumberOfRows(), 1)
            self.assertEqual(table.GetColumnName(0), "case")
        # The surface mesh encloses about as much as the voxels do (within 10% for a tumor this size).
        voxels = np.count_nonzero(slicer.util.arrayFromVolume(labelMap))
        voxelVolume = voxels * float(np.prod(labelMap.GetSpacing()))
        meshVolume = float(slicer.util.arrayFromTableColumn(fromLabelMap, "original_shape_MeshVolume")[0])
        self.assertAlmostEqual(meshVolume / voxelVolume, 1.0, delta=0.1)
        # A segmentation exported onto the scan gives the same mask, hence the same features.
        names = [fromLabelMap.GetColumnName(column) for column in range(1, fromLabelMap.GetNumberOfColumns())]
        self.assertGreater(len(names), 100)
        np.testing.assert_array_equal(
            [slicer.util.arrayFromTableColumn(fromLabelMap, name)[0] for name in names],
            [slicer.util.arrayFromTableColumn(fromSegmentation, name)[0] for name in names],
        )
        self.delayDisplay("Test passed")
