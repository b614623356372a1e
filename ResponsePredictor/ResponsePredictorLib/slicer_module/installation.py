"""First use in Slicer: which Python packages are missing, and the pip steps that install them.

Nothing here installs anything or imports Slicer: the module asks the user first, then runs these
steps through Slicer's own installers. Decided here, and tested outside Slicer:

- ``Resources/requirements.txt`` is what a case needs at run time in Slicer: the subset of
  pyproject.toml's dependencies without torch (the PyTorch extension installs it, built for the
  machine's GPU, with ``TORCH_VERSION_REQUIREMENT``) and without what only training, DICOM SEG or
  cohorts on a cluster need (the engine names the package when one of those is started).
- Every step holds Slicer's own packages at their installed versions (a pip constraints file):
  Slicer's modules import them (its DICOM module imports pydicom and highdicom). torch and
  torchvision are held too, unless the step installs torch itself: a torch from PyPI would replace
  the build the PyTorch extension chose for the GPU.
- Everything installs from wheels for Slicer's Python 3.12 on Windows, macOS on Apple silicon and
  Linux (scripts/check_slicer_requirements.py resolves it for Slicer 5.10 and 5.12), so nothing is
  compiled on the user's machine. Intel Macs have no torch recent enough (``unsupported_platform``).
- Offline: one step installs everything from a local folder of wheels (``--no-index --find-links``),
  torch included when it is missing (the PyTorch extension's installer needs the internet).
"""

from __future__ import annotations

import platform
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from ..errors import InputError
from ..optional_packages import is_satisfied
from ..resources import resource_path

REQUIREMENTS_FILE = "requirements.txt"
# MONAI 1.5 is the first that takes numpy 2, which Slicer 5.10 and 5.12 bundle, and it needs torch 2.4.1.
TORCH = Requirement("torch>=2.4.1")
# What the module passes to PyTorchUtilsLogic().installTorch(torchVersionRequirement=...).
TORCH_VERSION_REQUIREMENT = str(TORCH.specifier)
# The packages Slicer 5.10 and 5.12 bundle (SuperBuild/External_python-*.cmake, and SimpleITK, which
# Slicer builds itself), as pip names them.
SLICER_PACKAGES = (
    "certifi", "cffi", "chardet", "charset-normalizer", "couchdb", "cryptography", "dcmqi", "deprecated",
    "dicomweb-client", "gitdb", "gitpython", "highdicom", "idna", "numpy", "packaging", "pillow", "pycparser",
    "pydicom", "pygithub", "pyjpegls", "pyjwt", "pynacl", "pyparsing", "python-dateutil", "requests", "retrying",
    "scipy", "setuptools", "simpleitk", "six", "smmap", "typing-extensions", "urllib3", "wheel", "wrapt",
)
TORCH_PACKAGES = ("torch", "torchvision")


def requirements_path() -> Path:
    return resource_path(REQUIREMENTS_FILE)


def read_requirements(path: str | Path | None = None) -> list[Requirement]:
    """The requirements in a requirements file (default: the module's), comments and options skipped."""
    path = Path(path) if path is not None else requirements_path()
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def missing_requirements(requirements: list[Requirement] | None = None) -> list[Requirement]:
    return [requirement for requirement in (requirements if requirements is not None else read_requirements())
            if not is_satisfied(requirement)]


def torch_missing() -> bool:
    return not is_satisfied(TORCH)


def unsupported_platform(system: str | None = None, machine: str | None = None) -> str | None:
    """Why first use cannot work on this machine (by default the running one), or None."""
    system, machine = system or platform.system(), machine or platform.machine()
    if system == "Darwin" and machine == "x86_64":  # also Slicer's Intel build on Apple silicon (Rosetta)
        return (f"ResponsePredictor needs torch {TORCH_VERSION_REQUIREMENT}, which PyTorch publishes for Macs with "
                "Apple silicon only: its last build for Intel Macs, 2.2, cannot use the numpy that Slicer bundles. "
                "On a Mac with Apple silicon, install Slicer's Apple silicon (arm64) build.")
    return None


def held_versions(names: tuple[str, ...]) -> dict[str, str]:
    """The installed version of each of ``names`` that is installed."""
    held = {}
    for name in names:
        try:
            installed = version(name)
            Version(installed)  # a constraints file can hold PEP 440 versions only (a local build may have another)
        except (PackageNotFoundError, InvalidVersion):
            continue
        held[name] = installed
    return held


@dataclass(frozen=True)
class PipStep:
    """One pip call: its requirements, the constraints file that holds Slicer's packages, and the
    options they need. ``plain``: no option, so Slicer's ``pip_ensure`` (which takes requirements and
    constraints only) can run it."""

    requirements: tuple[str, ...]
    constraints: Path
    options: tuple[str, ...] = ()

    @property
    def plain(self) -> bool:
        return not self.options

    def arguments(self) -> list[str]:
        return [*self.options, "-c", str(self.constraints), *self.requirements]


def install_plan(missing: list[Requirement], constraints: Path, wheel_folder: str | Path | None = None,
                 with_torch: bool = False) -> list[PipStep]:
    """The pip steps that install ``missing``, in order; from ``wheel_folder`` alone when given.

    ``with_torch`` adds torch (offline only: online, the PyTorch extension installs it).
    """
    offline: tuple[str, ...] = ()
    if wheel_folder is not None:
        folder = Path(wheel_folder)
        if not folder.is_dir():
            raise InputError(f"The folder of wheels {folder} does not exist. Choose the folder you copied the wheels into.")
        offline = ("--no-index", "--find-links", str(folder))
    elif with_torch:
        raise InputError("torch is installed by the PyTorch extension when online; pass a wheel folder to install it offline.")
    wheels = [str(r) for r in missing]
    if with_torch:
        wheels.append(str(TORCH))
    return [PipStep(tuple(wheels), constraints, offline)] if wheels else []


@contextmanager
def pip_steps(missing: list[Requirement], wheel_folder: str | Path | None = None,
              with_torch: bool = False) -> Iterator[list[PipStep]]:
    """``install_plan``'s steps with their constraints file, written for the packages installed now;
    the file is removed when the block ends."""
    held = held_versions(SLICER_PACKAGES if with_torch else SLICER_PACKAGES + TORCH_PACKAGES)
    with tempfile.TemporaryDirectory(prefix="ResponsePredictor-pip-") as folder:
        constraints = Path(folder) / "slicer-constraints.txt"
        constraints.write_text("".join(f"{name}=={held[name]}\n" for name in sorted(held)))
        yield install_plan(missing, constraints, wheel_folder, with_torch)


def consent_text(missing: list[Requirement], torch: bool, wheel_folder: str | Path | None = None) -> str:
    """What the user agrees to: the packages, where they come from, what stays as it is."""
    names = [requirement.name for requirement in missing] + (["torch"] if torch else [])
    text = f"ResponsePredictor needs these Python packages in Slicer's Python: {', '.join(names)}.\n\n"
    if wheel_folder:
        text += f"They are installed from the folder {wheel_folder}, offline: nothing is downloaded."
    else:
        text += "They are downloaded from the Python Package Index (pypi.org): this needs the internet."
        if torch:
            text += (f" torch ({TORCH_VERSION_REQUIREMENT}) comes first, through the PyTorch extension, which asks "
                     "before it downloads the build for this computer's GPU.")
    return text + (" Slicer's own packages (numpy, SciPy, SimpleITK, pydicom...) stay at their versions.\n\n"
                   "Install them now?")
