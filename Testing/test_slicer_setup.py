"""First-use install decisions (slicer_setup.py) and Resources/requirements.txt, outside Slicer."""

from __future__ import annotations

import tomllib

import pytest
from packaging.requirements import Requirement

from conftest import REPO_ROOT
from ResponsePredictorLib.slicer_module import installation as slicer_setup
from ResponsePredictorLib.errors import InputError


def test_requirements_file_has_every_runtime_dependency_but_torch_with_floors():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    declared = {str(Requirement(line)) for line in pyproject["project"]["dependencies"]}
    listed = slicer_setup.read_requirements()
    assert {str(requirement) for requirement in listed} == declared - {"torch>=2.3"}
    assert all(str(requirement.specifier).startswith(">=") for requirement in listed)
    assert slicer_setup.TORCH == Requirement(next(line for line in declared if line.startswith("torch")))


def test_missing_requirements_checks_installed_versions():
    assert slicer_setup.missing_requirements([Requirement("numpy>=1.0")]) == []
    too_new = Requirement("numpy>=999")
    absent = Requirement("no-such-package-for-responsepredictor>=1")
    assert slicer_setup.missing_requirements([too_new, absent]) == [too_new, absent]
    assert slicer_setup.missing_requirements() == []  # this environment has everything
    assert not slicer_setup.torch_missing()


def test_plan_installs_the_missing_wheels_in_one_plain_step():
    missing = [Requirement("PyWavelets>=1.6"), Requirement("monai>=1.4"), Requirement("PyYAML>=6")]
    steps = slicer_setup.install_plan(missing)
    assert [step.arguments() for step in steps] == [["PyWavelets>=1.6", "monai>=1.4", "PyYAML>=6"]]
    assert [step.plain for step in steps] == [True]
    assert slicer_setup.install_plan([]) == []


def test_requirements_need_no_pyradiomics_and_nothing_built_from_source():
    names = {requirement.name.lower() for requirement in slicer_setup.read_requirements()}
    assert "pyradiomics" not in names and "pywavelets" in names


def test_offline_plan_installs_everything_from_the_wheel_folder(tmp_path):
    missing = [Requirement("PyWavelets>=1.6"), Requirement("monai>=1.4")]
    steps = slicer_setup.install_plan(missing, tmp_path, with_torch=True)
    offline = ["--no-index", "--find-links", str(tmp_path)]
    assert [step.arguments() for step in steps] == [[*offline, "PyWavelets>=1.6", "monai>=1.4", "torch>=2.3"]]
    assert not any(step.plain for step in steps)  # pip_ensure cannot take --find-links
    with pytest.raises(InputError, match="does not exist"):
        slicer_setup.install_plan(missing, tmp_path / "nope")
    with pytest.raises(InputError, match="PyTorch extension"):
        slicer_setup.install_plan(missing, with_torch=True)


def test_consent_text_says_what_where_and_what_it_takes(tmp_path):
    missing = [Requirement("PyWavelets>=1.6")]
    online = slicer_setup.consent_text(missing, torch=True)
    assert "PyWavelets, torch" in online and "internet" in online and "compiler" not in online
    assert "PyTorch extension" in online
    offline = slicer_setup.consent_text(missing, torch=False, wheel_folder=tmp_path)
    assert str(tmp_path) in offline
