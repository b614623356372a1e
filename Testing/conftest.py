"""Shared test settings.

Tests that need the public data set (IBSI phantoms, pyradiomics cases, NSCLC crops) find it through
one setting, the environment variable RP_DATA_DIR (default: ../shared/data beside the repository),
and skip with the reason when it is absent. Unit tests never need it.

Tests that compare the engine with pyradiomics or ComBat with neuroCombat (references, not
dependencies) skip where they are not installed. With RP_REFERENCE_TESTS=FILE the run writes those tests' ids to FILE, one per line,
so that ``make test`` runs exactly them again in the reference environment (``pytest @FILE``).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

# Fixtures that load Slicer's own Python (parameterNodeWrapper, ScriptedLoadableModule) from its source
# at the supported release tags, for every test module here.
from slicer_python import latest_slicer_python, slicer_python  # noqa: F401
# A small model folder and scan for the tests that start the real interactive segmentation session.
from session_model import tiny_case  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_TESTS = os.environ.get("RP_REFERENCE_TESTS")
DATA_DIR = Path(os.environ.get("RP_DATA_DIR", REPO_ROOT.parent / "shared" / "data")).resolve()


@functools.cache
def script_module(name: str) -> ModuleType:
    """A module of scripts/ (not a package), loaded once."""
    if name in sys.modules:  # a script on sys.path imported it already
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def data_path(*parts: str) -> Path:
    """A path inside the public data folder; skips the calling test when it is not there."""
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"public data not found at {path} (set RP_DATA_DIR to the shared data folder)")
    return path


@pytest.fixture
def data_dir() -> Path:
    return data_path()


@pytest.fixture(scope="session")
def sample():
    """The bundled sample case: (image, expert tumor mask) as Volumes."""
    from ResponsePredictorLib.resources import sample_case
    from ResponsePredictorLib.volume import read_mask, read_volume

    image = read_volume(sample_case().image)
    return image, read_mask(sample_case().mask, image)


@pytest.fixture
def scene():
    """An MRML scene as the Slicer application prepares it (slicer-core); tests that use it skip
    themselves when slicer-core is absent."""
    from ResponsePredictorLib.slicer_module.nodes import standalone_scene

    with standalone_scene() as scene:
        yield scene


@pytest.fixture
def pyradiomics():
    """pyradiomics, the reference the engine is compared with; the test skips where it is not installed."""
    return pytest.importorskip("radiomics")


# The libraries the product is compared with (pyradiomics, neuroCombat), installed in the reference
# environment only.
REFERENCE_MODULES = ("radiomics", "neuroCombat")


def _skipped_for_reference(report: pytest.TestReport | pytest.CollectReport) -> bool:
    # importorskip's reason: "could not import 'radiomics': No module named 'radiomics'"
    return report.skipped and any(f"'{module}'" in str(report.longrepr) for module in REFERENCE_MODULES)


_reference_ids: list[str] = []


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if _skipped_for_reference(report):
        _reference_ids.append(report.nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _skipped_for_reference(report):
        _reference_ids.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if REFERENCE_TESTS:
        Path(REFERENCE_TESTS).parent.mkdir(parents=True, exist_ok=True)
        Path(REFERENCE_TESTS).write_text("".join(f"{node}\n" for node in dict.fromkeys(_reference_ids)))
