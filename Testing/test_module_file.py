"""ResponsePredictor.py, the Slicer module file, outside Slicer.

The file needs Slicer's Qt application to be imported for real, which we cannot install. So it is
checked two ways: by reading its syntax tree (it compiles, also as Python 3.9, it names engine
functions and parameter-node fields that exist, it stays thin), and, with slicer-core, by importing
it with Slicer's own parameterNodeWrapper and ScriptedLoadableModule (from Slicer's source, see
slicer_python.py) and stand-ins for the Qt widgets (panel_stand_ins.py), then driving its widget,
logic and self-test on real MRML nodes: a run left running when the user leaves the module, the scene
closed or Slicer quitting during a run, ``process()`` from the console, a cohort, first use.
The .ui itself is checked by test_ui.py.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import time
import types
import unittest
from pathlib import Path

import numpy as np
import psutil
import pytest

from conftest import REPO_ROOT

slicer = pytest.importorskip("slicer", reason="slicer-core is not installed (pip install slicer-core)")

from panel_stand_ins import FakeApp, FakeRun, case_outputs, fake_start, load_module_file  # noqa: E402
from panel_stand_ins import raising_error_display  # noqa: E402

from ResponsePredictorLib.resources import resource_path, sample_case  # noqa: E402

MODULE_FILE = REPO_ROOT / "ResponsePredictor" / "ResponsePredictor.py"
LIB_DIR = REPO_ROOT / "ResponsePredictor" / "ResponsePredictorLib"
PARAMETERS_FILE = LIB_DIR / "slicer_module" / "parameters.py"
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
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
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


# --- the file, read -------------------------------------------------------------------------------


def test_module_file_compiles_and_parses_on_an_old_slicers_python():
    compile(MODULE_FILE.read_text(), str(MODULE_FILE), "exec")
    # Slicer 5.8 and older have Python 3.9: the file must load there to say it needs Slicer 5.10.
    ast.parse(MODULE_FILE.read_text(), feature_version=(3, 9))


def test_module_file_is_thin():
    assert len(MODULE_FILE.read_text().splitlines()) < 300


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
    assert {"background", "panel", "results", "refinement", "point_lists", "compatibility"} <= set(imported)
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
    tree = ast.parse(PARAMETERS_FILE.read_text())
    wrapper = next(node for node in tree.body if isinstance(node, ast.ClassDef)
                   and any(ast.unparse(decorator) == "parameterNodeWrapper" for decorator in node.decorator_list))
    fields = class_members(wrapper)
    used = {node.attr for node in ast.walk(TREE)
            if isinstance(node, ast.Attribute) and ast.unparse(node.value) in ("self._parameterNode", "parameters")}
    used -= {"connectGui", "disconnectGui"}
    assert {"inputVolume", "outputTable"} <= used
    assert used <= fields, f"not parameter-node fields: {used - fields}"


# --- the module, imported with Slicer's own Python -------------------------------------------------


@pytest.fixture
def app(tmp_path):
    return FakeApp(tmp_path / "slicer-temp")


@pytest.fixture
def module(slicer_python, monkeypatch, app, scene):
    """ResponsePredictor.py inside a stand-in Slicer 5.10 or 5.12 (slicer_python's tag) with ``scene``."""
    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
    monkeypatch.setattr(slicer.util, "tryWithErrorDisplay", raising_error_display)
    loaded = load_module_file(slicer_python, monkeypatch, app)
    assert loaded.UNSUPPORTED is None
    return loaded


@pytest.fixture
def errors(monkeypatch):
    shown = []
    monkeypatch.setattr(slicer.util, "errorDisplay", lambda text, **options: shown.append((text, options)))
    return shown


@pytest.fixture
def runs(monkeypatch, sample):
    """BackgroundRun.start recording fake runs; each one's results are the sample tumor's."""
    from ResponsePredictorLib.slicer_module import background

    started = []
    monkeypatch.setattr(background.BackgroundRun, "start", fake_start(started, lambda settings: case_outputs(sample[1])))
    return started


@pytest.fixture
def rendering(scene, monkeypatch):
    logic = slicer.vtkSlicerVolumeRenderingLogic()
    logic.SetMRMLScene(scene)
    monkeypatch.setattr(slicer, "modules", types.SimpleNamespace(
        volumerendering=types.SimpleNamespace(logic=lambda: logic)), raising=False)
    return logic


@pytest.fixture
def panel_widget(module, scene, sample, monkeypatch, runs, rendering, errors):
    """The module's widget set up on a scene with the sample scan and a tumor click, packages installed."""
    from panel_stand_ins import FakeUi, FakeWidget
    from ResponsePredictorLib.slicer_module import first_use, nodes, seed

    monkeypatch.setattr(first_use, "missing_dependencies", lambda: [])
    monkeypatch.setattr(slicer.util, "loadUI", lambda path: FakeWidget("ResponsePredictor"), raising=False)
    monkeypatch.setattr(slicer.util, "childWidgetVariables", lambda widget: FakeUi(), raising=False)
    scan = nodes.volume_to_node(sample[0], scene, "CT")
    click = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Tumor click")
    seed.make_single_point(click)
    click.AddControlPoint(-10.0, 20.0, 30.0)
    widget = module.ResponsePredictorWidget()
    widget.setup()
    widget._parameterNode.seedPoint = click
    assert widget._parameterNode.inputVolume is scan  # the first volume, chosen as the panel opens
    yield widget
    widget.cleanup()  # as Slicer does when the module is unloaded: its scene observers go


def test_leaving_the_module_during_a_run_loads_its_results_when_it_ends(panel_widget, module, runs, errors):
    widget = panel_widget
    widget.ui.applyButton.emit("clicked(bool)", False)
    assert len(runs) == 1 and widget._timer.isActive()
    assert widget.ui.cancelButton.enabled and not widget.ui.applyButton.enabled
    widget._pollRun()
    assert widget.ui.statusLabel.text == "Segment: Segmenting the tumor (25%)" and widget.ui.progressBar.value == 25

    widget.exit()  # the user opens another module: no parameter node in the panel any more
    assert widget._parameterNode is None
    runs[0].finish()
    widget._pollRun()  # the timer's tick: nothing raises, the results go into new nodes

    assert not errors and not widget._timer.isActive() and runs[0].cleaned
    parameters = module.ResponsePredictorLogic().getParameterNode()
    from ResponsePredictorLib.slicer_module import display

    assert display.result_segment_id(parameters.outputSegmentation) is not None
    assert parameters.outputTable is not None and parameters.outputHeatmap is not None
    assert widget.ui.statusLabel.text == "Done."
    widget.enter()  # coming back shows them
    assert widget._parameterNode.outputTable is parameters.outputTable
    assert widget.ui.applyButton.enabled and not widget.ui.cancelButton.enabled


def test_a_second_click_in_the_panel_moves_the_seed_and_the_run_uses_it(panel_widget, runs):
    click = panel_widget._parameterNode.seedPoint
    click.AddControlPoint(5.0, -6.0, 7.0)  # the user clicks the tumor again
    assert click.GetNumberOfControlPoints() == 1  # trimmed after the click (qt.QTimer.singleShot)
    panel_widget.ui.segmentButton.emit("clicked(bool)", False)
    assert runs[0].settings["seed"] == (-5.0, 6.0, 7.0)  # the new click, in LPS
    assert panel_widget.ui.clearTumorButton.connections
    panel_widget.ui.clearTumorButton.emit("clicked(bool)", False)
    assert click.GetNumberOfControlPoints() == 0 and not panel_widget.ui.segmentButton.enabled


def test_closing_the_scene_during_a_run_cancels_it_and_loads_nothing(panel_widget, scene, runs, errors):
    widget = panel_widget
    widget.ui.applyButton.emit("clicked(bool)", False)
    widget.onSceneStartClose(scene, scene.StartCloseEvent)
    # Told to stop, not waited for: the timer's next tick sees it end and cleans up.
    assert runs[0].cancelled and not runs[0].cleaned and widget._timer.isActive()
    assert widget.ui.statusLabel.text == "Cancelled: the scene was closed."
    scene.Clear(0)
    widget.onSceneEndClose(scene, scene.EndCloseEvent)
    widget._pollRun()
    assert runs[0].cleaned and not widget._timer.isActive() and not errors
    assert widget.ui.statusLabel.text == "Cancelled: the scene was closed."
    assert not scene.GetNodesByClass("vtkMRMLSegmentationNode").GetNumberOfItems()
    assert widget._parameterNode.outputSegmentation is None


def test_slicer_quitting_during_a_run_ends_it_at_once(panel_widget, app, runs, errors):
    widget = panel_widget
    widget.ui.applyButton.emit("clicked(bool)", False)
    app.emit("aboutToQuit()")  # no tick comes after: the run is ended and cleaned up now
    assert runs[0].cancelled and runs[0].cleaned and not widget._timer.isActive() and not errors
    widget.cleanup()  # the module is unloaded next: nothing left to end, nothing raises
    assert "aboutToQuit()" not in app.connections or not app.connections["aboutToQuit()"]


def test_the_opacity_slider_changes_the_heatmap_where_it_is_shown_and_nothing_else(panel_widget, scene, sample):
    from ResponsePredictorLib.slicer_module import display, nodes

    widget = panel_widget
    scan = widget._parameterNode.inputVolume
    heatmap = display.heatmap_to_volume(case_outputs(sample[1]).heatmap, scene)
    other = nodes.volume_to_node(sample[0], scene, "another scan")
    red, green = (scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode") for _ in range(2))
    display.show_heatmap_in_slice_views(scene, scan, heatmap, 0.6)
    green.SetBackgroundVolumeID(other.GetID())  # the user shows something else in one view
    green.SetForegroundVolumeID(None)
    green.SetForegroundOpacity(0.3)
    widget._parameterNode.outputHeatmap = heatmap
    widget.onOpacityChanged(0.25)
    assert (red.GetForegroundVolumeID(), red.GetForegroundOpacity()) == (heatmap.GetID(), 0.25)
    assert (green.GetBackgroundVolumeID(), green.GetForegroundVolumeID(), green.GetForegroundOpacity()) == (
        other.GetID(), None, 0.3)


def test_other_scans_in_the_panel_are_run_and_each_is_shown_over_its_own_scan(panel_widget, scene, sample, runs,
                                                                              monkeypatch, errors):
    from panel_stand_ins import engine_outputs

    from ResponsePredictorLib.slicer_module import background, display, nodes

    monkeypatch.setattr(background.BackgroundRun, "start", fake_start(runs, engine_outputs(sample[1])))
    widget, combo = panel_widget, panel_widget.ui.shownScanComboBox
    parameters = widget._parameterNode
    scan = parameters.inputVolume
    assert combo.items == ["CT (primary)"] and not combo.enabled  # one scan: nothing to choose
    pet = nodes.volume_to_node(sample[0].with_array(sample[0].array * 2.0 + 5), scene, "PET AC")
    slice_views = [scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode") for _ in range(2)]
    parameters.scan2.name, parameters.scan2.volume = "PET", pet  # as the row's line edit and selector write them
    parameters.peritumoral, parameters.peritumoralBody = "5", True
    widget.ui.applyButton.emit("clicked(bool)", False)
    sent = runs[0].settings
    assert list(sent["scans"]) == ["PET"] and sent["scans"]["PET"].mask is None
    assert sent["peritumoral"] == (5.0,) and sent["peritumoral_body"]
    runs[0].finish()
    widget._pollRun()

    assert not errors and widget.ui.statusLabel.text == "Done."
    assert widget.ui.scansLabel.text == "PET: the tumor carried from the primary scan, heatmap"
    assert widget.ui.analysisLabel.text == "Heatmap (test): ones"  # the stand-in heatmap's method and description
    row = parameters.scan2  # the run's nodes, recorded in the row: the next run refills them
    assert display.result_segment_id(row.outputSegmentation) and row.outputHeatmap is not None
    shown = {(view.GetBackgroundVolumeID(), view.GetForegroundVolumeID()) for view in slice_views}
    assert shown == {(scan.GetID(), parameters.outputHeatmap.GetID())}  # after a run, the scan, as before
    assert combo.items == ["CT (primary)", "PET: PET AC"] and combo.currentIndex == 0 and combo.enabled
    combo.activate(1)  # the user switches the slice views to the PET
    assert {(view.GetBackgroundVolumeID(), view.GetForegroundVolumeID(), view.GetForegroundOpacity())
            for view in slice_views} == {(pet.GetID(), row.outputHeatmap.GetID(), parameters.heatmapOpacity)}
    widget.onOpacityChanged(0.3)  # the opacity slider: whichever heatmap the views show
    assert {view.GetForegroundOpacity() for view in slice_views} == {0.3}
    combo.activate(0)
    assert {(view.GetBackgroundVolumeID(), view.GetForegroundVolumeID()) for view in slice_views} == shown
    combo.activate(1)
    parameters.scan2.name = "FDG"  # the row renamed: the list follows, the PET still chosen
    assert combo.items == ["CT (primary)", "FDG: PET AC"] and combo.currentIndex == 1
    combo.activate(0)
    combo.activate(1)
    assert {(view.GetBackgroundVolumeID(), view.GetForegroundVolumeID()) for view in slice_views} == {
        (pet.GetID(), row.outputHeatmap.GetID())}
    heatmap = row.outputHeatmap
    parameters.scan2.volume = scan  # another volume: the PET's results are no longer the row's, and stay
    assert parameters.scan2.outputHeatmap is None and parameters.scan2.outputSegmentation is None
    assert scene.GetNodeByID(heatmap.GetID()) is heatmap
    assert combo.items == ["CT (primary)", "FDG: CT"]
    combo.activate(1)  # the scan alone: the PET's heatmap is never shown over it
    assert {(view.GetBackgroundVolumeID(), view.GetForegroundVolumeID()) for view in slice_views} == {
        (scan.GetID(), None)}


def test_the_table_button_shows_the_results_table_in_a_table_view(panel_widget, app, scene, runs):
    app.application_logic = slicer.vtkMRMLApplicationLogic()
    app.application_logic.SetMRMLScene(scene)
    panel_widget.ui.showTableButton.emit("clicked(bool)", False)  # no table yet: nothing happens
    assert app.layouts == []
    panel_widget.ui.applyButton.emit("clicked(bool)", False)
    runs[0].finish()
    panel_widget._pollRun()
    panel_widget.ui.showTableButton.emit("clicked(bool)", False)
    assert app.layouts == [slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView]
    table = panel_widget._parameterNode.outputTable
    assert app.application_logic.GetSelectionNode().GetActiveTableID() == table.GetID()


def test_cancel_ends_the_run_without_an_error_dialog_and_a_crash_says_so(panel_widget, runs, errors, monkeypatch):
    from ResponsePredictorLib.slicer_module import background

    widget = panel_widget
    widget.ui.applyButton.emit("clicked(bool)", False)
    widget.ui.cancelButton.emit("clicked(bool)", False)
    widget._pollRun()
    assert runs[0].cancelled and not errors and widget.ui.statusLabel.text.startswith("Cancelled")

    crash = background.JobFailed("The analysis process stopped without finishing.", "the log", "crashed")
    monkeypatch.setattr(background.BackgroundRun, "start", lambda *args, **kwargs: FakeRun(failure=crash))
    widget.ui.applyButton.emit("clicked(bool)", False)
    widget._runs.job.run.finish(1)
    widget._pollRun()
    assert len(errors) == 1 and "ran out of memory" in errors[0][0]


def test_refining_at_each_point_runs_a_session_and_undo_in_the_panel(panel_widget, app, sample, monkeypatch, errors):
    from test_slicer_session import STANDIN_ENGINE
    from test_slicer_seed import place

    from ResponsePredictorLib.slicer_module import display
    from ResponsePredictorLib.slicer_module.segment_session import SegmentSession

    start = SegmentSession.start.__func__
    monkeypatch.setattr(SegmentSession, "start", classmethod(
        lambda cls, image, **options: start(cls, image, python=STANDIN_ENGINE, **options)))
    widget = panel_widget
    parameters = widget._parameterNode
    x, y, z = sample[0].index_to_physical((46, 46, 46))  # the scan's centre, LPS
    parameters.seedPoint.SetNthControlPointPosition(0, -x, -y, z)
    parameters.refineInteractively = True  # the panel's checkbox
    session = widget._points.session
    timer = widget._points._timer
    assert session is not None and timer.isActive() and not widget.ui.undoPointButton.enabled
    # Started as Slicer starts its console processes (in its startup environment), in its temporary folder.
    assert session.folder.parent == Path(app.temporaryPath)
    name, value = app.startup_marker
    assert psutil.Process(session._process.process.pid).environ().get(name) == value
    tumor = parameters.seedPoint
    place(tumor, (-x, -y, z + 2.0))  # a second tumor point: kept, as the panel refines
    assert tumor.GetNumberOfControlPoints() == 2 and widget.ui.undoPointButton.enabled
    deadline = time.monotonic() + 60
    while timer.isActive():
        assert time.monotonic() < deadline, session.log()
        timer.slots[0][1]()  # the timer's timeout()
        time.sleep(0.01)
    assert display.result_segment_id(parameters.outputSegmentation) is not None and not errors
    assert session.log().count("request ") == 1
    widget.ui.undoPointButton.emit("clicked(bool)", False)
    assert tumor.GetNumberOfControlPoints() == 1 and not widget.ui.undoPointButton.enabled
    widget.exit()  # leaving the module ends the session
    assert session.closed and widget._points.session is None


def test_runs_from_the_console_say_to_install_the_packages_first(module, scene, sample, runs, monkeypatch):
    from ResponsePredictorLib.slicer_module import first_use, nodes

    monkeypatch.setattr(first_use, "missing_dependencies", lambda: ["psutil>=5.9"])  # a fresh Slicer
    logic = module.ResponsePredictorLogic()
    scan = nodes.volume_to_node(sample[0], scene, "CT")
    for start in (lambda: logic.process(scan, seed=(1.0, 2.0, 3.0)), lambda: logic.runCohort("cases.csv", "out")):
        with pytest.raises(RuntimeError, match=r"psutil>=5.9.*installDependencies\(\) first"):
            start()
    assert runs == []


def test_process_accepts_paths_as_str_or_path_and_makes_new_nodes_each_call(module, scene, sample, runs, rendering):
    from ResponsePredictorLib.slicer_module import display, nodes

    scan = nodes.volume_to_node(sample[0], scene, "CT")
    click = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "F")
    click.AddControlPoint(-10.0, 20.0, 30.0)
    logic = module.ResponsePredictorLogic()
    model = resource_path("Models", "nsclc_os_ct")
    first_outputs, first = logic.process(scan, seed=click, predictionModel=str(model), timeout=5)
    second_outputs, second = logic.process(scan, seed=click, predictionModel=model, heatmapMethod="occlusion")

    assert [run.settings["model"] for run in runs] == ["nsclc_os_ct", "nsclc_os_ct"]  # recorded by its id
    assert runs[0].waits[0][0] == 5 and runs[0].waits[0][1] == slicer.app.processEvents  # Slicer stays responsive
    assert runs[1].settings["heatmap"] == "occlusion"
    for name in ("segmentation", "table", "heatmap"):
        assert getattr(first, name) is not getattr(second, name), name
        assert getattr(first, name).GetScene() is scene
    assert display.result_segment_id(first.segmentation) and all(run.cleaned for run in runs)
    # Asked for, the same nodes are refilled.
    _, third = logic.process(scan, seed=click, outputTable=second.table, outputHeatmap=second.heatmap)
    assert third.table is second.table and third.heatmap is second.heatmap
    with pytest.raises(Exception, match="Unknown setting"):
        logic.process(scan, seed=click, predictionModle="/x")


def test_a_cohort_runs_in_the_background_and_waiting_keeps_slicer_responsive(module, app, monkeypatch, tmp_path):
    from ResponsePredictorLib.slicer_module import background

    started = []

    class Cohort(FakeRun):
        @classmethod
        def start(cls, manifest, out_dir, **options):
            run = cls(tmp_path / "out" / "index.html")
            run.arguments = (manifest, out_dir, options)
            started.append(run)
            return run

    monkeypatch.setattr(background, "CohortRun", Cohort)
    logic = module.ResponsePredictorLogic()
    run = logic.runCohort("cases.csv", tmp_path / "out", wait=False, workers=2)
    assert run is started[0] and run.code is None  # returned at once, running
    manifest, out_dir, options = run.arguments
    assert options["workers"] == 2 and options["launch"] is slicer.util.launchConsoleProcess
    assert options["work_root"] == app.temporaryPath

    page = logic.runCohort("cases.csv", tmp_path / "out", timeout=60)
    assert page == tmp_path / "out" / "index.html"
    assert started[1].waits[0][0] == 60 and app.events >= 1 and started[1].cleaned

    def failed(cls, manifest, out_dir, **options):
        return Cohort(failure=background.JobFailed(f"Stopped. The run's log: {out_dir}/logs/x.txt", "", "failed"))

    monkeypatch.setattr(Cohort, "start", classmethod(failed))
    with pytest.raises(background.JobFailed, match="log"):
        logic.runCohort("cases.csv", tmp_path / "out")


@pytest.mark.parametrize("has_packaging", [False, True], ids=["slicer-5.10", "slicer-5.12"])
def test_install_asks_first_then_runs_the_plan(module, monkeypatch, has_packaging, tmp_path):
    from packaging.requirements import Requirement

    from ResponsePredictorLib.slicer_module import installation

    calls = []
    missing = [Requirement("PyWavelets>=1.6"), Requirement("monai>=1.4")]
    monkeypatch.setattr(installation, "missing_requirements", lambda *args: missing)
    monkeypatch.setattr(installation, "torch_missing", lambda: False)
    monkeypatch.setattr(installation, "unsupported_platform", lambda *args: None)
    monkeypatch.setattr(slicer.util, "pip_install", lambda arguments: calls.append(("pip_install", arguments)))
    if has_packaging:
        monkeypatch.setitem(sys.modules, "slicer.packaging", types.SimpleNamespace(
            pip_ensure=lambda requirements, **options: calls.append(
                ("pip_ensure", [str(r) for r in requirements], options))))
    else:
        monkeypatch.setitem(sys.modules, "slicer.packaging", None)  # an import of it raises ImportError
    logic = module.ResponsePredictorLogic()

    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", lambda *args, **kwargs: False)
    with pytest.raises(RuntimeError, match="declined"):
        logic.installDependencies()
    assert calls == []

    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", lambda *args, **kwargs: True)
    with pytest.raises(RuntimeError, match="still missing.*Python console.*press Install again"):  # the fake pip
        logic.installDependencies()  # installed nothing: the user is told what to do
    if has_packaging:
        assert [call[:2] for call in calls] == [("pip_ensure", ["PyWavelets>=1.6", "monai>=1.4"])]
        assert "skip_in_testing" not in calls[0][2]  # Slicer's default: testing mode installs nothing
        assert calls[0][2]["constraints"]  # Slicer's own packages held at their versions
    else:
        assert [call[0] for call in calls] == ["pip_install"]
        assert calls[0][1][-2:] == ["PyWavelets>=1.6", "monai>=1.4"] and "-c" in calls[0][1]

    calls.clear()  # offline: everything through pip_install from the folder
    with pytest.raises(RuntimeError, match="still missing"):
        logic.installDependencies(wheelFolder=str(tmp_path))
    assert [call[0] for call in calls] == ["pip_install"]
    assert calls[0][1][:3] == ["--no-index", "--find-links", str(tmp_path)]

    slicer.app.testing = True  # Slicer's testing mode: pip_ensure installs nothing, and says nothing
    calls.clear()
    with pytest.raises(RuntimeError, match="still missing" if not has_packaging else "testing mode"):
        logic.installDependencies()


def test_torch_comes_from_the_pytorch_extension_with_the_engines_floor(module, monkeypatch):
    from ResponsePredictorLib.slicer_module import first_use, installation

    asked = []

    class PyTorchUtilsLogic:
        def installTorch(self, askConfirmation=False, forceComputationBackend=None, torchVersionRequirement=None,
                         torchvisionVersionRequirement=None):
            asked.append((askConfirmation, torchVersionRequirement))
            return object()

    monkeypatch.setitem(sys.modules, "PyTorchUtils", types.SimpleNamespace(PyTorchUtilsLogic=PyTorchUtilsLogic))
    first_use.install_torch()
    assert asked == [(True, installation.TORCH_VERSION_REQUIREMENT)]
    monkeypatch.setitem(sys.modules, "PyTorchUtils", None)
    with pytest.raises(RuntimeError, match="PyTorch extension"):
        first_use.install_torch()


def test_the_self_test_installs_nothing_in_testing_mode(module, app, monkeypatch):
    from ResponsePredictorLib.slicer_module import first_use, self_test

    app.testing = True
    monkeypatch.setattr(first_use, "missing_dependencies", lambda: ["torch>=2.4.1", "monai>=1.5"])
    monkeypatch.setattr(first_use, "install_dependencies", lambda *args: pytest.fail("installed in testing mode"))
    shown = []
    test = types.SimpleNamespace(delayDisplay=shown.append)
    self_test.sample_case_from_a_click(test, module.ResponsePredictorLogic())
    assert len(shown) == 1 and "Skipped" in shown[0] and "torch" in shown[0]


def test_an_old_slicer_gets_a_message_not_an_error(latest_slicer_python, monkeypatch, tmp_path, scene):
    app = FakeApp(tmp_path, version=(5, 8))
    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
    module = load_module_file(latest_slicer_python, monkeypatch, app)
    assert "5.10 or later" in module.UNSUPPORTED and "this is Slicer 5.8" in module.UNSUPPORTED
    assert "ResponsePredictorLib.slicer_module.parameters" not in sys.modules  # the engine is not imported

    parent = types.SimpleNamespace(path=str(MODULE_FILE))
    module.ResponsePredictor(parent)
    assert module.UNSUPPORTED in parent.helpText
    widget = module.ResponsePredictorWidget()
    widget.setup()
    assert widget.layout.widgets[0].text == module.UNSUPPORTED
    widget.enter()
    widget.exit()
    widget.cleanup()
    with pytest.raises(RuntimeError, match="5.10 or later"):
        module.ResponsePredictorLogic()
    shown = []
    test = module.ResponsePredictorTest()
    monkeypatch.setattr(test, "delayDisplay", shown.append)
    test.test_SampleCase()
    assert shown and "5.10 or later" in shown[0]


@pytest.mark.slow
def test_logic_segments_then_predicts_from_markups_in_a_background_process(latest_slicer_python, monkeypatch, scene,
                                                                          rendering):
    """The real engine in a real child process (background.py), from a click to a prediction."""
    from ResponsePredictorLib.slicer_module import display, nodes, panel
    from ResponsePredictorLib.volume import read_mask, read_volume

    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
    module = load_module_file(latest_slicer_python, monkeypatch)
    image = read_volume(sample_case().image)
    truth = read_mask(sample_case().mask, image).array > 0
    scan = nodes.volume_to_node(image, scene, "CT")
    k, j, i = (float(np.mean(axis)) for axis in np.nonzero(truth))
    matrix = np.reshape(image.direction, (3, 3)) * np.array(image.spacing)
    lps = np.array(image.origin) + matrix @ np.array([i, j, k])
    click = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "click")
    click.AddControlPoint(-lps[0], -lps[1], lps[2])  # RAS, as the user's click
    logic = module.ResponsePredictorLogic()

    outputs, shown = logic.process(scan, seed=click, step="segment", device="cpu", timeout=300)
    found = nodes.labelmap_from_segmentation(shown.segmentation, scan,
                                             [display.result_segment_id(shown.segmentation)]).volume.array > 0
    assert np.count_nonzero(found) == np.count_nonzero(outputs.mask.array)
    assert 2 * np.count_nonzero(found & truth) / (np.count_nonzero(found) + np.count_nonzero(truth)) > 0.5
    assert shown.table is None  # the segment step computes no features

    # Predict on that segmentation: the same tumor goes back to the engine, a table comes out.
    settings = panel.RunSettings(inputVolume=scan, outputSegmentation=shown.segmentation, device="cpu",
                                 heatmapMethod="none")
    job = logic.startRun(settings, "predict", covariates=json.loads(sample_case().clinical.read_text()))
    try:
        np.testing.assert_array_equal(read_mask(job.run.request.mask, image).array > 0, found)
        job.run.wait(300)
        outputs, shown = logic.finishRun(job)
    finally:
        job.run.cleanup()
    assert "survival" in outputs.prediction and outputs.heatmap is None
    assert shown.table.GetNumberOfRows() >= len(outputs.features)


@pytest.mark.slow
def test_the_self_test_refines_at_the_click_through_slicers_python_launcher(module, app, scene, sample, tmp_path,
                                                                            monkeypatch):
    """The self-test's interactive session as in Slicer: ``PythonSlicer`` found on the PATH (here a
    stand-in for the launcher), Slicer's startup environment, the real engine and the default model."""
    from slicer_run_helpers import THROUGH_LAUNCHER

    from ResponsePredictorLib.slicer_module import first_use, nodes, self_test

    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    launcher = bin_folder / "PythonSlicer"
    launcher.write_text("#!/bin/sh\nexec " + " ".join(f"'{part}'" for part in THROUGH_LAUNCHER) + ' "$@"\n')
    launcher.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(first_use, "missing_dependencies", lambda: [])
    image, mask = sample
    scan = nodes.volume_to_node(image, scene, "CT")
    k, j, i = (float(np.mean(axis)) for axis in np.nonzero(mask.array))
    x, y, z = image.index_to_physical((i, j, k))
    click = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "click")
    click.AddControlPoint(-x, -y, z)  # RAS
    shown = []
    test = unittest.TestCase()  # the assertions Slicer's ScriptedLoadableModuleTest has
    test.delayDisplay = shown.append
    self_test.refine_at_the_click(test, scan, click, mask.array > 0)
    assert shown == ["Refining at the click (interactive segmentation session)"]
    assert not list(Path(app.temporaryPath).glob("ResponsePredictor-run-*"))  # the session's folder is gone
