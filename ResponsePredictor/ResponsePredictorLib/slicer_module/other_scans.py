"""A case's other scans (PET, CT, MR_T1...: co-registered scans of the same patient beside the primary
one), as the background run sends them and reads them back, without MRML.

The engine takes them in the manifest as ``image_<NAME>`` (and ``mask_<NAME>``, the scan's own tumor
mask on its grid; without it the primary's tumor is carried onto that grid), names their feature
columns ``<NAME>_...``, and leaves each one's mask (and heatmap) in ``scans/<NAME>/`` of the case
folder, with its state in result.json's provenance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..errors import InputError, SettingsError
from ..features.columns import check_scan_name
from ..features.recipe import modality_preset
from .engine_run import JobFailed

if TYPE_CHECKING:
    from ..explain import Heatmap
    from ..volume import Volume

# The engine's words (pipeline.scans, pipeline.case_folder), copied: importing them needs torch.
OWN_MASK = "own mask"  # a scan's mask_source when its own mask was given (else the primary's was carried)
DONE, MISSING = "done", "missing"
SCANS_DIR = "scans"


class Scan(NamedTuple):
    """Another scan of the case, co-registered with the primary: its image and, optionally, its own
    tumor mask on its grid. Files in a ``JobRequest``; Volumes given to ``BackgroundRun.start``."""

    image: Any
    mask: Any = None


def check_scan_names(names: Iterable[str]) -> None:
    """Refuse names the engine cannot take, names that say no modality (in the panel the name chooses the
    scan's radiomics settings), and two names that differ only in case: each names a folder, and Windows
    and macOS do not tell ``PET`` from ``pet``."""
    seen: dict[str, str] = {}
    for name in names:
        check_scan_name(name)
        try:
            modality_preset(name)
        except SettingsError:
            raise InputError(f"Scan {name!r}: name it after its modality (PET, CT, MR_T1, T2, ...): the name chooses its "
                             "radiomics settings.") from None
        if name.lower() in seen:
            raise InputError(f"Two scans are named {seen[name.lower()]!r} and {name!r}; give each scan its own name.")
        seen[name.lower()] = name


def check_distinct(primary: Volume, scans: Mapping[str, Scan]) -> None:
    """Refuse another scan that is the primary scan, or another scan, again: its features would only repeat."""
    images = [(None, primary)] + [(name, scan.image) for name, scan in scans.items()]  # None: the primary
    for (first, one), (second, other) in combinations(images, 2):
        if one.same_grid(other) and np.array_equal(one.array, other.array):
            earlier = "the primary scan" if first is None else f"scan {first!r}"
            raise InputError(f"Scan {second!r} is the same image as {earlier}; choose another volume.")


def manifest_columns(scans: Mapping[str, Scan]) -> dict[str, str]:
    """The manifest's columns for the other scans' files."""
    columns = {}
    for name, scan in scans.items():
        columns[f"image_{name}"] = str(scan.image)
        if scan.mask is not None:
            columns[f"mask_{name}"] = str(scan.mask)
    return columns


def write_scans(scans: Mapping[str, Scan], folder: Path) -> dict[str, Scan]:
    """The scans' Volumes written into the run's folder (``scan_<NAME>.nrrd``, ``scan_<NAME>_mask.nrrd``),
    as the files the request names; their names checked (``check_scan_names``) before."""
    from ..volume import write_volume  # SimpleITK: only once a run starts

    return {name: Scan(write_volume(scan.image, folder / f"scan_{name}.nrrd"),
                       None if scan.mask is None else write_volume(scan.mask, folder / f"scan_{name}_mask.nrrd"))
            for name, scan in scans.items()}


@dataclass(frozen=True)
class ScanOutputs:
    """What a run left for one other scan: the tumor mask on that scan's grid, its heatmap when the model
    uses that scan's features with a map, and whether the mask was carried from the primary scan."""

    mask: Volume
    heatmap: Heatmap | None
    carried: bool


def scan_states(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each other scan's state in a case's result.json (status, mask_source...)."""
    return dict((result.get("provenance") or {}).get("scans") or {})


def missing_scans(result: Mapping[str, Any]) -> list[str]:
    """The other scans the run reports missing, by name."""
    return [name for name, state in scan_states(result).items() if state.get("status") == MISSING]


def read_scan_outputs(folder: Path, result: Mapping[str, Any]) -> dict[str, ScanOutputs]:
    """The other scans the run used, read from ``scans/<NAME>/`` of the case folder."""
    from ..explain import read_heatmap
    from ..volume import read_volume

    outputs = {}
    for name, state in scan_states(result).items():
        if state.get("status") != DONE:
            continue
        scan_folder = Path(folder) / SCANS_DIR / name
        if not (scan_folder / "mask.nrrd").is_file():
            raise JobFailed(f"The run left no tumor mask for scan {name!r} in {scan_folder}.")
        heatmap = scan_folder / "heatmap.nrrd"
        outputs[name] = ScanOutputs(read_volume(scan_folder / "mask.nrrd"),
                                    read_heatmap(heatmap) if heatmap.is_file() else None,
                                    carried=state.get("mask_source") != OWN_MASK)
    return outputs
