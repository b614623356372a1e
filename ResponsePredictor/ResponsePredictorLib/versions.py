"""Which version of each library is installed: what models, results and diagnostics record."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version


def installed_versions(distributions: Mapping[str, str]) -> dict[str, str]:
    """Name -> installed version of each distribution (``{"sklearn": "scikit-learn"}``), "not installed" where absent."""
    versions = {}
    for name, distribution in distributions.items():
        try:
            versions[name] = version(distribution)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions
