"""Stand-ins for the module's tests: a background run, the panel's widgets, the application.

Each behaves like the real thing where the module depends on it:

- ``FakeRun`` has ``background.BackgroundRun``'s methods and ends as the test says; its results and
  failures are what ``BackgroundRun.result()`` gives (``CaseOutputs``, ``JobFailed`` with a kind),
  and ``fake_start`` checks the settings as ``BackgroundRun.start`` does (``check_settings``).
- ``FakeUi`` / ``FakeWidget``: the .ui's widgets as the module file uses them (properties set,
  signals connected; a ``...ComboBox`` is a ``FakeComboBox``, with QComboBox's items); test_ui.py
  checks that the names exist in the .ui.
- ``FakeApp``: ``slicer.app`` as the module reads it (version, temporary folder, events, signals).
- ``load_module_file``: ResponsePredictor.py imported with Slicer's real parameterNodeWrapper and
  ScriptedLoadableModule (``slicer_python``) and a stand-in for the Qt widget base class only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import inspect
import sys
import types
from pathlib import Path

import numpy as np

from conftest import REPO_ROOT

MODULE_FILE = REPO_ROOT / "ResponsePredictor" / "ResponsePredictor.py"


class FakeRun:
    """A background run that ends when the test calls ``finish`` (or ``wait`` is called)."""

    def __init__(self, outputs=None, failure: Exception | None = None, settings: dict | None = None) -> None:
        from ResponsePredictorLib.engine_status import Progress

        self.outputs, self.failure, self.settings = outputs, failure, settings or {}
        self.code: int | None = None
        self.cancelled = self.cleaned = False
        self.waits: list[tuple[float | None, object]] = []
        self.log_path = Path("/nonexistent/log.txt")
        self._progress = Progress("segment", 0.25, "Segmenting the tumor")

    def finish(self, code: int = 0) -> None:
        self.code = code

    def poll(self) -> int | None:
        return self.code

    def wait(self, timeout=None, idle=None) -> int:
        self.waits.append((timeout, idle))
        if idle is not None:
            idle()
        if self.code is None:
            self.code = 0
        return self.code

    def cancel(self) -> None:
        """As the real run: it returns at once and the run ends by the next ``poll``; a run that had
        ended keeps its result."""
        if self.code is None:
            self.cancelled = True
            self.code = 1

    def progress(self):
        return self._progress

    def log(self) -> str:
        return "the run's log"

    def result(self):
        from ResponsePredictorLib.slicer_module.background import JobFailed

        if self.code is None:
            raise RuntimeError("The run has not finished yet")
        if self.cancelled:
            raise JobFailed("Cancelled.", self.log(), "cancelled")
        if self.failure is not None:
            raise self.failure
        return self.outputs

    def cleanup(self) -> None:
        self.cancel()
        self.cleaned = True


def fake_start(runs: list, outputs_for):
    """A ``BackgroundRun.start`` that records its runs (``runs``) and gives each ``outputs_for(settings)``."""
    def start(image, mask=None, *, python=None, launch=None, work_root=None, **settings):
        from ResponsePredictorLib.slicer_module.background import JobRequest, check_settings

        check_settings(has_mask=mask is not None, primary=image, **settings)
        unknown = set(settings) - {field.name for field in dataclasses.fields(JobRequest)}
        assert not unknown, f"not settings of a run: {unknown}"
        run = FakeRun(outputs_for(settings), settings={**settings, "mask": mask, "image": image, "launch": launch,
                                                        "work_root": work_root})
        runs.append(run)
        return run

    return start


def tumor_heatmap(mask):
    """A signed heatmap of ones on the tumor, on the mask's grid."""
    from ResponsePredictorLib.explain.heatmap import Heatmap

    values = np.where(mask.array > 0, 1.0, 0.0).astype(np.float32)
    return Heatmap(mask.with_array(values), "signed", "test", "ones", (-1.0, 1.0))


def case_outputs(mask, heatmap: bool = True, scans: dict | None = None, missing: tuple[str, ...] = ()):
    """What a finished run gives back: the mask, features, a survival prediction, a signed heatmap;
    ``scans``: the other scans' ``ScanOutputs`` by name, ``missing``: those the run reports missing
    (in result.json's provenance, as the engine records them)."""
    from ResponsePredictorLib.slicer_module.background import CaseOutputs

    states = {name: {"status": "done", "mask_source": "carried from the primary scan" if shown.carried else "own mask"}
              for name, shown in (scans or {}).items()}
    states.update({name: {"status": "missing"} for name in missing})
    return CaseOutputs(
        mask=mask,
        features={"original_firstorder_Mean": -12.5, "original_shape_MeshVolume": 1234.0},
        prediction={"risk": 0.4, "lower": 0.3, "upper": 0.5, "survival": 0.6},
        contributions={"age": 0.2},
        kind="survival",
        heatmap=tumor_heatmap(mask) if heatmap else None,
        result={"status": "done", "warnings": [], "provenance": {"scans": states}},
        scans=dict(scans or {}),
    )


def engine_outputs(mask, carry=None):
    """``fake_start``'s ``outputs_for`` answering as the engine does a case with other scans: each scan sent
    gets its own mask, or the tumor carried onto its grid (``carry(the scan's image)``; by default the
    mask itself, for a scan on the primary scan's grid), and a heatmap over it."""
    from ResponsePredictorLib.slicer_module.other_scans import ScanOutputs

    def outputs_for(settings):
        shown = {}
        for name, scan in (settings.get("scans") or {}).items():
            scan_mask = scan.mask if scan.mask is not None else carry(scan.image) if carry else mask
            shown[name] = ScanOutputs(scan_mask, tumor_heatmap(scan_mask), carried=scan.mask is None)
        return case_outputs(mask, scans=shown)

    return outputs_for


def _positional_count(slot, most: int) -> int:
    """How many positional arguments ``slot`` takes, up to ``most``."""
    parameters = inspect.signature(slot).parameters.values()
    if any(parameter.kind is parameter.VAR_POSITIONAL for parameter in parameters):
        return most
    return min(most, sum(parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
                         for parameter in parameters))


class FakeWidget:
    """A Qt widget as the module file uses it: any property set, signals connected and recorded."""

    def __init__(self, name: str) -> None:
        self._name = name
        self.connections: list[tuple[str, object]] = []
        self.attributes: list[tuple] = []

    def property(self, name):  # no SlicerParameterName: connectGui binds nothing in the tests
        return None

    def connect(self, signal: str, slot) -> None:
        self.connections.append((signal, slot))

    def addAttribute(self, *arguments) -> None:
        self.attributes.append(arguments)

    def setMRMLScene(self, scene) -> None:
        self.scene = scene

    def emit(self, signal: str, *arguments) -> None:
        """Call the slots as PythonQt does: a slot that takes fewer arguments than the signal has gets the
        first ones (Slicer's module template connects ``clicked(bool)`` to ``onApplyButton(self)``)."""
        for connected, slot in self.connections:
            if connected == signal:
                slot(*arguments[:_positional_count(slot, len(arguments))])


class FakeComboBox(FakeWidget):
    """A QComboBox's items as Qt keeps them: ``clear`` empties it (no current item, index -1), the first
    item added to an empty box becomes the current one, ``itemText`` of no item is "" (``currentText``
    too); ``count``, ``currentText`` and ``currentIndex`` are properties, as PythonQt shows them."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.items: list[str] = []
        self.currentIndex = -1

    def clear(self) -> None:
        self.items, self.currentIndex = [], -1

    def addItems(self, texts) -> None:
        self.items += [str(text) for text in texts]
        if self.currentIndex == -1 and self.items:
            self.currentIndex = 0

    def itemText(self, index: int) -> str:
        return self.items[index] if 0 <= index < len(self.items) else ""

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def currentText(self) -> str:
        return self.itemText(self.currentIndex)

    def activate(self, index: int) -> None:
        """The user picks item ``index``: it becomes current and ``activated(int)`` is emitted."""
        self.currentIndex = index
        self.emit("activated(int)", index)


class FakeUi(types.SimpleNamespace):
    """``slicer.util.childWidgetVariables(uiWidget)``: one FakeWidget per name asked for."""

    @staticmethod
    def isWidgetType() -> bool:
        return False

    def __getattr__(self, name: str) -> FakeWidget:
        if name.startswith("__"):
            raise AttributeError(name)
        widget = (FakeComboBox if name.endswith("ComboBox") else FakeWidget)(name)
        setattr(self, name, widget)
        return widget


class FakeApp:
    """``slicer.app``: version, temporary folder, event loop, signals, testing mode, the environment
    Slicer was started in (``startupEnvironment()``, a QProcessEnvironment, as ``slicer.util.startupEnvironment``
    reads it: ``keys()`` and ``value(name)``; ``startup_marker`` tells it apart from this process's), the
    layout manager (the layouts set, in ``layouts``) and the application logic (``application_logic``:
    slicer-core's vtkMRMLApplicationLogic, which the test sets on its scene)."""

    startup_marker = ("RP_TEST_STARTUP_ENVIRONMENT", "yes")

    def __init__(self, temporary: Path, version: tuple[int, int] = (5, 12), testing: bool = False) -> None:
        self.majorVersion, self.minorVersion = version
        self.temporaryPath = str(temporary)
        self.testing = testing
        self.connections: dict[str, list] = {}
        self.events = 0
        self.layouts: list[int] = []
        self.application_logic = None

    def layoutManager(self):
        return types.SimpleNamespace(setLayout=self.layouts.append)

    def applicationLogic(self):
        return self.application_logic

    def startupEnvironment(self):
        import os

        environment = {**os.environ, self.startup_marker[0]: self.startup_marker[1]}
        return types.SimpleNamespace(keys=lambda: list(environment), value=environment.get)

    def connect(self, signal: str, slot) -> None:
        self.connections.setdefault(signal, []).append(slot)

    def disconnect(self, signal: str, slot) -> bool:  # as Qt: False when it was not connected
        slots = self.connections.get(signal, [])
        if slot not in slots:
            return False
        slots.remove(slot)
        return True

    def emit(self, signal: str) -> None:
        for slot in list(self.connections.get(signal, [])):
            slot()

    def processEvents(self) -> None:
        self.events += 1

    def testingEnabled(self) -> bool:
        return self.testing

    def setOverrideCursor(self, cursor) -> None:
        pass

    def restoreOverrideCursor(self) -> None:
        pass


class WidgetBase:
    """ScriptedLoadableModuleWidget without Qt: the parent, the layout and resourcePath it offers."""

    def __init__(self, parent=None) -> None:
        self.parent = parent or types.SimpleNamespace(isEntered=True)
        self.layout = types.SimpleNamespace(widgets=[])
        self.layout.addWidget = self.layout.widgets.append

    def setup(self) -> None:
        pass

    def resourcePath(self, filename: str) -> str:
        return str(MODULE_FILE.parent / "Resources" / filename)


@contextlib.contextmanager
def raising_error_display(message=None, show=True, waitCursor=False):
    """``slicer.util.tryWithErrorDisplay`` for tests: the error reaches the test instead of a dialog."""
    yield


def load_module_file(slicer_python, monkeypatch, app: FakeApp | None = None):
    """ResponsePredictor.py as Slicer imports it: Slicer's own ScriptedLoadableModule classes (the
    Widget's base stands in for Qt) and parameterNodeWrapper from ``slicer_python``."""
    import slicer

    scripted = slicer_python.scripted
    monkeypatch.setitem(sys.modules, "slicer.ScriptedLoadableModule", types.SimpleNamespace(
        ScriptedLoadableModule=scripted.ScriptedLoadableModule, ScriptedLoadableModuleWidget=WidgetBase,
        ScriptedLoadableModuleLogic=scripted.ScriptedLoadableModuleLogic,
        ScriptedLoadableModuleTest=scripted.ScriptedLoadableModuleTest))
    if app is not None:
        monkeypatch.setattr(slicer, "app", app, raising=False)
    sys.modules.pop("ResponsePredictor", None)
    spec = importlib.util.spec_from_file_location("ResponsePredictor", MODULE_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ResponsePredictor"] = module
    spec.loader.exec_module(module)
    return module
