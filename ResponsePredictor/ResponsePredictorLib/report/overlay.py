"""A PNG of a heatmap over its scan: axial, coronal and sagittal slices through the tumor.

Each view shows the scan (a CT window for CT, else its 1st-99th percentiles), the tumor's contour,
and the heatmap in its colour map (signed: diverging and symmetric about 0; positive: sequential),
fading to transparent near 0, with one colour bar and its units. The slices are those through the
largest cross-sections of the tumor. Views are shown
in the radiological convention (patient's right on the left of an axial or coronal view, anterior
up in axial, superior up in coronal and sagittal), with millimetre axes so that anisotropic voxels
keep their true proportions. An oblique scan is shown in the closest of these orientations.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import GeometryMismatchError
from ..explain.grid import tumor_mask
from ..explain.heatmap import Heatmap
from ..files import atomic_file
from ..volume import Volume, crop_padded, nonzero_box

# Lung window (level, width) in HU: shows the tumor against lung and its spiculations.
CT_WINDOW = (-600.0, 1500.0)
MARGIN_MM = 15.0  # scan shown around the tumor
# A heatmap value below this fraction of the colour map's extent is fully transparent; above, the
# opacity rises to MAX_ALPHA at the extent.
TRANSPARENT_BELOW = 0.05
MAX_ALPHA = 0.8
CMAPS = {"signed": "RdBu_r", "positive": "inferno"}
TEXT_WIDTH = 115  # characters per line of the title and text lines (fits the figure at this font size)


def save_overlay_picture(
    image: Volume,
    mask: Volume,
    heatmap: Heatmap | None,
    path: str | Path,
    *,
    title: str = "",
    lines: Sequence[str] = (),
    window: tuple[float, float] | None = None,
) -> Path:
    """Write the picture to ``path`` (PNG) and return the path. ``window``: (level, width) of the scan's grey
    scale; by default a lung window for CT, else the tumor region's 1st-99th percentiles."""
    import matplotlib

    matplotlib.use("Agg")  # no display; also what Slicer's background processes have
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    mask, label = tumor_mask(image, mask)
    if heatmap is not None and not heatmap.volume.same_grid(image):
        raise GeometryMismatchError(
            f"The heatmap is not on the image's grid ({'; '.join(heatmap.volume.grid_differences(image))}); draw it over "
            "the image it was computed for."
        )
    region = _Region(image, mask.array == label)
    scan = _oriented(region(image.array.astype(np.float32)), region.volume)
    tumor = _oriented(region((mask.array == label).astype(np.float32)), region.volume)
    heat = _oriented(region(heatmap.volume.array), region.volume) if heatmap is not None else None
    centre = _centre(tumor)
    low, high = _grey_range(scan.array, window)

    figure, axes = plt.subplots(1, 3, figsize=(13, 5.2), layout="constrained")
    norm = cmap = None
    if heatmap is not None:
        cmap = plt.get_cmap(CMAPS[heatmap.colormap])
        low_h, high_h = heatmap.value_range
        if high_h <= low_h:  # an all-zero map: any non-empty range shows it as 0
            low_h, high_h = (-1.0, 1.0) if heatmap.colormap == "signed" else (0.0, 1.0)
        norm = Normalize(low_h, high_h)
    for axis, view in zip(axes, ("axial", "coronal", "sagittal")):
        grey, extent, labels = _slice(scan, view, centre)
        axis.imshow(grey, cmap="gray", vmin=low, vmax=high, extent=extent, interpolation="nearest")
        if heat is not None:
            values = _slice(heat, view, centre)[0]
            axis.imshow(_rgba(values, cmap, norm, heatmap.colormap), extent=extent, interpolation="nearest")
        contour = _slice(tumor, view, centre)[0]
        if contour.any():
            axis.contour(contour, levels=[0.5], colors="lime", linewidths=1.2, extent=extent, origin="upper")
        _label(axis, view, labels)
    if heatmap is not None:
        bar = figure.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, shrink=0.85, pad=0.01)
        bar.set_label(heatmap.units or heatmap.method)
    text = [wrapped for line in (title, *lines) if line for wrapped in textwrap.wrap(line, TEXT_WIDTH)]
    figure.suptitle("\n".join(text), fontsize=10, ha="left", x=0.01)
    path = Path(path)
    with atomic_file(path, suffix=".partial.png") as partial:
        figure.savefig(partial, dpi=110, format="png")
    plt.close(figure)
    return path


class _Region:
    """The box around the tumor (plus a margin) that the picture shows."""

    def __init__(self, image: Volume, tumor: np.ndarray) -> None:
        box = nonzero_box(tumor)
        margin = np.ceil(MARGIN_MM / np.asarray(image.spacing)).astype(int)
        self.start = tuple(int(s.start) - int(m) for s, m in zip(reversed(box), margin))  # type: ignore[arg-type]
        self.stop = tuple(int(s.stop) + int(m) for s, m in zip(reversed(box), margin))  # type: ignore[arg-type]
        self.volume = crop_padded(image.with_array(np.zeros(image.shape, np.uint8)), self.start, self.stop, 0)
        self.reference = image

    def __call__(self, array: np.ndarray) -> np.ndarray:
        pad = np.nan if array.dtype.kind == "f" else 0
        return crop_padded(self.reference.with_array(array), self.start, self.stop, pad).array


def _oriented(array: np.ndarray, grid: Volume) -> Volume:
    """``array`` on ``grid`` permuted and flipped to the closest LPS orientation (i -> L, j -> P, k -> S)."""
    return Volume.from_sitk(sitk.DICOMOrient(grid.with_array(np.asarray(array, np.float32)).to_sitk(), "LPS"))


def _centre(tumor: Volume) -> tuple[int, int, int]:
    """(k, j, i): along each axis, the slice where the tumor's cross-section is largest."""
    inside = tumor.array > 0.5
    return tuple(int(np.argmax(inside.sum(axis=others))) for others in ((1, 2), (0, 2), (0, 1)))  # type: ignore[return-value]


def _grey_range(scan: np.ndarray, window: tuple[float, float] | None) -> tuple[float, float]:
    finite = scan[np.isfinite(scan)]
    if window is None:
        looks_ct = finite.size and finite.min() <= -900  # air in Hounsfield units
        if not looks_ct:
            low, high = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
            return float(low), float(max(high, low + 1e-6))
        window = CT_WINDOW
    level, width = window
    return level - width / 2, level + width / 2


def _slice(volume: Volume, view: str, centre: tuple[int, int, int]) -> tuple[np.ndarray, list[float], tuple[str, str, str, str]]:
    """The 2D slice to show (rows top to bottom), its extent in mm and its edge labels (left, right, top, bottom)."""
    k, j, i = centre
    sx, sy, sz = volume.spacing
    nk, nj, ni = volume.shape
    if view == "axial":  # rows: anterior (top) to posterior; columns: right to left
        return volume.array[k], [0, ni * sx, nj * sy, 0], ("R", "L", "A", "P")
    if view == "coronal":  # rows: superior (top) to inferior; columns: right to left
        return volume.array[::-1, j, :], [0, ni * sx, 0, nk * sz], ("R", "L", "S", "I")
    return volume.array[::-1, :, i], [0, nj * sy, 0, nk * sz], ("A", "P", "S", "I")  # sagittal


def _rgba(values: np.ndarray, cmap, norm, colormap: str) -> np.ndarray:
    rgba = cmap(norm(np.nan_to_num(values)))
    extent = max(abs(norm.vmin), abs(norm.vmax)) or 1.0
    strength = np.abs(np.nan_to_num(values)) / extent if colormap == "signed" else (np.nan_to_num(values) - norm.vmin) / (norm.vmax - norm.vmin)
    rgba[..., 3] = np.where(strength > TRANSPARENT_BELOW, np.clip(strength, 0, 1) * MAX_ALPHA, 0)
    return rgba


def _label(axis, view: str, labels: tuple[str, str, str, str]) -> None:
    left, right, top, bottom = labels
    axis.set_title(view, fontsize=10)
    axis.set_xlabel("mm", fontsize=8)
    axis.tick_params(labelsize=7)
    style = dict(transform=axis.transAxes, color="yellow", fontsize=12, fontweight="bold")
    axis.text(0.02, 0.5, left, ha="left", va="center", **style)
    axis.text(0.98, 0.5, right, ha="right", va="center", **style)
    axis.text(0.5, 0.98, top, ha="center", va="top", **style)
    axis.text(0.5, 0.02, bottom, ha="center", va="bottom", **style)
