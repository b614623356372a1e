"""Where the module's resources (presets, models, sample data) are on disk.

In the source tree and inside Slicer they sit in ``Resources/`` beside this package's folder
(Slicer's ``resourcePath()`` convention); a wheel installs them inside the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def resources_dir() -> Path:
    for candidate in (_PACKAGE_DIR / "Resources", _PACKAGE_DIR.parent / "Resources"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"ResponsePredictor's Resources folder is missing (looked beside {_PACKAGE_DIR}). Reinstall the "
        "extension or the package."
    )


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


@dataclass(frozen=True)
class SampleCase:
    """The bundled real case (NSCLC-Radiogenomics patient 070, CC BY 3.0; see SampleData/README.md)."""

    case: str
    image: Path  # CT crop, int16 HU
    mask: Path  # the expert's tumor mask
    clinical: Path  # JSON: the covariates the default survival model takes


def sample_case() -> SampleCase:
    """The sample case that the demo, the in-Slicer self-test and the tests run."""
    return SampleCase("nsclc070", resource_path("SampleData", "nsclc070_ct.nrrd"),
                      resource_path("SampleData", "nsclc070_tumor.nrrd"),
                      resource_path("SampleData", "nsclc070_clinical.json"))
