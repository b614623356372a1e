"""Shared test settings.

Tests that need the public data set (IBSI phantoms, pyradiomics cases, NSCLC crops) find it through
one setting, the environment variable RP_DATA_DIR (default: ../shared/data beside the repository),
and skip with the reason when it is absent. Unit tests never need it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("RP_DATA_DIR", REPO_ROOT.parent / "shared" / "data")).resolve()


def data_path(*parts: str) -> Path:
    """A path inside the public data folder; skips the calling test when it is not there."""
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"public data not found at {path} (set RP_DATA_DIR to the shared data folder)")
    return path


@pytest.fixture
def data_dir() -> Path:
    return data_path()
