"""Which version of each library is installed: what models, results and diagnostics record."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version


def installed_versions(distributions: Mapping[str, str]) -> dict[str, str]:
    """Name -> installed version of each distribution (``{"sklearn": "scikit-learn"}``), "not installed" where absent."""
    versions = {}
    for name, distribution in distributions.items():
        try:
            versions[name] = _installed(distribution)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@lru_cache(maxsize=None)
def _installed(distribution: str) -> str:
    # Reading a distribution's metadata costs about a millisecond, a seventh of a small tumor's whole extraction
    # (every case's diagnostics record two). A version found stays cached; an absence raises, which lru_cache does
    # not keep, so a package installed later in the process (Slicer's first use) is seen.
    return version(distribution)
