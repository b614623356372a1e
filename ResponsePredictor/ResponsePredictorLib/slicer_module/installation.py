"""First use in Slicer: which Python packages are missing, and the pip steps that install them.

Nothing here installs anything or imports Slicer: the module asks the user first, then runs these
steps through Slicer's own installers. Decided here, and tested outside Slicer:

- ``Resources/requirements.txt`` lists every runtime dependency with a ``>=`` floor, except torch,
  which the PyTorch extension installs (it picks the build for the machine's GPU).
- Every requirement installs from a wheel: the radiomics engine is the module's own, so nothing is
  compiled on the user's machine (pyradiomics, which has no wheel for Slicer's Python, is not needed).
- Offline: every step installs from a local folder of wheels (``--no-index --find-links``),
  torch included when it is missing (the PyTorch extension's installer needs the internet).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

from ..errors import InputError
from ..resources import resource_path

REQUIREMENTS_FILE = ("requirements.txt",)
TORCH = Requirement("torch>=2.3")  # pyproject.toml's floor; installed by the PyTorch extension online


def read_requirements(path: str | Path | None = None) -> list[Requirement]:
    """The requirements in a requirements file (default: the module's), comments and options skipped."""
    path = Path(path) if path is not None else resource_path(*REQUIREMENTS_FILE)
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def is_satisfied(requirement: Requirement) -> bool:
    """Installed at a version the requirement accepts (extras are the package's own business)."""
    try:
        installed = version(requirement.name)
    except PackageNotFoundError:
        return False
    return requirement.specifier.contains(installed, prereleases=True)


def missing_requirements(requirements: list[Requirement] | None = None) -> list[Requirement]:
    return [requirement for requirement in (requirements if requirements is not None else read_requirements())
            if not is_satisfied(requirement)]


def torch_missing() -> bool:
    return not is_satisfied(TORCH)


@dataclass(frozen=True)
class PipStep:
    """One pip call: its requirements and the options they need. ``plain``: no option, so Slicer's
    ``pip_ensure`` (which takes requirements only) can run it."""

    requirements: tuple[str, ...]
    options: tuple[str, ...] = ()

    @property
    def plain(self) -> bool:
        return not self.options

    def arguments(self) -> list[str]:
        return [*self.options, *self.requirements]


def install_plan(missing: list[Requirement], wheel_folder: str | Path | None = None,
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
    return [PipStep(tuple(wheels), offline)] if wheels else []


def consent_text(missing: list[Requirement], torch: bool, wheel_folder: str | Path | None = None) -> str:
    """What the user agrees to: the packages, where they come from, what it takes."""
    names = [requirement.name for requirement in missing] + (["torch"] if torch else [])
    source = f"from the folder {wheel_folder} (offline)" if wheel_folder else "from the Python Package Index (internet)"
    text = (f"ResponsePredictor needs these Python packages in Slicer's Python: {', '.join(names)}.\n\n"
            f"Install them now, {source}?")
    if torch and not wheel_folder:
        text += " torch is installed by the PyTorch extension, which may ask which build to use."
    return text
