"""The Slicer extension's files agree with each other: CMake lists, catalog entry, package metadata."""

from __future__ import annotations

import json
import re
import tomllib

import jsonschema
import pytest

from conftest import REPO_ROOT, script_module

MODULE_DIR = REPO_ROOT / "ResponsePredictor"


def cmake_list(name: str) -> set[str]:
    text = (MODULE_DIR / "CMakeLists.txt").read_text()
    block = re.search(rf"set\({name}\n(.*?)\n\s*\)", text, re.S)
    assert block, f"{name} not found in ResponsePredictor/CMakeLists.txt"
    return {line.strip().replace("${MODULE_NAME}", "ResponsePredictor") for line in block.group(1).splitlines()}


def on_disk() -> dict[str, list[str]]:
    """What the lists must name, by the rule scripts/update_cmake_lists.py writes them with."""
    return script_module("update_cmake_lists").module_files()


def test_cmake_lists_every_engine_file():
    # Fix a failure with: python scripts/update_cmake_lists.py
    assert cmake_list("MODULE_PYTHON_SCRIPTS") == set(on_disk()["MODULE_PYTHON_SCRIPTS"])


def test_cmake_lists_every_resource():
    assert cmake_list("MODULE_PYTHON_RESOURCES") == set(on_disk()["MODULE_PYTHON_RESOURCES"])


def test_extension_metadata():
    text = (REPO_ROOT / "CMakeLists.txt").read_text()
    for field in ("HOMEPAGE", "CATEGORY", "CONTRIBUTORS", "DESCRIPTION", "ICONURL", "SCREENSHOTURLS"):
        assert re.search(rf'set\(EXTENSION_{field} "[^"]+"\)', text), field
    assert re.search(r'set\(EXTENSION_DEPENDS "[^"]*\bPyTorch\b[^"]*"\)', text)
    assert "add_subdirectory(ResponsePredictor)" in text
    assert "WITH_GENERIC_TESTS" in (MODULE_DIR / "CMakeLists.txt").read_text()


def test_catalog_entry_is_schema_valid_and_matches_cmake():
    entry = json.loads((REPO_ROOT / "ResponsePredictor.json").read_text())
    schema = json.loads((REPO_ROOT / "Testing" / "Data" / "slicer-extension-catalog-entry-schema-v1.0.1.json").read_text())
    jsonschema.validate(entry, schema)
    cmake = (REPO_ROOT / "CMakeLists.txt").read_text()
    assert f'set(EXTENSION_CATEGORY "{entry["category"]}")' in cmake
    assert f'set(EXTENSION_HOMEPAGE "{entry["scm_url"]}")' in cmake


def test_package_metadata_covers_the_engine():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    assert project["scripts"]["responsepredictor"] == "ResponsePredictorLib.cli:main"
    assert project["version"] == __import__("ResponsePredictorLib").__version__
    # A wheel holds only the packages listed; every engine folder with Python code must be one.
    lib = MODULE_DIR / "ResponsePredictorLib"
    subpackages = {
        "ResponsePredictorLib." + ".".join(init.parent.relative_to(lib).parts)
        for init in lib.rglob("__init__.py")
        if init.parent != lib
    }
    listed = set(pyproject["tool"]["setuptools"]["packages"])
    assert subpackages | {"ResponsePredictorLib", "ResponsePredictorLib.Resources"} == listed


def test_the_minimum_slicer_is_declared_where_cmake_and_the_module_check_it():
    """CMake refuses an older Slicer when the extension is configured, the module when it loads.

    The catalog entry's schema (v1.0.1; also v1.0.2 at Slicer 5.12) has no field for it: the
    ExtensionsIndex keeps one branch per Slicer release, and the entry goes on those of 5.10 and later.
    """
    from ResponsePredictorLib.slicer_module import compatibility

    major, minor = compatibility.MINIMUM_SLICER
    cmake = (REPO_ROOT / "CMakeLists.txt").read_text()
    assert re.search(rf"find_package\(Slicer {major}\.{minor} REQUIRED\)", cmake)
    schema = json.loads((REPO_ROOT / "Testing" / "Data" / "slicer-extension-catalog-entry-schema-v1.0.1.json").read_text())
    assert not any("version" in name for name in schema["properties"])


@pytest.mark.parametrize("tag", ["v5.10.0", "v5.12.3"])
def test_slicers_package_version_file_refuses_an_older_slicer(tag):
    """find_package(Slicer 5.10) works because Slicer configures SlicerConfigVersion.cmake from this file."""
    from slicer_python import slicer_file

    text = slicer_file(tag, "CMake/SlicerConfigVersion.cmake.in")
    assert 'set(PACKAGE_VERSION "@Slicer_VERSION@")' in text
    assert re.search(r'if\("\$\{PACKAGE_VERSION\}" VERSION_LESS "\$\{PACKAGE_FIND_VERSION\}"\)\s*'
                     r"set\(PACKAGE_VERSION_COMPATIBLE FALSE\)", text)
