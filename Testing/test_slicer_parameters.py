"""The module's parameter node with Slicer's real parameterNodeWrapper (5.10.0 and 5.12.3) on slicer-core.

What a saved scene keeps: the prediction model by its id when it is bundled (the extension's folder
differs from one computer to the next), a user's model by its path; paths given as str or Path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core is not installed (pip install slicer-core)")

from ResponsePredictorLib.resources import resource_path  # noqa: E402
from ResponsePredictorLib.slicer_module import panel  # noqa: E402

BUNDLED = "nsclc_os_ct"


@pytest.fixture
def parameter_node(slicer_python, scene, monkeypatch):
    """The module's parameter node as its logic makes it: ScriptedLoadableModuleLogic.getParameterNode
    (Slicer's own, looking in ``slicer.mrmlScene``) wrapped in the module's parameterNodeWrapper class."""
    from ResponsePredictorLib.slicer_module.parameters import ResponsePredictorParameterNode

    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
    logic = type("ResponsePredictorLogic", (slicer_python.scripted.ScriptedLoadableModuleLogic,), {})()
    return ResponsePredictorParameterNode(logic.getParameterNode())


def test_the_old_path_field_refused_a_str_and_the_model_field_takes_references(slicer_python, parameter_node):
    # What the issue found: a pathlib.Path field (as the module had) refuses a str with a TypeError.
    wrapper = slicer_python.wrapper

    @wrapper.parameterNodeWrapper
    class OldParameters:
        predictionModel: Path

    old = OldParameters(slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScriptedModuleNode"))
    with pytest.raises(TypeError, match="Value must be of type"):
        old.predictionModel = "/a/model"

    assert parameter_node.predictionModel == "default"
    parameter_node.predictionModel = BUNDLED
    assert parameter_node.predictionModel == BUNDLED
    parameter_node.predictionModel = "/data/my_model"
    assert parameter_node.predictionModel == "/data/my_model"
    # What is recorded is a reference: never a Path object, never the bundled model's install path.
    with pytest.raises(TypeError):
        parameter_node.predictionModel = Path("/data/my_model")
    with pytest.raises(ValueError, match="model_reference"):
        parameter_node.predictionModel = str(resource_path("Models", BUNDLED))


@pytest.mark.parametrize("given", [f"{BUNDLED}", "bundled path as str", "bundled path as Path"])
def test_model_references_turn_bundled_paths_into_ids(given):
    folder = resource_path("Models", BUNDLED)
    value = {"bundled path as str": str(folder), "bundled path as Path": folder}.get(given, given)
    assert panel.model_reference(value) == BUNDLED
    assert panel.model_reference(None) == panel.model_reference("") == panel.model_reference("default") == "default"
    assert panel.model_reference(Path("/data/my_model")) == panel.model_reference("/data/my_model") == "/data/my_model"
    # A scene saved by an earlier version kept the bundled model's path in the installation that saved it.
    assert panel.model_reference(f"/old/Slicer/extension/Resources/Models/{BUNDLED}") == BUNDLED


def test_a_saved_scene_refers_to_the_bundled_model_by_id(slicer_python, parameter_node, tmp_path):
    from ResponsePredictorLib.slicer_module.parameters import ModelFolderConnector, ResponsePredictorParameterNode

    # The user browses to the bundled model's folder in the panel: the connector records its id.
    path_line_edit = make_path_line_edit(slicer_python)
    connector = slicer_python.wrapper.createGuiConnector(path_line_edit, parameter_node.dataType("predictionModel"))
    assert isinstance(connector, ModelFolderConnector)
    connector.write(parameter_node.predictionModel)
    assert Path(path_line_edit.currentPath) == resource_path("Models", BUNDLED)  # "default" shown as its folder
    assert connector.read() == "default"  # shown and read back unchanged: no churn
    connector.write(str(tmp_path / "my_model"))  # a user's model...
    assert path_line_edit.currentPath == str(tmp_path / "my_model") and connector.read() == str(tmp_path / "my_model")
    path_line_edit.currentPath = str(resource_path("Models", BUNDLED))  # ...then the bundled folder, browsed to
    parameter_node.predictionModel = connector.read()
    assert parameter_node.predictionModel == BUNDLED

    scene = slicer.mrmlScene
    scene.SetURL(str(tmp_path / "scene.mrml"))
    assert scene.Commit()
    saved = (tmp_path / "scene.mrml").read_text()
    assert str(resource_path()) not in saved and BUNDLED in saved

    reloaded = slicer.vtkMRMLScene()
    reloaded.SetURL(str(tmp_path / "scene.mrml"))
    assert reloaded.Connect()
    node = next(reloaded.GetNthNodeByClass(index, "vtkMRMLScriptedModuleNode")
                for index in range(reloaded.GetNumberOfNodesByClass("vtkMRMLScriptedModuleNode"))
                if reloaded.GetNthNodeByClass(index, "vtkMRMLScriptedModuleNode").GetAttribute("ModuleName")
                == "ResponsePredictor")
    parameters = ResponsePredictorParameterNode(node)
    assert parameters.predictionModel == BUNDLED
    from ResponsePredictorLib.slicer_module.background import model_folder

    assert model_folder(parameters.predictionModel) == resource_path("Models", BUNDLED)


def make_path_line_edit(slicer_python):
    """A ctkPathLineEdit as the connector uses it: ``currentPath`` and its change signal."""
    import ctk

    signal = type("Signal", (), {"connect": lambda self, slot: None, "disconnect": lambda self, slot: None})()
    widget = ctk.ctkPathLineEdit()
    widget.currentPath, widget.currentPathChanged = "", signal
    return widget


def test_run_settings_come_from_the_parameter_node_field_by_field(parameter_node, scene):
    scan = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    parameter_node.inputVolume = scan
    parameter_node.predictionModel = BUNDLED
    parameter_node.heatmapOpacity = 0.25
    settings = panel.RunSettings.from_parameters(parameter_node)
    assert settings.inputVolume is scan and settings.predictionModel == BUNDLED and settings.heatmapOpacity == 0.25
    # Not-tumor points only refine interactively (refinement.py): no run takes them. The rows of other
    # scans become one field, the scans they name.
    assert set(panel.RunSettings.names()) - {"scans"} == (
        set(type(parameter_node).allParameters) - {"notTumorPoints", *panel.SCAN_ROWS})
    assert settings.scans == () and settings.peritumoral == () and not settings.peritumoralBody
    assert not settings.deepFeatures  # a model that records deep features has them computed anyway


def test_rows_of_other_scans_become_the_runs_scans_and_a_saved_scene_keeps_them(parameter_node, scene, tmp_path):
    from ResponsePredictorLib.errors import InputError
    from ResponsePredictorLib.slicer_module.parameters import ResponsePredictorParameterNode

    scan, pet = (scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name) for name in ("CT", "PET AC"))
    own = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "tumor on PET")
    parameter_node.inputVolume = scan
    parameter_node.scan2.name = " PET "  # as the panel's line edit and selectors write them
    parameter_node.scan2.volume = pet
    parameter_node.scan2.segmentation = own
    parameter_node.peritumoral = "5, 10"
    parameter_node.peritumoralBody = True
    parameter_node.deepFeatures = True
    settings = panel.RunSettings.from_parameters(parameter_node)
    assert settings.scans == (panel.ScanSettings("PET", pet, own),)  # the empty rows are left out
    assert settings.peritumoral == (5.0, 10.0) and settings.peritumoralBody and settings.deepFeatures

    scene.SetURL(str(tmp_path / "scene.mrml"))
    assert scene.Commit()
    reloaded = slicer.vtkMRMLScene()
    reloaded.SetURL(str(tmp_path / "scene.mrml"))
    assert reloaded.Connect()
    node = next(reloaded.GetNthNodeByClass(index, "vtkMRMLScriptedModuleNode")
                for index in range(reloaded.GetNumberOfNodesByClass("vtkMRMLScriptedModuleNode")))
    assert ResponsePredictorParameterNode(node).deepFeatures
    row = ResponsePredictorParameterNode(node).scan2
    assert row.name == " PET " and row.volume.GetName() == "PET AC" and row.segmentation.GetName() == "tumor on PET"

    parameter_node.scan2.name = ""
    with pytest.raises(InputError, match="Name the other scan 'PET AC'"):
        panel.RunSettings.from_parameters(parameter_node)
    parameter_node.scan2.name, parameter_node.scan2.volume = "PET", None
    with pytest.raises(InputError, match="'PET' has no volume"):
        panel.RunSettings.from_parameters(parameter_node)


def test_every_parameter_has_a_default_the_wrapper_accepts(parameter_node):
    for name in type(parameter_node).allParameters:
        getattr(parameter_node, name)  # reading writes the default first: it must pass the validators
