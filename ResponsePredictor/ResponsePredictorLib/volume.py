"""One image type for the whole engine, and reading and writing it.

``Volume`` holds a 3D numpy array indexed ``[k, j, i]`` (slice, row, column: the order of
SimpleITK's ``GetArrayFromImage`` and Slicer's ``arrayFromVolume``) with its geometry in LPS
physical space as SimpleITK keeps it: ``spacing`` and ``origin`` as ``(x, y, z)`` in mm and
``direction`` as the 3x3 matrix (row-major, 9 numbers) whose columns are the i, j, k axes.
The MRML side converts to and from Slicer's RAS convention; nothing else does.

Files: NRRD (.nrrd, .nhdr), NIfTI (.nii, .nii.gz), MetaImage (.mha, .mhd), and DICOM series
given as a folder (see ``dicom.py``).
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .errors import GeometryMismatchError, ImageContentError, ImageReadError, MaskError
from .files import atomic_file

IMAGE_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")

# Two grids count as the same when they differ by less than this (mm for origin and spacing,
# unitless for direction cosines): enough to absorb float32 round-off in file headers, far below
# any real voxel size.
GRID_TOLERANCE = 1e-4


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3D array with its voxel grid in LPS physical space."""

    array: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]
    # The SimpleITK image a Volume was read from, when it was: to_sitk() then hands it back without
    # copying the voxels again, and the array is made read-only so that the two cannot diverge.
    _image: sitk.Image | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise ImageContentError(
                f"A Volume needs a 3D array; got {self.array.ndim}D with shape {self.array.shape}."
            )
        object.__setattr__(self, "spacing", tuple(float(s) for s in self.spacing))
        object.__setattr__(self, "origin", tuple(float(o) for o in self.origin))
        object.__setattr__(self, "direction", tuple(float(d) for d in self.direction))
        if len(self.spacing) != 3 or len(self.origin) != 3 or len(self.direction) != 9:
            raise ImageContentError("A Volume needs 3 spacings, 3 origin coordinates and 9 direction cosines.")
        if min(self.spacing) <= 0:
            raise ImageContentError(f"Voxel spacing must be positive; got {self.spacing}.")

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape, ``(k, j, i)``."""
        return self.array.shape  # type: ignore[return-value]

    @property
    def size(self) -> tuple[int, int, int]:
        """Grid size in SimpleITK order, ``(i, j, k)``."""
        return tuple(reversed(self.array.shape))  # type: ignore[return-value]

    def with_array(self, array: np.ndarray) -> Volume:
        """A new Volume on this grid holding ``array`` (same shape)."""
        if array.shape != self.array.shape:
            raise GeometryMismatchError(f"Array shape {array.shape} does not match the grid {self.array.shape}.")
        return Volume(array, self.spacing, self.origin, self.direction)

    @classmethod
    def from_sitk(cls, image: sitk.Image) -> Volume:
        if image.GetDimension() != 3:
            raise ImageContentError(
                f"ResponsePredictor analyses 3D volumes; this image is {image.GetDimension()}D "
                f"(size {image.GetSize()}). Load the whole series or volume, not a single slice."
            )
        if image.GetNumberOfComponentsPerPixel() != 1:
            raise ImageContentError(
                f"The image has {image.GetNumberOfComponentsPerPixel()} components per voxel (colour or "
                "vector data); a scalar CT, MR or PET volume is needed."
            )
        # A copy, not GetArrayViewFromImage: a view does not keep its image alive.
        array = sitk.GetArrayFromImage(image)
        array.flags.writeable = False
        return cls(array, image.GetSpacing(), image.GetOrigin(), image.GetDirection(), _image=image)

    def to_sitk(self) -> sitk.Image:
        if self._image is not None:
            # SimpleITK copies images lazily (copy on write): the caller may change its image, never ours.
            return sitk.Image(self._image)
        image = sitk.GetImageFromArray(self.array)
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(self.direction)
        return image

    def index_to_physical(self, index: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """LPS millimetres of a (continuous) voxel index given as (i, j, k)."""
        matrix = np.reshape(self.direction, (3, 3)) * np.asarray(self.spacing)[None, :]
        return matrix @ np.asarray(index, float) + np.asarray(self.origin)

    def physical_to_index(self, point: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Continuous voxel index (i, j, k) of a point in LPS millimetres."""
        matrix = np.reshape(self.direction, (3, 3)) * np.asarray(self.spacing)[None, :]
        return np.linalg.solve(matrix, np.asarray(point, float) - np.asarray(self.origin))

    def contains_index(self, index: np.ndarray) -> bool:
        """Whether a continuous index lies inside the image (within half a voxel of its border voxels)."""
        return bool(np.all(index >= -0.5) and np.all(index <= np.asarray(self.size) - 0.5))

    def grid_differences(self, other: Volume, tolerance: float = GRID_TOLERANCE) -> list[str]:
        """Human-readable differences between this grid and ``other``'s (empty when they match)."""
        differences = []
        if self.shape != other.shape:
            differences.append(f"size {self.size} vs {other.size}")
        for name in ("spacing", "origin", "direction"):
            mine, theirs = np.asarray(getattr(self, name)), np.asarray(getattr(other, name))
            if np.max(np.abs(mine - theirs)) > tolerance:
                differences.append(f"{name} {_fmt(mine)} vs {_fmt(theirs)}")
        return differences

    def same_grid(self, other: Volume, tolerance: float = GRID_TOLERANCE) -> bool:
        return not self.grid_differences(other, tolerance)


def _fmt(values: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise ImageReadError(f"File or folder not found: {path}. Check the path and try again.")


def read_volume(path: str | Path, *, series_uid: str | None = None) -> Volume:
    """Read an image file (NRRD, NIfTI, MetaImage) or a DICOM series folder.

    ``series_uid`` chooses the series when a DICOM folder holds several.
    """
    path = Path(path)
    _check_exists(path)
    if path.is_dir():
        from .dicom import read_dicom_series  # imported lazily: pydicom is only needed for folders

        return read_dicom_series(path, series_uid=series_uid)
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path} is empty (0 bytes). The file was not written completely; copy it again.")
    if not path.name.lower().endswith(IMAGE_SUFFIXES):
        from .dicom import read_dicom_series, series_uid_of_file

        if (uid := series_uid_of_file(path)) is not None:
            # One file of a DICOM series stands for its series: read every slice from its folder.
            return read_dicom_series(path.parent, series_uid=series_uid or uid)
    try:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        image = reader.Execute()
        shortfall = _nifti_shortfall(path, reader) if path.name.lower().endswith((".nii", ".nii.gz")) else None
    except RuntimeError as error:
        supported = ", ".join(IMAGE_SUFFIXES)
        raise ImageReadError(
            f"Could not read {path} as a medical image: {itk_reason(error)}. The file may be truncated or "
            f"not an image. Supported: {supported}, or a folder holding one DICOM series."
        ) from None
    if shortfall:
        raise ImageReadError(f"{path} is truncated: {shortfall}. The file was not written or copied completely; copy it again.")
    try:
        return Volume.from_sitk(image)
    except ImageContentError as error:
        raise ImageContentError(f"{path}: {error}") from None


def _nifti_shortfall(path: Path, reader: sitk.ImageFileReader) -> str | None:
    """Why a NIfTI file holds fewer voxel bytes than its header announces, or None.

    ITK's NIfTI reader fills a truncated file's missing voxels with zeros without a word.
    """
    dims = [int(reader.GetMetaData(f"dim[{d}]")) for d in range(1, int(reader.GetMetaData("dim[0]")) + 1)]
    expected = int(float(reader.GetMetaData("vox_offset"))) + int(np.prod(dims)) * int(reader.GetMetaData("bitpix")) // 8
    if not path.name.lower().endswith(".gz"):
        size = path.stat().st_size
        return None if size >= expected else f"it holds {size} of the {expected} bytes its header announces"
    # A gzip file ends with its uncompressed size (mod 2**32): a free check that a complete file
    # passes. Files of several gzip members (bgzip) state only their last member's size, so a
    # mismatch is confirmed by decompressing to the end before the file is called truncated.
    with open(path, "rb") as file:
        file.seek(-4, 2)
        if int.from_bytes(file.read(4), "little") == expected % 2**32:
            return None
    try:
        with gzip.open(path) as stream:
            while stream.read(1 << 24):
                pass
    except (EOFError, OSError, zlib.error) as error:
        return f"its compressed data ends early ({error})"
    return None


def itk_reason(error: Exception) -> str:
    """The one line of a SimpleITK error that says what failed."""
    # SimpleITK messages start with a C++ source location; the "ERROR:" line says what failed
    # (a "Reason:" line after it often repeats a stale errno such as "No such file or directory").
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if "ERROR:" in line:
            return re.sub(r"^\w+\(0x[0-9a-fA-F]+\):\s*", "", line.split("ERROR:", 1)[1].strip()).rstrip(".")
    return lines[-1] if lines else type(error).__name__


def write_volume(volume: Volume, path: str | Path, *, compress: bool = True) -> Path:
    """Write ``volume`` to an NRRD, NIfTI or MetaImage file chosen by the suffix.

    The file is written beside its destination and renamed into place, so a reader never sees
    a half-written image.
    """
    path = Path(path)
    if not path.name.lower().endswith(IMAGE_SUFFIXES):
        raise ImageReadError(f"Cannot write {path}: use one of {', '.join(IMAGE_SUFFIXES)}.")
    if path.name.lower().endswith((".nhdr", ".mhd")):
        # Detached headers point to a data file by name: write in place, the pair can't be renamed.
        sitk.WriteImage(volume.to_sitk(), str(path), compress)
        return path
    # The temporary name keeps the extension: ITK picks the file format from it.
    extension = ".nii.gz" if path.name.lower().endswith(".nii.gz") else path.suffix
    with atomic_file(path, suffix=f".partial{extension}") as partial:
        sitk.WriteImage(volume.to_sitk(), str(partial), compress)
    return path


def crop_padded(volume: Volume, start: tuple[int, int, int], stop: tuple[int, int, int], pad_value: float) -> Volume:
    """The box of voxels ``start`` (inclusive) to ``stop`` (exclusive), in (i, j, k) order, of ``volume``.

    Parts of the box outside the image are filled with ``pad_value``; the result keeps its place in
    physical space (its origin is the physical position of ``start``).
    """
    start_arr, stop_arr = np.asarray(start, int), np.asarray(stop, int)
    if np.any(stop_arr <= start_arr):
        raise ImageContentError(f"Empty crop box {tuple(start_arr)} to {tuple(stop_arr)}.")
    size = np.asarray(volume.size)
    inner_start, inner_stop = np.clip(start_arr, 0, size), np.clip(stop_arr, 0, size)
    out = np.full(tuple((stop_arr - start_arr)[::-1]), pad_value, dtype=volume.array.dtype)
    if np.all(inner_stop > inner_start):
        source = tuple(slice(a, b) for a, b in zip(inner_start[::-1], inner_stop[::-1]))
        target = tuple(slice(a, b) for a, b in zip((inner_start - start_arr)[::-1], (inner_stop - start_arr)[::-1]))
        out[target] = volume.array[source]
    origin = volume.index_to_physical(start_arr)
    return Volume(out, volume.spacing, tuple(origin), volume.direction)


def nonzero_box(array: np.ndarray) -> tuple[slice, ...] | None:
    """The smallest box of ``array`` holding all its non-zero values, as slices; None when all are zero.

    Each axis is narrowed before the next is searched, so a tumor in a few slices of a large scan
    costs one pass over the scan and then passes over those slices only.
    """
    box: list[slice] = [slice(None)] * array.ndim
    for axis in range(array.ndim):
        others = tuple(a for a in range(array.ndim) if a != axis)
        present = np.flatnonzero(array[tuple(box)].any(axis=others))
        if present.size == 0:
            return None
        start = (box[axis].start or 0) + int(present[0])
        box[axis] = slice(start, start + int(present[-1] - present[0]) + 1)
    return tuple(box)


def nonzero_crop(mask: Volume) -> Volume | None:
    """``mask`` cut down to the box around its non-zero voxels, still on the scan's voxel lattice (masks are
    kept for undo and corrections, and the box is small next to the scan); None when it has none."""
    box = nonzero_box(mask.array)
    if box is None:
        return None
    return crop_padded(mask, [part.start for part in reversed(box)], [part.stop for part in reversed(box)], 0)


def onto_grid(part: Volume | None, grid: Volume) -> Volume:
    """``part`` (a crop of a volume on ``grid``'s voxel lattice, as ``nonzero_crop`` makes; None for none)
    written into zeros on ``grid``."""
    full = np.zeros(grid.shape, dtype=np.uint8 if part is None else part.array.dtype)
    if part is not None:
        start = np.floor(grid.physical_to_index(part.origin) + 0.5).astype(int)
        full[tuple(slice(a, a + n) for a, n in zip(start[::-1], part.shape))] = part.array
    return grid.with_array(full)


def as_label_map(mask: Volume, *, source: str = "mask") -> Volume:
    """Check that ``mask`` holds whole non-negative labels and return it as an integer Volume."""
    array = mask.array
    if array.dtype.kind == "b":
        return mask.with_array(array.astype(np.uint8))
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all() or np.any(array != np.round(array)):
            raise MaskError(
                f"{source} holds non-integer values; a label map (0 = background, 1, 2, ... = labels) is "
                "needed. If it is a probability map, threshold it first."
            )
    if array.min() < 0:
        raise MaskError(f"{source} holds negative labels ({int(array.min())}); labels must be 0 or positive.")
    if array.max() > np.iinfo(np.uint16).max:
        raise MaskError(f"{source} holds labels above 65535; that is not a label map.")
    dtype = np.uint8 if array.max() <= np.iinfo(np.uint8).max else np.uint16
    return mask.with_array(array.astype(dtype, copy=False))


def resample_to_grid(moving: Volume, reference: Volume, *, interpolator: int = sitk.sitkNearestNeighbor) -> Volume:
    """``moving`` resampled onto ``reference``'s grid (voxels outside ``moving`` become 0)."""
    resampled = sitk.Resample(moving.to_sitk(), reference.to_sitk(), sitk.Transform(), interpolator, 0.0)
    return Volume.from_sitk(resampled)


def conform_mask(mask: Volume, image: Volume, *, resample: bool = False, source: str = "mask",
                 advice: str | None = None) -> Volume:
    """The label map ``mask`` on ``image``'s grid.

    A mask on another grid is an error, because silently resampling a clinician's segmentation
    changes it; with ``resample=True`` it is resampled with nearest-neighbour interpolation. ``advice``:
    what the error tells the user to do instead of the default (export from the same image, or resample).
    """
    mask = as_label_map(mask, source=source)
    differences = mask.grid_differences(image)
    if not differences:
        # Within tolerance the grids are one: give the mask the image's exact geometry, so that no
        # library downstream (pyradiomics, with SimpleITK's tighter tolerance) sees two grids.
        return image.with_array(mask.array)
    if not resample:
        raise GeometryMismatchError(
            f"{source} is not on the image's voxel grid ({'; '.join(differences)}). " + (advice or (
                "Export the mask from the same image, or ask for nearest-neighbour resampling onto the image grid "
                "(--resample-mask on the command line, resample=True in Python, correctMask: true in pyradiomics "
                "settings)."))
        )
    return as_label_map(resample_to_grid(mask, image), source=source)


def read_mask(path: str | Path, image: Volume, *, resample: bool = False, advice: str | None = None) -> Volume:
    """Read a label map (any supported format) and put it on ``image``'s grid (see ``conform_mask``)."""
    return conform_mask(read_volume(path), image, resample=resample, source=f"Mask {path}", advice=advice)
