"""Rewrite the module's CMake file lists from the files on disk.

Slicer installs only the files that ResponsePredictor/CMakeLists.txt names, so every engine file and
resource must be listed there. Run this after adding or removing one:

    python scripts/update_cmake_lists.py

Testing/test_extension_layout.py uses ``module_files`` too and fails when the lists and the tree differ.
"""

from __future__ import annotations

import re
from pathlib import Path

MODULE_DIR = Path(__file__).resolve().parents[1] / "ResponsePredictor"
CMAKE = MODULE_DIR / "CMakeLists.txt"


def module_files() -> dict[str, list[str]]:
    """The files each CMake list must name, relative to the module folder, sorted."""
    def under(folder: str, pattern: str) -> set[str]:
        return {
            path.relative_to(MODULE_DIR).as_posix()
            for path in (MODULE_DIR / folder).rglob(pattern)
            if path.is_file() and "__pycache__" not in path.parts
        }

    return {
        "MODULE_PYTHON_SCRIPTS": sorted(under("ResponsePredictorLib", "*.py") | {"ResponsePredictor.py"}),
        "MODULE_PYTHON_RESOURCES": sorted(under("Resources", "*")),
    }


def main() -> None:
    text = CMAKE.read_text()
    for name, files in module_files().items():
        lines = "\n".join("  " + file.replace("ResponsePredictor", "${MODULE_NAME}", 1) for file in files)
        text, count = re.subn(rf"set\({name}\n.*?\n(\s*)\)", lambda m: f"set({name}\n{lines}\n{m.group(1)})", text,
                              count=1, flags=re.S)
        if count != 1:
            raise SystemExit(f"{name} not found in {CMAKE}")
    CMAKE.write_text(text)
    print(f"{CMAKE}: " + ", ".join(f"{name} {len(files)} files" for name, files in module_files().items()))


if __name__ == "__main__":
    main()
