"""What Slicer's first use installs: it resolves from wheels for Slicer 5.10 and 5.12 on every platform
(scripts/check_slicer_requirements.py, against PyPI), and what it leaves out (scikit-survival, dask,
highdicom) is not needed to run a case: without them a saved model still predicts, and starting what
does need them says what to install."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tomllib
from importlib.metadata import version

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import REPO_ROOT
from predict_synthetic import feature_table, survival_outcome
from ResponsePredictorLib import optional_packages
from ResponsePredictorLib.errors import InputError
from ResponsePredictorLib.predict import SurvivalModel, SurvivalOutcome, save_model
from ResponsePredictorLib.resources import sample_case
from ResponsePredictorLib.slicer_module import installation

SCRIPT = REPO_ROOT / "scripts" / "check_slicer_requirements.py"
sys.path.insert(0, str(SCRIPT.parent))
import check_slicer_requirements as check  # noqa: E402  (a script, not a package)

COXNET_GRID = {"l1_ratio": [0.5], "alpha_ratio": [0.1]}


def pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def bundled() -> dict[str, dict[str, str]]:
    """Slicer version -> the packages it bundles and their versions."""
    missing = [path for version in check.SLICER_VERSIONS
               if not (path := check.constraints_file(version, check.CONSTRAINTS_DIR)).is_file()]
    if missing:
        pytest.skip(f"Slicer's constraints files not found ({missing[0]}; set RP_SLICER_DIR)")
    return {version: check.bundled_versions(version, check.CONSTRAINTS_DIR) for version in check.SLICER_VERSIONS}


def test_first_use_holds_every_package_either_slicer_bundles(bundled):
    names = set().union(*bundled.values())
    assert names <= set(installation.SLICER_PACKAGES)


def test_no_requirement_asks_for_another_version_of_a_bundled_package(bundled):
    for requirement in installation.read_requirements():
        for slicer, packages in bundled.items():
            name = canonicalize_name(requirement.name)
            if name in packages:
                assert requirement.specifier.contains(packages[name]), (requirement, slicer, packages[name])


def test_platform_tags_are_those_of_slicers_oldest_supported_systems():
    arm = check.platform_tags("macOS arm64", "5.10.0")
    assert "macosx_13_0_arm64" in arm and "macosx_11_0_arm64" in arm and "macosx_14_0_arm64" not in arm
    assert "macosx_14_0_arm64" in check.platform_tags("macOS arm64", "5.12.3")
    assert "macosx_10_9_x86_64" in check.platform_tags("macOS x86_64", "5.10.0")
    linux = check.platform_tags("Linux", "5.12.3")
    assert linux[0] == "manylinux_2_28_x86_64" and "manylinux2014_x86_64" in linux and "manylinux_2_31_x86_64" not in linux


def test_a_plan_that_changes_a_bundled_package_fails_the_check():
    bundled = {"numpy": "2.0.2", "simpleitk": "2.5.2"}
    assert check.changes_to_slicer({"numpy": "2.0.2", "monai": "1.6.1"}, bundled) == []
    assert check.changes_to_slicer({"numpy": "2.4.6", "vtk": "9.5.0"}, bundled) == [
        "would install numpy 2.4.6, Slicer has 2.0.2", "would install vtk 9.5.0, which Slicer builds itself"]


def test_pips_decisive_lines_leave_out_its_advice():
    output = """ERROR: Cannot install highdicom>=0.28 because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested highdicom>=0.28
    The user requested (constraint) highdicom==0.27.0

To fix this you could try to:
1. loosen the range of package versions you've specified
ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/
"""
    assert check.decisive_lines(output) == [
        "Cannot install highdicom>=0.28 because these package versions have conflicting dependencies.",
        "The user requested highdicom>=0.28", "The user requested (constraint) highdicom==0.27.0"]


@pytest.mark.slow
def test_first_use_resolves_from_wheels_for_both_slicers_on_every_platform(bundled):
    if not pypi_reachable():
        pytest.skip("pypi.org cannot be reached: the check resolves against PyPI")
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "8 of 8 as expected" in done.stdout


# Runs in a Python where the packages first use leaves out cannot be imported, as in Slicer after it.
WITHOUT_LEFT_OUT_PACKAGES = """
import io, json, sys
from contextlib import redirect_stderr
from importlib.abc import MetaPathFinder

LEFT_OUT = ("sksurv", "dask", "distributed", "highdicom")


class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in LEFT_OUT:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, NotInstalled())
testing, model_folder, out, manifest = sys.argv[1:]
sys.path.insert(0, testing)
from predict_synthetic import feature_table, survival_outcome
from ResponsePredictorLib.cli import main
from ResponsePredictorLib.errors import InputError
from ResponsePredictorLib.predict import SurvivalModel, load_model

found = {"demo": main(["demo", "-o", out + "/demo"])}  # the default model, a coxnet one
found["saved_coxnet"] = load_model(model_folder).model.outputs(feature_table(n=60)).to_numpy().tolist()
try:
    SurvivalModel(learner="coxnet", param_grid=%r, inner_folds=3, n_bootstrap=4).fit(feature_table(n=60), survival_outcome(feature_table(n=60)))
except InputError as error:
    found["training"] = str(error)
with redirect_stderr(io.StringIO()) as said:
    found["scheduler_exit"] = main(["run", manifest, "-o", out + "/cohort", "--scheduler", "tcp://127.0.0.1:1"])
found["scheduler"] = said.getvalue()
print(json.dumps(found))
""" % (COXNET_GRID,)


@pytest.mark.slow
def test_a_case_runs_and_a_saved_model_predicts_without_what_first_use_leaves_out(tmp_path):
    X = feature_table(n=60)
    model = SurvivalModel(learner="coxnet", param_grid=COXNET_GRID, inner_folds=3, n_bootstrap=4).fit(X, survival_outcome(X))
    save_model(model, SurvivalOutcome("time", "event"), tmp_path / "coxnet", {"name": "test"}, "# test\n")
    sample = sample_case()
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"case,image,mask\n{sample.case},{sample.image},{sample.mask}\n")
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_LEFT_OUT_PACKAGES, str(REPO_ROOT / "Testing"), str(tmp_path / "coxnet"),
         str(tmp_path / "out"), str(manifest)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["demo"] == 0 and (tmp_path / "out" / "demo" / sample.case / "prediction.json").is_file()
    assert found["saved_coxnet"] == model.outputs(X).to_numpy().tolist()
    assert "Training a survival model (coxnet) needs scikit-survival>=0.28, but it is not installed" in found["training"]
    assert "pip install 'scikit-survival>=0.28'" in found["training"] and "slicer.util.pip_install" in found["training"]
    assert found["scheduler_exit"] != 0 and "(--scheduler) needs dask[distributed]>=2024.1" in found["scheduler"]


def test_what_first_use_leaves_out_is_asked_for_as_pyproject_has_it():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    declared = {str(Requirement(line)) for line in pyproject["project"]["dependencies"]}
    for package in (optional_packages.SCIKIT_SURVIVAL, optional_packages.DASK, optional_packages.HIGHDICOM):
        assert str(package.requirement) in declared


def test_an_optional_package_too_old_is_said_and_slicer_users_are_told_what_not_to_do():
    too_old = optional_packages.OptionalPackage(Requirement("numpy>=999"), "numpy", "not in Slicer: it would replace Slicer's numpy")
    with pytest.raises(InputError) as raised, optional_packages.needs(too_old, "Reading the moon"):
        import numpy  # noqa: F401
    assert str(raised.value) == (f"Reading the moon needs numpy>=999, but this Python has numpy {version('numpy')}. "
                                 "Install it: pip install 'numpy>=999' (not in Slicer: it would replace Slicer's numpy).")
    with optional_packages.needs(optional_packages.HIGHDICOM, "DICOM SEG"):  # this environment has highdicom 0.28
        import highdicom  # noqa: F401
