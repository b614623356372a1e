"""ResponsePredictor.py, the Slicer module file, outside Slicer.

The file needs Slicer's Qt application to be imported for real, which we cannot install. So it is
checked two ways: by reading its syntax tree (it compiles, it names engine functions and
parameter-node fields that exist, its pyradiomics pin is the Makefile's), and, with slicer-core, by
importing it with the Qt-only parts of Slicer stubbed and running its logic on real MRML nodes.
The widget itself is exercised by the module's self-test inside Slicer.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from ResponsePredictorLib.resources import resource_path

REPO_ROOT = Path(__file__).resolve().parents[1]
MODULE_FILE = REPO_ROOT / "ResponsePredictor" / "ResponsePredictor.py"
LIB_DIR = REPO_ROOT / "ResponsePredictor" / "ResponsePredictorLib"
TREE = ast.parse(MODULE_FILE.read_text(), filename=str(MODULE_FILE))


def top_level_names(module: str) -> dict[str, ast.AST]:
    """Names defined at the top of ResponsePredictorLib/<module>.py, read without importing it."""
    tree = ast.parse((LIB_DIR / f"{module}.py").read_text())
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            names.update({target.id: node for target in node.targets if isinstance(target, ast.Name)})
        elif isinstance(node, (ast.ImportFrom, ast.Import)):
            names.update({(alias.asname or alias.name): node for alias in node.names})
    return names


def class_members(node: ast.ClassDef) -> set[str]:
    members = set()
    for item in node.body:
        if isinstance(item, ast.FunctionDef):
            members.add(item.name)
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            members.add(item.target.id)
    return members


def test_module_file_compiles():
    compile(MODULE_FILE.read_text(), str(MODULE_FILE), "exec")


def test_module_file_defines_what_slicer_looks_for():
    classes = {node.name: [ast.unparse(base) for base in node.bases]
               for node in TREE.body if isinstance(node, ast.ClassDef)}
    assert classes["ResponsePredictor"] == ["ScriptedLoadableModule"]
    assert "ScriptedLoadableModuleWidget" in classes["ResponsePredictorWidget"]
    assert classes["ResponsePredictorLogic"] == ["ScriptedLoadableModuleLogic"]
    assert classes["ResponsePredictorTest"] == ["ScriptedLoadableModuleTest"]


def test_engine_names_used_by_the_module_exist():
    """Every ``from ResponsePredictorLib.x import y`` and every ``x.y`` / ``Y.z`` on them is defined."""
    imported: dict[str, tuple[str, str | None]] = {}  # local name -> (engine module, name in it or None)
    for node in ast.walk(TREE):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ResponsePredictorLib"):
            package_module = node.module.partition(".")[2]
            for alias in node.names:
                if package_module:
                    imported[alias.asname or alias.name] = (package_module, alias.name)
                else:
                    imported[alias.asname or alias.name] = (alias.name, None)
    assert imported, "the module no longer uses the engine?"
    used = [(node.value.id, node.attr) for node in ast.walk(TREE)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported]
    for local, (module, name) in imported.items():
        assert (LIB_DIR / f"{module}.py").is_file(), f"ResponsePredictorLib.{module} does not exist"
        if name is not None:
            assert name in top_level_names(module), f"ResponsePredictorLib.{module} has no {name}"
    for local, attribute in used:
        module, name = imported[local]
        definitions = top_level_names(module)
        if name is None:
            assert attribute in definitions, f"ResponsePredictorLib.{module} has no {attribute}"
        elif isinstance(definitions[name], ast.ClassDef):
            assert attribute in class_members(definitions[name]), f"{name} has no {attribute}"


def test_parameter_node_fields_used_by_the_widget_exist():
    wrapper = next(node for node in TREE.body if isinstance(node, ast.ClassDef)
                   and any(ast.unparse(decorator) == "parameterNodeWrapper" for decorator in node.decorator_list))
    fields = class_members(wrapper)
    wrapper_methods = {"connectGui", "connectParametersToGui", "disconnectGui"}
    used = set()
    for node in ast.walk(TREE):
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) in ("self._parameterNode", "parameters"):
            used.add(node.attr)
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("connectParametersToGui"):
            used.update(key.value for key in node.args[0].keys)
    used -= wrapper_methods
    assert {"inputVolume", "maskNode", "preset", "outputTable"} <= used
    assert used <= fields, f"not parameter-node fields: {used - fields}"


def test_pyradiomics_pin_is_the_makefiles():
    makefile_pin = re.search(r"pyradiomics==([\w.]+)", (REPO_ROOT / "Makefile").read_text()).group(1)
    pins = [node.value.value for node in ast.walk(TREE) if isinstance(node, ast.Assign)
            and ast.unparse(node.targets[0]) == "PYRADIOMICS_REQUIREMENT"]
    assert pins == [f"pyradiomics=={makefile_pin}"]


# --- the logic, run on slicer-core nodes ---------------------------------------------------------


@pytest.fixture
def module(monkeypatch):
    """ResponsePredictor.py imported with Slicer's Qt-only modules replaced by empty stand-ins."""
    slicer = pytest.importorskip("slicer", reason="slicer-core is not installed (pip install slicer-core)")
    if not hasattr(slicer, "vtkMRMLScene"):
        pytest.skip("the installed 'slicer' package is not slicer-core")

    def stub(name: str, **attributes) -> None:
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attributes))

    class Base:
        def __init__(self, *args, **kwargs) -> None:
            pass

    stub("qt")
    stub("ctk")
    stub("slicer.i18n", tr=lambda text: text, translate=lambda context, text: text)
    stub("slicer.parameterNodeWrapper", parameterNodeWrapper=lambda cls: cls)
    stub("slicer.ScriptedLoadableModule", ScriptedLoadableModule=Base, ScriptedLoadableModuleWidget=Base,
         ScriptedLoadableModuleLogic=Base, ScriptedLoadableModuleTest=Base)
    spec = importlib.util.spec_from_file_location("ResponsePredictor", MODULE_FILE)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.fixture
def scene():
    import slicer

    scene = slicer.vtkMRMLScene()
    color_logic = slicer.vtkMRMLColorLogic()  # the default colour tables the application creates
    color_logic.SetMRMLScene(scene)
    yield scene
    color_logic.SetMRMLScene(None)
    scene.Clear(1)


def test_logic_process_gives_the_engines_features(module, scene):
    pytest.importorskip("radiomics")
    import slicer
    from ResponsePredictorLib import mrml
    from ResponsePredictorLib.features import FeatureExtractor
    from ResponsePredictorLib.volume import read_mask, read_volume

    image = read_volume(resource_path(*module.SAMPLE_IMAGE))
    mask = read_mask(resource_path(*module.SAMPLE_MASK), image)
    # Two segments: the tumor's lower and upper halves.
    tumor = mask.array > 0
    middle = int(np.median(np.nonzero(tumor)[0]))
    labels = np.where(tumor, np.where(np.arange(mask.shape[0])[:, None, None] < middle, 1, 2), 0).astype(np.uint8)
    volume_node = mrml.volume_to_node(image, scene, "CT")
    labelmap_node = mrml.volume_to_node(mask.with_array(labels), scene, "halves", labelmap=True)
    segmentation_node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Tumor")
    assert slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(labelmap_node, segmentation_node)
    for index, name in enumerate(["Lower", "Upper"]):
        segmentation_node.GetSegmentation().GetNthSegment(index).SetName(name)

    logic = module.ResponsePredictorLogic()
    assert logic.missingRequirements() == []
    table = logic.process(volume_node, segmentation_node, "ct")

    expected = FeatureExtractor.from_preset("ct").extract_labels(image, mask.with_array(labels))
    assert table.GetNumberOfRows() == 2
    assert [table.GetCellText(row, 0) for row in range(2)] == ["CT_Lower", "CT_Upper"]
    for row, result in enumerate(expected):
        values = [table.GetTable().GetValue(row, column).ToDouble() for column in range(1, table.GetNumberOfColumns())]
        np.testing.assert_array_equal(values, list(result.features.values()))

    # A label map volume with one label: one row, named after the volume, into the same table.
    tumor_node = mrml.volume_to_node(mask, scene, "tumor", labelmap=True)
    assert logic.process(volume_node, tumor_node, "ct", table) is table
    assert table.GetNumberOfRows() == 1 and table.GetCellText(0, 0) == "CT"


def test_logic_refuses_to_run_without_its_packages(module, monkeypatch):
    monkeypatch.setattr(module, "REQUIRED_MODULES", {"no_such_module_for_responsepredictor": "nothing==1"})
    with pytest.raises(RuntimeError, match="Missing Python packages: nothing==1"):
        module.ResponsePredictorLogic().process(None, None)


@pytest.mark.parametrize("has_packaging", [False, True], ids=["slicer-5.10", "slicer-5.12"])
def test_install_asks_first_then_builds_pyradiomics_after_its_build_tools(module, monkeypatch, has_packaging):
    import slicer.util

    calls = []
    monkeypatch.setattr(module, "REQUIRED_MODULES", {"no_such_module_for_responsepredictor": "pyradiomics==0"})
    monkeypatch.setattr(slicer.util, "pip_install", lambda requirements: calls.append(("pip_install", requirements)))
    if has_packaging:
        monkeypatch.setitem(sys.modules, "slicer.packaging", types.SimpleNamespace(
            pip_ensure=lambda requirements, **options: calls.append(("pip_ensure", requirements, options))))
    else:
        monkeypatch.setitem(sys.modules, "slicer.packaging", None)  # an import of it raises ImportError
    logic = module.ResponsePredictorLogic()

    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", lambda *args, **kwargs: False)
    with pytest.raises(RuntimeError, match="declined"):
        logic.installDependencies()
    assert calls == []

    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", lambda *args, **kwargs: True)
    with pytest.raises(RuntimeError, match="cannot be imported"):  # the fake pip installed nothing
        logic.installDependencies()
    if has_packaging:
        assert calls[0] == ("pip_ensure", module.BUILD_REQUIREMENTS,
                            {"prompt_install": False, "skip_in_testing": False, "requester": "ResponsePredictor"})
    else:
        assert calls[0] == ("pip_install", " ".join(module.BUILD_REQUIREMENTS))
    assert calls[1:] == [("pip_install", f"--no-build-isolation {module.PYRADIOMICS_REQUIREMENT}")]
