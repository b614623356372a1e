"""The heatmap type and its files: a float32 ``Volume`` on the input image's grid, saved as NRRD,
with a sidecar JSON that says how to show and read it.

    heatmap.nrrd   the map (0 outside the tumor)
    heatmap.json   {"colormap", "method", "description", "value_range", "units", "notes"}

Both are written atomically; ``read_heatmap`` checks that the pair belongs together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ImageReadError, InputError
from ..tables import write_json
from ..volume import Volume, read_volume, write_volume

COLORMAPS = ("signed", "positive")
SIDECAR_FORMAT = "responsepredictor-heatmap"


@dataclass(frozen=True)
class Heatmap:
    """Where in the tumor a prediction comes from, on the input image's grid.

    ``colormap`` "signed": diverging, symmetric about 0 (positive pushes towards the predicted outcome,
    negative against); "positive": sequential (importance without a direction). ``value_range`` is the
    range the colour map spans; ``notes`` what the map leaves out or assumes.
    """

    volume: Volume
    colormap: str
    method: str
    description: str
    value_range: tuple[float, float]
    notes: list[str] = field(default_factory=list)
    units: str = ""  # shown on the colour bar, e.g. "risk score (log hazard ratio) per voxel"

    def __post_init__(self) -> None:
        if self.colormap not in COLORMAPS:
            raise InputError(f"Unknown heatmap colour map {self.colormap!r}; use one of {', '.join(COLORMAPS)}.")
        low, high = (float(v) for v in self.value_range)
        if not (np.isfinite(low) and np.isfinite(high)) or low > high:
            raise InputError(f"A heatmap's value range must be two finite numbers, low <= high; got {self.value_range}.")
        object.__setattr__(self, "value_range", (low, high))
        object.__setattr__(self, "notes", [str(note) for note in self.notes])
        if self.volume.array.dtype != np.float32:
            object.__setattr__(self, "volume", self.volume.with_array(self.volume.array.astype(np.float32)))


def display_range(values: np.ndarray, colormap: str) -> tuple[float, float]:
    """The colour map's span for these map values: symmetric about 0 for signed maps."""
    finite = values[np.isfinite(values)]
    extent = float(np.max(np.abs(finite))) if finite.size else 0.0
    if colormap == "signed":
        return (-extent, extent)
    return (min(0.0, float(finite.min())) if finite.size else 0.0, extent)


def sidecar_path(path: str | Path) -> Path:
    """``heatmap.nrrd`` -> ``heatmap.json``."""
    path = Path(path)
    return path.with_name(path.name[: -len(".nrrd")] + ".json" if path.name.lower().endswith(".nrrd") else path.name + ".json")


def write_heatmap(heatmap: Heatmap, path: str | Path) -> Path:
    """Write the map as NRRD (float32, compressed) and its sidecar JSON; returns the NRRD path."""
    path = Path(path)
    if not path.name.lower().endswith(".nrrd"):
        raise InputError(f"Write heatmaps as .nrrd files (with a .json beside them); got {path}.")
    write_volume(heatmap.volume, path)
    write_json(
        {"format": SIDECAR_FORMAT, "colormap": heatmap.colormap, "method": heatmap.method,
         "description": heatmap.description, "value_range": list(heatmap.value_range), "units": heatmap.units,
         "notes": heatmap.notes},
        sidecar_path(path),
    )
    return path


def read_heatmap(path: str | Path) -> Heatmap:
    """Read a heatmap written by ``write_heatmap`` (the NRRD and its sidecar JSON)."""
    path = Path(path)
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        raise ImageReadError(
            f"{sidecar} not found: a heatmap is the NRRD and the JSON beside it (colour map, method, value range). "
            "Copy both files together."
        )
    volume = read_volume(path)
    try:
        info = json.loads(sidecar.read_text())
        if info.get("format") != SIDECAR_FORMAT:
            raise ValueError(f"format is {info.get('format')!r}, not {SIDECAR_FORMAT!r}")
        return Heatmap(
            volume=volume.with_array(np.asarray(volume.array, np.float32)),
            colormap=info["colormap"], method=str(info["method"]), description=str(info["description"]),
            value_range=tuple(info["value_range"]), notes=list(info.get("notes", [])), units=str(info.get("units", "")),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ImageReadError(f"{sidecar} is not a valid heatmap description ({error}).") from None
