"""Feature columns of a case with several scans and regions: which scan and which region a column is of.

The primary scan's tumor features keep pyradiomics' names, as a single-scan case's do, so that models
trained on earlier tables keep working. Another scan's columns are prefixed with its name
(``PET_original_firstorder_Mean``), a peritumoral shell's with ``peri<MM>mm`` (``peri5mm_...`` on the
primary scan, ``PET_peri5mm_...`` on another).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import SettingsError
from .names import DEEP_NAME, RADIOMIC_NAME

SHELL = re.compile(r"peri(?P<mm>\d+(?:\.\d+)?)mm")
# A scan name becomes a column prefix and a file name: a letter, then letters, digits and single '_'.
SCAN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*")
# The words of a pyradiomics name that a scan name must not be, or the columns would read ambiguously.
RESERVED = {"original", "log", "wavelet", "square", "squareroot", "logarithm", "exponential", "gradient", "lbp",
            "diagnostics", "case"}
# Group labels: the primary scan's own tumor, a scan's tumor, deep features, and the rest (covariates).
PRIMARY, TUMOR, DEEP, CLINICAL = "primary scan", "tumor", "deep features", "clinical"


@dataclass(frozen=True)
class ColumnOrigin:
    scan: str | None  # None: the primary scan
    shell_mm: float | None  # None: the tumor itself
    base: str  # the pyradiomics name (or the column itself, for a covariate or a deep feature)
    radiomic: bool = True
    deep: bool = False  # a deep feature of the primary tumor (``deep_<i>``)

    @property
    def group(self) -> str:
        """"PET peri5mm", "primary scan tumor", "clinical": how contributions are grouped."""
        if self.deep:
            return DEEP
        if not self.radiomic:
            return CLINICAL
        region = TUMOR if self.shell_mm is None else shell_label(self.shell_mm)
        return f"{self.scan or PRIMARY} {region}"


def shell_label(distance_mm: float) -> str:
    """``peri5mm``, ``peri2.5mm``."""
    return f"peri{float(distance_mm):g}mm"


def check_scan_name(name: str) -> str:
    """``name`` when it can name a scan's columns and files, else a ``SettingsError`` saying why."""
    if not SCAN_NAME.fullmatch(name or ""):
        raise SettingsError(f"Scan name {name!r}: use a letter, then letters, digits and single '_' (e.g. PET, MR_T1).")
    words = {word.lower() for word in name.split("_")}
    if words & RESERVED or any(SHELL.fullmatch(word) for word in words):
        raise SettingsError(f"Scan name {name!r} holds a word of the feature names "
                            f"({', '.join(sorted(words & RESERVED)) or 'peri<MM>mm'}); choose another.")
    return name


def column_prefix(scan: str | None, shell_mm: float | None) -> str:
    """What the features of ``scan`` (None: primary) in the tumor or a shell are prefixed with."""
    parts = ([scan] if scan else []) + ([shell_label(shell_mm)] if shell_mm is not None else [])
    return "".join(f"{part}_" for part in parts)


def column_origin(name: str) -> ColumnOrigin:
    """The scan and region of a feature column (its prefixes; a column without them: the primary's tumor)."""
    if DEEP_NAME.match(name):
        return ColumnOrigin(None, None, name, radiomic=False, deep=True)
    match = RADIOMIC_NAME.match(name)
    if match is None:
        return ColumnOrigin(None, None, name, radiomic=False)
    prefix = match["prefix"] or ""
    if not prefix:
        return ColumnOrigin(None, None, name)
    base = name[len(prefix) + 1:]
    words = prefix.split("_")
    shell = SHELL.fullmatch(words[-1])
    if shell:
        return ColumnOrigin("_".join(words[:-1]) or None, float(shell["mm"]), base)
    return ColumnOrigin(prefix, None, base)


def base_name(name: str) -> str:
    """The pyradiomics name of a feature column, without its scan and shell prefixes."""
    return column_origin(name).base


def extended_columns(columns: Iterable[str]) -> list[str]:
    """The columns of other scans, shells or deep features: what a single scan's radiomics do not make."""
    return [name for name in columns if (origin := column_origin(name)).scan or origin.shell_mm or origin.deep]
