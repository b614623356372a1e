"""First-use install decisions (slicer_module/installation.py) and Resources/requirements.txt, outside Slicer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import version

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import REPO_ROOT
from ResponsePredictorLib.errors import InputError
from ResponsePredictorLib.slicer_module import installation

# In pyproject.toml, not in requirements.txt: torch comes through the PyTorch extension; the others
# only train or evaluate survival models, run cohorts on a Dask cluster, or read and write DICOM SEG.
LEFT_OUT = {"torch", "scikit-survival", "dask", "highdicom"}


def floor(requirement: Requirement) -> Version:
    (specifier,) = requirement.specifier  # a floor, and nothing else
    assert specifier.operator == ">=", requirement
    return Version(specifier.version)


def test_requirements_are_pyprojects_minus_what_a_case_in_slicer_does_not_need():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    declared = {canonicalize_name(r.name): r for r in map(Requirement, pyproject["project"]["dependencies"])}
    listed = {canonicalize_name(r.name): r for r in installation.read_requirements()}
    assert set(declared) - set(listed) == LEFT_OUT and set(listed) <= set(declared)
    assert "pyradiomics" not in listed and "pywavelets" in listed
    for name, requirement in listed.items():  # the same floor, or higher where Slicer's numpy 2 needs it
        assert floor(requirement) >= floor(declared[name]), name


def test_the_pytorch_extension_gets_the_torch_the_engine_needs():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    declared = next(Requirement(line) for line in pyproject["project"]["dependencies"] if line.startswith("torch"))
    assert floor(installation.TORCH) >= floor(declared)
    # PyTorchUtilsLogic.installTorch asks pip (light-the-torch) for "torch" + torchVersionRequirement.
    assert Requirement("torch" + installation.TORCH_VERSION_REQUIREMENT) == installation.TORCH
    # MONAI, which the requirements hold at 1.5 or later for numpy 2, needs torch 2.4.1 from 1.5 on.
    monai = next(r for r in installation.read_requirements() if r.name == "monai")
    assert floor(monai) >= Version("1.5") and floor(installation.TORCH) >= Version("2.4.1")


def test_missing_requirements_checks_installed_versions():
    assert installation.missing_requirements([Requirement("numpy>=1.0")]) == []
    too_new = Requirement("numpy>=999")
    absent = Requirement("no-such-package-for-responsepredictor>=1")
    assert installation.missing_requirements([too_new, absent]) == [too_new, absent]
    assert installation.missing_requirements() == []  # this environment has everything
    assert not installation.torch_missing()


def test_plan_installs_the_missing_wheels_in_one_plain_step_with_slicers_packages_held(tmp_path):
    missing = [Requirement("PyWavelets>=1.6"), Requirement("monai>=1.5"), Requirement("PyYAML>=6")]
    constraints = tmp_path / "held.txt"
    steps = installation.install_plan(missing, constraints)
    assert [step.arguments() for step in steps] == [["-c", str(constraints), "PyWavelets>=1.6", "monai>=1.5", "PyYAML>=6"]]
    assert [step.plain for step in steps] == [True]  # pip_ensure takes requirements and a constraints file
    assert installation.install_plan([], constraints) == []


def test_offline_plan_installs_everything_from_the_wheel_folder(tmp_path):
    missing = [Requirement("PyWavelets>=1.6"), Requirement("monai>=1.5")]
    constraints = tmp_path / "held.txt"
    steps = installation.install_plan(missing, constraints, tmp_path, with_torch=True)
    offline = ["--no-index", "--find-links", str(tmp_path), "-c", str(constraints)]
    assert [step.arguments() for step in steps] == [[*offline, "PyWavelets>=1.6", "monai>=1.5", "torch>=2.4.1"]]
    assert not any(step.plain for step in steps)  # pip_ensure cannot take --find-links
    with pytest.raises(InputError, match="does not exist"):
        installation.install_plan(missing, constraints, tmp_path / "nope")
    with pytest.raises(InputError, match="PyTorch extension"):
        installation.install_plan(missing, constraints, with_torch=True)


def test_the_constraints_file_holds_slicers_packages_and_torch_as_installed(tmp_path):
    with installation.pip_steps([Requirement("monai>=1.5")]) as steps:
        (step,) = steps
        held = step.constraints.read_text().splitlines()
        assert f"numpy=={version('numpy')}" in held and f"scipy=={version('scipy')}" in held
        assert f"torch=={version('torch')}" in held  # installed by the PyTorch extension: never replaced
        assert not any(line.startswith("monai") for line in held)  # only what Slicer or the extension brought
    assert not step.constraints.exists()
    with installation.pip_steps([Requirement("monai>=1.5")], tmp_path, with_torch=True) as (step,):
        held = step.constraints.read_text()  # this step brings torch itself: it is not held
        assert "torch==" not in held and f"numpy=={version('numpy')}" in held


def fake_wheel(folder, name: str, release: str, requires: str = "") -> None:
    """A wheel with metadata only: enough for pip to plan with it."""
    info = f"{name.replace('-', '_')}-{release}.dist-info"
    with zipfile.ZipFile(folder / f"{name.replace('-', '_')}-{release}-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {release}\n"
                                           + (f"Requires-Dist: {requires}\n" if requires else ""))
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")


def pip_plan(arguments: list[str], tmp_path) -> subprocess.CompletedProcess:
    report = tmp_path / "report.json"
    report.unlink(missing_ok=True)
    return subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--isolated", "--report", str(report),
                           *arguments], capture_output=True, text=True, env=os.environ | {"PIP_CONFIG_FILE": os.devnull})


def test_pip_refuses_to_upgrade_a_bundled_package_that_a_requirement_would_pull_in(tmp_path):
    # A requirement whose only release needs a newer numpy than the installed one, and that numpy,
    # in the wheel folder: without the constraints pip would upgrade numpy, with them it refuses.
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    fake_wheel(wheels, "numpy", "99.0")
    fake_wheel(wheels, "rp-needs-new-numpy", "1.0", requires="numpy>=99")
    with installation.pip_steps([Requirement("rp-needs-new-numpy>=1")], wheels) as (step,):
        unconstrained = [argument for argument in step.arguments() if argument not in ("-c", str(step.constraints))]
        free = pip_plan(unconstrained, tmp_path)
        assert free.returncode == 0, free.stderr
        planned = {item["metadata"]["name"]: item["metadata"]["version"]
                   for item in json.loads((tmp_path / "report.json").read_text())["install"]}
        assert planned == {"numpy": "99.0", "rp-needs-new-numpy": "1.0"}
        held = pip_plan(step.arguments(), tmp_path)
    assert held.returncode != 0 and f"numpy=={version('numpy')}" in held.stdout + held.stderr
    assert not (tmp_path / "report.json").exists()


def test_consent_text_says_what_where_and_what_stays(tmp_path):
    missing = [Requirement("PyWavelets>=1.6"), Requirement("monai>=1.5")]
    online = installation.consent_text(missing, torch=True)
    assert "PyWavelets, monai, torch." in online and "pypi.org" in online and "internet" in online
    assert "PyTorch extension" in online and "torch (>=2.4.1)" in online
    assert "Slicer's own packages (numpy, SciPy, SimpleITK, pydicom...) stay at their versions" in online
    offline = installation.consent_text(missing, torch=True, wheel_folder=tmp_path)
    assert "PyWavelets, monai, torch." in offline and str(tmp_path) in offline and "nothing is downloaded" in offline
    assert "PyTorch extension" not in offline
    assert "packages in Slicer's Python: torch." in installation.consent_text([], torch=True)  # torch alone missing


def test_intel_macs_are_told_why_first_use_cannot_work_there():
    reason = installation.unsupported_platform("Darwin", "x86_64")
    assert "torch >=2.4.1" in reason and "Apple silicon (arm64) build" in reason
    for system, machine in (("Darwin", "arm64"), ("Windows", "AMD64"), ("Linux", "x86_64")):
        assert installation.unsupported_platform(system, machine) is None
