"""Packages that only some uses need, which Slicer's first use does not install.

pyproject.toml has them; ``Resources/requirements.txt`` (what a case needs in Slicer) does not:
scikit-survival (training and evaluating survival models; a saved model predicts without it),
dask[distributed] (cohorts on a Dask cluster) and highdicom (DICOM SEG and RTSTRUCT masks). Where the
engine imports one, ``needs`` turns a failed import, or a version too old, into an ``InputError``
that says what to install, and how in Slicer (or why not there).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from packaging.requirements import Requirement

from .errors import InputError


@dataclass(frozen=True)
class OptionalPackage:
    requirement: Requirement  # as pyproject.toml has it
    module: str  # what the engine imports of it
    in_slicer: str  # how to install it in Slicer's Python, or why not to


# scripts/check_slicer_requirements.py --requirements tells where these install from wheels in Slicer,
# leaving its packages as they are: scikit-survival on Windows and Linux (on macOS its ecos has no
# wheel for Python 3.12 on Apple silicon), dask everywhere; highdicom 0.28 nowhere, as it needs pydicom 3.
SCIKIT_SURVIVAL = OptionalPackage(
    Requirement("scikit-survival>=0.28"), "sksurv",
    "in Slicer's Python console: slicer.util.pip_install('scikit-survival'); on a Mac this compiles ecos and "
    "needs Xcode's command line tools")
DASK = OptionalPackage(
    Requirement("dask[distributed]>=2024.1"), "distributed",
    "in Slicer's Python console: slicer.util.pip_install('dask[distributed]')")
HIGHDICOM = OptionalPackage(
    Requirement("highdicom>=0.28"), "highdicom",
    "not in Slicer: it needs pydicom 3 and would replace the pydicom or highdicom that Slicer's DICOM module "
    "uses; there, give the masks as label images (NRRD, NIfTI), or run the cohort with the engine installed "
    "by pip outside Slicer")


def is_satisfied(requirement: Requirement) -> bool:
    """Installed at a version the requirement accepts (pre-releases too; extras are the package's own business)."""
    try:
        return requirement.specifier.contains(version(requirement.name), prereleases=True)
    except PackageNotFoundError:
        return False


@contextmanager
def needs(package: OptionalPackage, purpose: str) -> Iterator[None]:
    """The imports inside the block, which ``purpose`` needs: an ``InputError`` when they fail or find an old version."""
    requirement = package.requirement
    try:
        yield
        if not is_satisfied(requirement):
            installed = version(requirement.name)
            raise InputError(_message(package, purpose, f"this Python has {requirement.name} {installed}"))
    except ImportError as error:  # PackageNotFoundError too: a module without its package's metadata
        raise InputError(_message(package, purpose, f"it is not installed ({error})")) from error


def unusable(package: OptionalPackage, purpose: str) -> str | None:
    """Why ``purpose`` cannot use ``package`` in this Python (the ``needs`` message), or None when it can."""
    try:
        with needs(package, purpose):
            importlib.import_module(package.module)
    except InputError as error:
        return str(error)
    return None


def _message(package: OptionalPackage, purpose: str, problem: str) -> str:
    return f"{purpose} needs {package.requirement}, but {problem}. Install it: pip install '{package.requirement}' ({package.in_slicer})."
