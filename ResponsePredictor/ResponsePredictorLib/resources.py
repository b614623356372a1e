"""Where the module's resources (presets, models, sample data) are on disk.

In the source tree and inside Slicer they sit in ``Resources/`` beside this package's folder
(Slicer's ``resourcePath()`` convention); a wheel installs them inside the package.
"""

from __future__ import annotations

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
