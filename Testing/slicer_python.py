"""Slicer's own Python (parameterNodeWrapper, ScriptedLoadableModule) for tests, without the application.

slicer-core ships Slicer's MRML libraries and ``slicer.util`` but not ``slicer.parameterNodeWrapper``
nor ``slicer.ScriptedLoadableModule``, and the Slicer application cannot be installed here. So the
tests import the real files from Slicer's source at a release tag (``git show TAG:PATH``, nothing is
copied into this repository) on top of slicer-core, with stand-ins only for the Qt names they touch
while being imported (``qt.QColor`` is subclassed, ``qt.QIcon`` made for the module icon). What the
tests rely on (the typed fields and their validation, serialization into a vtkMRMLScriptedModuleNode,
the parameter node lookup of ScriptedLoadableModuleLogic) runs as it does in Slicer.

The source is a git directory of github.com/Slicer/Slicer: ``SLICER_SOURCE`` (default:
``../.mirror/Slicer+Slicer/repo`` beside the repository). Tests that need it skip, saying so, where it is absent.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SLICER_SOURCE = Path(os.environ.get("SLICER_SOURCE", REPO_ROOT.parent / ".mirror" / "Slicer+Slicer" / "repo"))
TAGS = ("v5.10.0", "v5.12.3")  # the oldest supported Slicer and the latest
WRAPPER_DIR = "Base/Python/slicer/parameterNodeWrapper"
SCRIPTED_MODULE = "Base/Python/slicer/ScriptedLoadableModule.py"


def git(*arguments: str) -> str | None:
    """The output of ``git ARGUMENTS`` in Slicer's source, or None where it is not available."""
    if not SLICER_SOURCE.exists():
        return None
    try:
        return subprocess.run(["git", "--git-dir", str(_git_dir()), *arguments], check=True, capture_output=True,
                              text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def _git_dir() -> Path:
    return SLICER_SOURCE / ".git" if (SLICER_SOURCE / ".git").exists() else SLICER_SOURCE


def slicer_file(tag: str, path: str) -> str:
    """A file of Slicer's source at ``tag``; the test skips when the source is not available."""
    text = git("show", f"{tag}:{path}")
    if text is None:
        pytest.skip(f"Slicer's source ({path} at {tag}) is not available; set SLICER_SOURCE to a clone of "
                    "github.com/Slicer/Slicer")
    return text


class QColor:
    """The little of qt.QColor the wrapper's serializers touch at import (they subclass it)."""

    def __init__(self, *args) -> None:
        self.args = args


class QIcon:
    def __init__(self, path: str = "") -> None:
        self.path = path


class FakeTimer:
    """qt.QTimer as the module uses it: started and stopped, its timeout() called by the test."""

    def __init__(self) -> None:
        self.active, self.interval, self.slots = False, 0, []

    def setInterval(self, milliseconds: int) -> None:
        self.interval = milliseconds

    def connect(self, signal: str, slot) -> None:
        self.slots.append((signal, slot))

    def start(self) -> None:
        self.active = True

    def stop(self) -> None:
        self.active = False

    def isActive(self) -> bool:
        return self.active


def _stand_in_module(name: str, **classes: type) -> types.ModuleType:
    """A module with ``classes``, and an empty class for any other name asked for (the wrapper's
    connectors name Qt and CTK widget classes in their annotations, evaluated when they are defined)."""
    module = types.ModuleType(name)
    module.__dict__.update(classes)

    def placeholder(attribute: str) -> type:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        made = type(attribute, (), {})
        setattr(module, attribute, made)
        return made

    module.__getattr__ = placeholder
    return module


def qt_stand_in() -> types.ModuleType:
    timer = type("QTimer", (FakeTimer,), {"singleShot": staticmethod(lambda milliseconds, action: action())})
    label = type("QLabel", (), {"__init__": lambda self, text="": setattr(self, "text", text)})
    return _stand_in_module("qt", QColor=QColor, QIcon=QIcon, QTimer=timer, QLabel=label)


def ctk_stand_in() -> types.ModuleType:
    return _stand_in_module("ctk")


def _import_from_text(name: str, files: dict[str, str], folder: Path, package: bool) -> types.ModuleType:
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, text in files.items():
        (folder / file_name).write_text(text)
    entry = folder / ("__init__.py" if package else next(iter(files)))
    spec = importlib.util.spec_from_file_location(name, entry,
                                                  submodule_search_locations=[str(folder)] if package else None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class SlicerPython:
    """Slicer's Python modules at one tag, importable as ``slicer.parameterNodeWrapper`` and
    ``slicer.ScriptedLoadableModule`` for the test's duration (``close`` forgets them again)."""

    def __init__(self, tag: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        import slicer

        self.tag = tag
        if not hasattr(slicer, "vtkMRMLScene"):
            pytest.skip("the installed 'slicer' package is not slicer-core")
        listing = git("ls-tree", "--name-only", f"{tag}:{WRAPPER_DIR}")
        if listing is None:
            slicer_file(tag, WRAPPER_DIR + "/__init__.py")  # skips with the reason
        self.close()
        for name, module in (("qt", qt_stand_in()), ("ctk", ctk_stand_in())):
            if name not in sys.modules:
                monkeypatch.setitem(sys.modules, name, module)
        monkeypatch.setitem(sys.modules, "slicer.i18n", types.SimpleNamespace(
            tr=lambda text: text, translate=lambda context, text: text))
        monkeypatch.setattr(slicer, "selfTests", {}, raising=False)
        files = {name: slicer_file(tag, f"{WRAPPER_DIR}/{name}") for name in listing.split() if name.endswith(".py")}
        # Slicer's Qt widget classes (qMRMLNodeComboBox...) are not in slicer-core; the connectors name them.
        for widget_class in sorted(set(re.findall(r"slicer\.(q[A-Z]\w+)", "".join(files.values())))
                                   | {"qMRMLSegmentSelectorWidget"}):
            if not hasattr(slicer, widget_class):
                monkeypatch.setattr(slicer, widget_class, type(widget_class, (), {}), raising=False)
        self.wrapper = _import_from_text("slicer.parameterNodeWrapper", files, folder / tag / "parameterNodeWrapper",
                                         package=True)
        self.scripted = _import_from_text("slicer.ScriptedLoadableModule",
                                          {"ScriptedLoadableModule.py": slicer_file(tag, SCRIPTED_MODULE)},
                                          folder / tag / "scripted", package=False)

    def close(self) -> None:
        """Forget this tag's modules, and what was built on them (the parameter node class, the module file)."""
        for name in list(sys.modules):
            if any(name == own or name.startswith(own + ".") for own in OWN_MODULES):
                del sys.modules[name]


# Modules bound to one tag's wrapper: imported afresh for each.
OWN_MODULES = ("slicer.parameterNodeWrapper", "slicer.ScriptedLoadableModule",
               "ResponsePredictorLib.slicer_module.parameters", "ResponsePredictor")


@pytest.fixture(params=TAGS)
def slicer_python(request, tmp_path, monkeypatch):
    """Slicer's Python at each supported tag in turn (5.10.0, then 5.12.3)."""
    python = SlicerPython(request.param, tmp_path / "slicer-python", monkeypatch)
    yield python
    python.close()


@pytest.fixture
def latest_slicer_python(tmp_path, monkeypatch):
    """Slicer's Python at the latest tag only, for the slower tests."""
    python = SlicerPython(TAGS[-1], tmp_path / "slicer-python", monkeypatch)
    yield python
    python.close()
