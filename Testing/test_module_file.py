"""ResponsePredictor.py, the Slicer module file, outside Slicer.

The file needs Slicer's Qt application to be imported for real, which we cannot install. So it is
checked two ways: by reading its syntax tree (it compiles, it names engine functions and
parameter-node fields that exist), and, with slicer-core, by importing it with the Qt-only parts
of Slicer stubbed and running its logic on real MRML nodes, the engine in a real background process.
The widget itself is exercised by the module's self-test inside Slicer; the .ui by test_ui.py.
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

from ResponsePredictorLib.resources import resource_path, sample_case

REPO_ROOT = Path(__file__).resolve().parents[1]
MODULE_FILE = REPO_ROOT / "ResponsePredictor" / "ResponsePredictor.py"
LIB_DIR = REPO_ROOT / "ResponsePredictor" / "ResponsePredictorLib"
TREE = ast.parse(MODULE_FILE.read_text(), filename=str(MODULE_FILE))


def module_path(module: str) -> Path:
    """The file of ResponsePredictorLib.<module> (a dotted name; a package's __init__.py)."""
    path = LIB_DIR.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def top_level_names(module: str) -> dict[str, ast.AST]:
    """Names defined at the top of ResponsePredictorLib.<module>, read without importing it."""
    tree = ast.parse(module_path(module).read_text())
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
                submodule = f"{package_module}.{alias.name}" if package_module else alias.name
                if module_path(submodule).is_file():  # a module of the package, not a name in it
                    imported[alias.asname or alias.name] = (submodule, None)
                else:
                    imported[alias.asname or alias.name] = (package_module, alias.name)
    assert imported, "the module no longer uses the engine?"
    used = [(node.value.id, node.attr) for node in ast.walk(TREE)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported]
    for local, (module, name) in imported.items():
        assert module_path(module).is_file(), f"ResponsePredictorLib.{module} does not exist"
        if name is not None:
            assert name in top_level_names(module), f"ResponsePredictorLib.{module} has no {name}"
    for local, attribute in used:
        module, name = imported[local]
        definitions = top_level_names(module)
        if name is None:
            assert attribute in definitions, f"ResponsePredictorLib.{module} has no {attribute}"
        elif isinstance(definitions[name], ast.ClassDef):
            assert attribute in class_members(definitions[name]), f"{name} has no {attribute}"


def test_parameter_node_fields_used_by_the_module_exist():
    wrapper = next(node for node in TREE.body if isinstance(node, ast.ClassDef)
                   and any(ast.unparse(decorator) == "parameterNodeWrapper" for decorator in node.decorator_list))
    fields = class_members(wrapper)
    used = {node.attr for node in ast.walk(TREE)
            if isinstance(node, ast.Attribute) and ast.unparse(node.value) in ("self._parameterNode", "parameters")}
    used -= {"connectGui", "disconnectGui"}
    assert {"inputVolume", "seedPoint", "roi", "inputSegmentation", "segmentId", "outputSegmentation",
            "outputTable", "outputHeatmap", "heatmapOpacity", "predictionModel"} <= used
    assert used <= fields, f"not parameter-node fields: {used - fields}"


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
    stub("slicer.i18n", tr=lambda text: text, translate=lambda context, text: text)
    stub("slicer.parameterNodeWrapper", parameterNodeWrapper=lambda cls: cls, Choice=lambda choices: choices,
         WithinRange=lambda low, high: (low, high))
    stub("slicer.parameterNodeWrapper.guiConnectors", GuiConnector=Base, parameterNodeGuiConnector=lambda cls: cls)
    stub("slicer.ScriptedLoadableModule", ScriptedLoadableModule=Base, ScriptedLoadableModuleWidget=Base,
         ScriptedLoadableModuleLogic=Base, ScriptedLoadableModuleTest=Base)
    spec = importlib.util.spec_from_file_location("ResponsePredictor", MODULE_FILE)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def parameters_for(module, scene, **values):
    """What the parameter node holds, as plain attributes (the wrapper needs the application)."""
    defaults = {"inputVolume": None, "seedPoint": None, "roi": None, "inputSegmentation": None, "segmentId": "",
                "segmentationModel": "nsclc-ct-tumor-seeded", "preset": module.PRESET_FROM_MODEL,
                "predictionModel": resource_path("Models", "nsclc_os_ct"), "heatmapMethod": "none",
                "device": "cpu", "heatmapOpacity": 0.6, "outputSegmentation": None, "outputTable": None,
                "outputHeatmap": None}
    return types.SimpleNamespace(**{**defaults, **values})


def test_logic_segments_then_predicts_from_markups_in_a_background_process(module, scene, monkeypatch):
    import slicer
    from ResponsePredictorLib.slicer_module import nodes as mrml
    from ResponsePredictorLib.volume import read_mask, read_volume

    rendering = slicer.vtkSlicerVolumeRenderingLogic()
    rendering.SetMRMLScene(scene)
    monkeypatch.setattr(slicer, "modules", types.SimpleNamespace(
        volumerendering=types.SimpleNamespace(logic=lambda: rendering)), raising=False)
    image = read_volume(sample_case().image)
    truth = read_mask(sample_case().mask, image).array > 0
    scan = mrml.volume_to_node(image, scene, "CT")
    k, j, i = (float(np.mean(axis)) for axis in np.nonzero(truth))
    matrix = np.reshape(image.direction, (3, 3)) * np.array(image.spacing)
    lps = np.array(image.origin) + matrix @ np.array([i, j, k])
    seed = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "click")
    seed.AddControlPoint(-lps[0], -lps[1], lps[2])  # RAS, as the user's click
    parameters = parameters_for(module, scene, inputVolume=scan, seedPoint=seed)
    logic = module.ResponsePredictorLogic()

    run = logic.startRun(parameters, "segment")
    try:
        assert run.wait(300) == 0, run.log()
        outputs = logic.loadRun(run, parameters)
    finally:
        run.cleanup()
    found = mrml.labelmap_from_segmentation(parameters.outputSegmentation, scan).volume.array > 0
    assert np.count_nonzero(found) == np.count_nonzero(outputs.mask.array)
    assert 2 * np.count_nonzero(found & truth) / (np.count_nonzero(found) + np.count_nonzero(truth)) > 0.5
    assert parameters.outputTable is None  # the segment step computes no features

    # Predict on that segmentation: the same tumor goes back to the engine, a table comes out.
    run = logic.startRun(parameters, "predict", covariates={"age": 68, "Tstage": 2, "Nstage": 0, "Mstage": 0,
                                                           "Histology": "adenocarcinoma"})
    try:
        np.testing.assert_array_equal(read_mask(run.request.mask, image).array > 0, found)
        assert run.wait(300) == 0, run.log()
        outputs = logic.loadRun(run, parameters)
    finally:
        run.cleanup()
    assert "survival" in outputs.prediction and outputs.heatmap is None
    assert parameters.outputTable.GetNumberOfRows() >= len(outputs.features)


@pytest.mark.parametrize("has_packaging", [False, True], ids=["slicer-5.10", "slicer-5.12"])
def test_install_asks_first_then_runs_the_plan(module, monkeypatch, has_packaging, tmp_path):
    import slicer.util
    from packaging.requirements import Requirement

    calls = []
    missing = [Requirement("PyWavelets>=1.6"), Requirement("monai>=1.4")]
    monkeypatch.setattr(module.installation, "missing_requirements", lambda: missing)
    monkeypatch.setattr(module.installation, "torch_missing", lambda: False)
    monkeypatch.setattr(slicer.util, "pip_install", lambda arguments: calls.append(("pip_install", arguments)))
    if has_packaging:
        monkeypatch.setitem(sys.modules, "slicer.packaging", types.SimpleNamespace(
            pip_ensure=lambda requirements, **options: calls.append(("pip_ensure", [str(r) for r in requirements]))))
    else:
        monkeypatch.setitem(sys.modules, "slicer.packaging", None)  # an import of it raises ImportError
    logic = module.ResponsePredictorLogic()

    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", lambda *args, **kwargs: False)
    with pytest.raises(RuntimeError, match="declined"):
        logic.installDependencies()
    assert calls == []

    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", lambda *args, **kwargs: True)
    with pytest.raises(RuntimeError, match="still missing"):  # the fake pip installed nothing
        logic.installDependencies()
    plain = "pip_ensure" if has_packaging else "pip_install"
    assert calls == [(plain, ["PyWavelets>=1.6", "monai>=1.4"])]

    calls.clear()  # offline: everything through pip_install from the folder
    with pytest.raises(RuntimeError, match="still missing"):
        logic.installDependencies(wheelFolder=str(tmp_path))
    assert [call[0] for call in calls] == ["pip_install"]
    assert all(call[1][:3] == ["--no-index", "--find-links", str(tmp_path)] for call in calls)


# --- packaging: the catalog entry and the extension's metadata agree with the files ---------------


def test_catalog_entry_has_the_schemas_required_fields_and_cmakes_dependencies():
    import json

    entry = json.loads((REPO_ROOT / "ResponsePredictor.json").read_text())
    schema = json.loads((REPO_ROOT / "Testing" / "Data" / "slicer-extension-catalog-entry-schema-v1.0.1.json").read_text())
    assert all(entry.get(field) for field in schema["required"])
    cmake = (REPO_ROOT / "CMakeLists.txt").read_text()
    depends = re.search(r'set\(EXTENSION_DEPENDS "([^"]*)"\)', cmake).group(1).split()
    assert entry["build_dependencies"] == depends  # the index builds what CMake needs, no more


def test_icon_and_screenshot_urls_name_files_in_the_repository():
    cmake = (REPO_ROOT / "CMakeLists.txt").read_text()
    prefix = re.search(r'set\(EXTENSION_HOMEPAGE "https://github.com/([^"]+)"\)', cmake).group(1)
    for field in ("ICONURL", "SCREENSHOTURLS"):
        for url in re.search(rf'set\(EXTENSION_{field} "([^"]+)"\)', cmake).group(1).split():
            path = url.split(f"raw.githubusercontent.com/{prefix}/main/", 1)[1]
            assert (REPO_ROOT / path).is_file(), f"EXTENSION_{field} names {path}, which is not in the repository"
