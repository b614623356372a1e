"""DICOM series: reading one image series from a folder into a ``Volume`` (writing: dicom_export.py).

Reading splits the work between two libraries: pydicom reads every file's header (not its pixels)
to find the series, sort the slices along the slice normal and check that they form one regular
grid; SimpleITK's ``ImageSeriesReader`` (GDCM) then decodes the pixels of exactly those files in
that order and applies RescaleSlope/Intercept. The geometry comes from the headers, in LPS (DICOM's
patient coordinate system is LPS, as SimpleITK's is), so nothing is converted. A PET series comes
back in SUV body weight (pet_suv.py), from the PET elements of its first slice's full header.

Every problem found in the headers is a ``DicomSeriesError`` that says what is wrong, in which
file(s) and what the user can do.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from .errors import DicomSeriesError, ImageReadError
from .pet_suv import suv_body_weight_factor
from .volume import IMAGE_SUFFIXES, Volume, itk_reason

log = logging.getLogger(__name__)

# Only the header elements the checks need are parsed; the rest of each header is skipped.
_HEADER_TAGS = [
    "SeriesInstanceUID", "Modality", "SeriesDescription", "SeriesNumber", "Rows", "Columns",
    "SamplesPerPixel", "NumberOfFrames", "ImageOrientationPatient", "ImagePositionPatient",
    "PixelSpacing", "RescaleSlope", "RescaleIntercept", "SOPClassUID", "PixelData",
]
# Element values above this size are skipped over rather than read: in practice only PixelData.
_DEFER_SIZE = 4096

# A DICOM segmentation is a mask, not a scan; it is left out of the image series on offer.
_NOT_SCANS = {"SEG"}

# Slices closer than this (mm along the normal) sit at the same position.
DUPLICATE_TOLERANCE = 0.01
# A gap wider than this many regular spacings means slices are missing: one missing slice
# doubles the gap, while scanners' rounding of positions moves it by far less than half a spacing.
GAP_FACTOR = 1.5
# The largest distance a slice may lie from the regular grid fitted through the first and last
# slices, as a fraction of the spacing. Further out, one spacing for all slices would misplace it.
IRREGULAR_FRACTION = 0.05
# Direction cosines and pixel spacings that differ by less than this are the same.
HEADER_TOLERANCE = 1e-4


@dataclass(frozen=True)
class SeriesIdentity:
    """What tells scans apart: their modality, the frame of reference they share (None where absent), their UID."""

    modality: str
    frame_of_reference_uid: str | None
    series_uid: str


@dataclass(frozen=True)
class _Slice:
    """What the checks need from one file's header."""

    path: Path
    rows: int
    columns: int
    frames: int
    samples: int
    # None where the header lacks the element (checked before use).
    orientation: tuple[float, ...] | None
    position: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    slope: float
    intercept: float


@dataclass
class _Series:
    uid: str
    modality: str
    description: str
    number: str
    slices: list[_Slice]

    def summary(self) -> str:
        description = f" {self.description!r}" if self.description else ""
        number = f" #{self.number}" if self.number else ""
        return f"{self.uid}  {self.modality or '?'}{number}{description}  {len(self.slices)} file(s)"


def read_dicom_series(folder: str | Path, series_uid: str | None = None) -> Volume:
    """Read the DICOM image series in ``folder`` (searched recursively) as a ``Volume``.

    ``series_uid`` (SeriesInstanceUID) chooses the series when the folder holds several; without
    it such a folder is an error that lists them. Files that are not DICOM are skipped. A PET series
    (Modality PT) in Bq/ml is converted to SUV body weight; one already in SUV (Units GML) is kept.
    """
    folder, chosen = _chosen_series(folder, series_uid)
    slices, spacing = _sorted_regular_slices(folder, chosen)
    factor = _suv_factor(folder, chosen.uid, slices[0].path) if chosen.modality == "PT" else 1.0
    volume = _read_pixels(folder, slices, spacing)
    return volume if factor == 1.0 else volume.with_array(volume.array * factor)


def series_identity(folder: str | Path, series_uid: str | None = None) -> SeriesIdentity:
    """The modality and frame of reference of the DICOM series in ``folder``, chosen as ``read_dicom_series`` does.

    For callers that compare two scans' frames of reference or pick settings by modality; the
    series itself is not checked or read.
    """
    folder, chosen = _chosen_series(folder, series_uid)
    frame = pydicom.dcmread(chosen.slices[0].path, specific_tags=["FrameOfReferenceUID"]).get("FrameOfReferenceUID")
    return SeriesIdentity(chosen.modality, str(frame) if frame else None, chosen.uid)


def _chosen_series(folder: str | Path, series_uid: str | None) -> tuple[Path, _Series]:
    """The folder as a path and its series chosen by ``series_uid`` (needed only where there are several)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(
            f"{folder} is not a folder; a DICOM series is read from the folder that holds its files."
        )
    series, skipped = _scan(folder)
    return folder, _choose(folder, series, skipped, series_uid)


def _suv_factor(folder: Path, uid: str, path: Path) -> float:
    """The factor to SUV body weight of the PET series ``uid``, from the full header of its file ``path``."""
    try:
        return suv_body_weight_factor(pydicom.dcmread(path, stop_before_pixels=True))
    except DicomSeriesError as error:
        raise DicomSeriesError(f"Series {uid} in {folder}: {error}") from None


def series_uid_of_file(path: str | Path) -> str | None:
    """The SeriesInstanceUID of a DICOM file, or None when the file is not DICOM.

    Lets a caller given one file of a series read the whole series from its folder.
    """
    try:
        header = pydicom.dcmread(path, specific_tags=["SeriesInstanceUID"])
    except Exception:  # noqa: BLE001 - whatever stops pydicom, the file is not usable DICOM
        return None
    uid = header.get("SeriesInstanceUID")
    return str(uid) if uid else None


def _scan(folder: Path) -> tuple[dict[str, _Series], list[Path]]:
    """Every image series in ``folder``, and the files skipped because they are not DICOM."""
    series: dict[str, _Series] = {}
    skipped: list[Path] = []
    damaged: list[str] = []
    for path in visible_files(folder):
        try:
            header, problem = _read_header(path)
        except InvalidDicomError:
            skipped.append(path)
            continue
        except Exception as error:  # noqa: BLE001 - pydicom raises many types for a damaged file
            problem = f"{type(error).__name__}: {error}"
        if problem:
            damaged.append(f"{path.relative_to(folder)} ({problem})")
            continue
        if "PixelData" not in header or header.get("Modality") in _NOT_SCANS:
            continue  # a structure set, report, DICOMDIR, segmentation...: not a scan
        uid = str(header.get("SeriesInstanceUID", ""))
        if uid not in series:
            series[uid] = _Series(
                uid, str(header.get("Modality", "")), str(header.get("SeriesDescription", "")),
                str(header.get("SeriesNumber", "")), [],
            )
        series[uid].slices.append(_slice(path, header))
    if damaged:
        # A damaged file may be a slice of the wanted series; reading on without it could return
        # a volume that silently lacks slices at its ends, where no gap would show.
        raise DicomSeriesError(
            f"{len(damaged)} DICOM file(s) in {folder} could not be read (truncated or damaged): "
            f"{listing(damaged)}. Copy them again from the source, or remove them from the folder."
        )
    if skipped:
        log.info("Skipped %d file(s) in %s that are not DICOM: %s", len(skipped), folder,
                 listing([str(p.relative_to(folder)) for p in skipped]))
    return series, skipped


def visible_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` that the series reader considers, in a stable order."""
    # Hidden files and folders are left out: system clutter (.DS_Store) and series still being
    # written by ``write_dicom_series`` (.partial-*).
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root, name) for name in sorted(names) if not name.startswith(".")]
    return found


def _read_header(path: Path) -> tuple[Dataset, str | None]:
    """A file's header (pixels skipped) and, if the file is damaged, why."""
    size = path.stat().st_size
    with open(path, "rb") as file, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        header = pydicom.dcmread(file, defer_size=_DEFER_SIZE, specific_tags=_HEADER_TAGS)
        # pydicom skips unwanted values by seeking, which goes past the end of a truncated file
        # without complaint; where reading stopped tells.
        end = file.tell()
    cut_short = end > size or any("end of file" in str(w.message).lower() for w in caught)
    for tag in header.keys():
        raw = header.get_item(tag, keep_deferred=True)
        if isinstance(raw, RawDataElement) and raw.value is not None and len(raw.value) < raw.length != 0xFFFFFFFF:
            cut_short = True
    if cut_short:
        return header, "the file ends in the middle of its data"
    sop_class = header.file_meta.get("MediaStorageSOPClassUID") or header.get("SOPClassUID")
    is_image = "Rows" in header or (sop_class is not None and sop_class.name.endswith("Image Storage"))
    if is_image and "PixelData" not in header:
        return header, "an image header without pixel data"
    return header, None


def _slice(path: Path, header: Dataset) -> _Slice:
    def floats(name: str) -> tuple[float, ...] | None:
        value = header.get(name)
        return tuple(float(v) for v in value) if value is not None else None

    def number(name: str, default: float) -> float:
        value = header.get(name)
        return float(value) if value not in (None, "") else default

    return _Slice(
        path=path,
        rows=int(header.get("Rows", 0)),
        columns=int(header.get("Columns", 0)),
        frames=int(number("NumberOfFrames", 1)),
        samples=int(header.get("SamplesPerPixel", 1)),
        orientation=floats("ImageOrientationPatient"),
        position=floats("ImagePositionPatient"),
        pixel_spacing=floats("PixelSpacing"),
        slope=number("RescaleSlope", 1.0),
        intercept=number("RescaleIntercept", 0.0),
    )


def _choose(folder: Path, series: dict[str, _Series], skipped: list[Path], uid: str | None) -> _Series:
    if not series:
        hint = ""
        if any(p.name.lower().endswith(IMAGE_SUFFIXES) for p in skipped):
            hint = " It holds image files: give the path of the file instead of the folder."
        raise DicomSeriesError(
            f"No DICOM image found in {folder} ({len(skipped)} other file(s) skipped).{hint} "
            "Choose the folder that holds the scan's DICOM files."
        )
    listing = "\n".join(f"  - {s.summary()}" for s in sorted(series.values(), key=lambda s: s.uid))
    if uid is not None:
        if uid not in series:
            raise DicomSeriesError(f"Series {uid} is not in {folder}. The folder holds:\n{listing}")
        return series[uid]
    if len(series) > 1:
        raise DicomSeriesError(
            f"{folder} holds {len(series)} image series; choose one by its SeriesInstanceUID "
            f"(series_uid=... in Python, --series UID on the command line):\n{listing}"
        )
    return next(iter(series.values()))


def _sorted_regular_slices(folder: Path, series: _Series) -> tuple[list[_Slice], float]:
    """The series' slices sorted along the slice normal, and their spacing, once checked."""
    slices = series.slices
    name = f"Series {series.uid} in {folder}"

    def where(s: _Slice) -> str:
        return str(s.path.relative_to(folder))

    multiframe = [where(s) for s in slices if s.frames > 1]
    if multiframe:
        # GDCM reads such files without complaint but, lacking the functional groups it parses, on a
        # made-up grid (origin 0, spacing 1); better no volume than a misplaced one.
        raise DicomSeriesError(
            f"{name}: {listing(multiframe)} hold multi-frame (enhanced) images, which are not supported. "
            "Export the series as single-frame (classic) images, or convert it to NRRD or NIfTI in 3D Slicer."
        )
    if len(slices) < 2:
        raise DicomSeriesError(f"{name} has a single slice ({where(slices[0])}); a 3D volume needs several.")
    lacking = [where(s) for s in slices if None in (s.orientation, s.position, s.pixel_spacing)]
    if lacking:
        raise DicomSeriesError(
            f"{name}: {listing(lacking)} lack ImagePositionPatient, ImageOrientationPatient or PixelSpacing, "
            "so the slices cannot be placed in space (a screenshot or secondary capture, not a scan)."
        )
    colour = [where(s) for s in slices if s.samples != 1]
    if colour:
        raise DicomSeriesError(f"{name}: {listing(colour)} hold colour images; a CT, MR or PET scan is needed.")
    first = slices[0]
    for label, value, tolerance in (
        ("orientation (ImageOrientationPatient)", lambda s: s.orientation, HEADER_TOLERANCE),
        ("pixel spacing (PixelSpacing)", lambda s: s.pixel_spacing, HEADER_TOLERANCE),
        ("image size (Rows, Columns)", lambda s: (s.rows, s.columns), 0),
    ):
        odd = [s for s in slices if np.max(np.abs(np.subtract(value(s), value(first)))) > tolerance]
        if odd:
            raise DicomSeriesError(
                f"{name}: the slices differ in {label}: {where(first)} has {value(first)} but "
                f"{listing([f'{where(s)} has {value(s)}' for s in odd])}. The folder mixes images of "
                "different acquisitions (a localizer?); remove the odd files or export the series again."
            )

    row, column = np.array(first.orientation[:3]), np.array(first.orientation[3:])
    normal = np.cross(row, column)
    positions = np.array([s.position for s in slices])
    heights = positions @ normal  # each slice's position along the normal
    order = np.argsort(heights, kind="stable")
    slices, positions, heights = [slices[i] for i in order], positions[order], heights[order]

    steps = np.diff(heights)
    duplicates = np.flatnonzero(steps < DUPLICATE_TOLERANCE)
    if duplicates.size:
        pairs = [f"{where(slices[i])} and {where(slices[i + 1])} at {heights[i]:.6g} mm" for i in duplicates]
        raise DicomSeriesError(
            f"{name}: {duplicates.size} slice position(s) occur twice: {listing(pairs)}. The series mixes "
            "several acquisitions, phases or echoes; export or choose one of them."
        )
    regular = float(np.median(steps))
    gaps = np.flatnonzero(steps > GAP_FACTOR * regular)
    if gaps.size:
        holes = [
            f"{int(round(steps[i] / regular)) - 1} slice(s) between {where(slices[i])} ({heights[i]:.6g} mm) "
            f"and {where(slices[i + 1])} ({heights[i + 1]:.6g} mm)"
            for i in gaps
        ]
        missing = sum(int(round(steps[i] / regular)) - 1 for i in gaps)
        raise DicomSeriesError(
            f"{name} is missing {missing} slice(s) (regular spacing {regular:.6g} mm): {listing(holes)}. "
            "Copy the complete series again."
        )
    spacing = float(heights[-1] - heights[0]) / (len(slices) - 1)
    off_grid = np.abs(heights - (heights[0] + spacing * np.arange(len(slices))))
    if off_grid.max() > IRREGULAR_FRACTION * spacing:
        raise DicomSeriesError(
            f"{name} has irregular slice spacing (steps from {steps.min():.6g} to {steps.max():.6g} mm; "
            f"{where(slices[int(off_grid.argmax())])} lies {off_grid.max():.3g} mm off a regular grid). "
            "Resample the series to regular slices before analysing it."
        )
    # Slices must follow each other along the normal; a sideways drift is a tilted gantry.
    drift = np.abs((positions - positions[0]) @ np.array([row, column]).T).max()
    if drift > IRREGULAR_FRACTION * min(first.pixel_spacing):  # type: ignore[arg-type]
        raise DicomSeriesError(
            f"{name}: the slices are shifted sideways against each other (up to {drift:.3g} mm: a tilted "
            "gantry or a sheared acquisition). Resample the series onto a regular grid first."
        )
    return slices, spacing


def _read_pixels(folder: Path, slices: list[_Slice], spacing: float) -> Volume:
    reader = sitk.ImageSeriesReader()
    reader.SetImageIO("GDCMImageIO")
    reader.SetFileNames([str(s.path) for s in slices])
    rescales = {(s.slope, s.intercept) for s in slices}
    if any(not float(v).is_integer() for pair in rescales for v in pair):
        # GDCM picks the pixel type from the first slice; with per-slice or fractional rescaling
        # (PET) every slice must land in a type that holds them all exactly.
        reader.SetOutputPixelType(sitk.sitkFloat64)
    elif len(rescales) > 1:
        reader.SetOutputPixelType(sitk.sitkInt32)
    try:
        image = reader.Execute()
    except RuntimeError as error:
        raise DicomSeriesError(
            f"Could not decode the pixels of the series in {folder}: {itk_reason(error)}"
        ) from None
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise DicomSeriesError(f"The series in {folder} holds colour images; a CT, MR or PET scan is needed.")
    first = slices[0]
    row, column = np.array(first.orientation[:3]), np.array(first.orientation[3:])  # type: ignore[index]
    direction = np.column_stack([row, column, np.cross(row, column)])
    # PixelSpacing is (between rows, between columns), i.e. (y, x).
    return Volume(
        sitk.GetArrayFromImage(image),
        spacing=(first.pixel_spacing[1], first.pixel_spacing[0], spacing),  # type: ignore[index]
        origin=first.position,  # type: ignore[arg-type]
        direction=tuple(direction.ravel()),
    )


def listing(items: Sequence[str], limit: int = 5) -> str:
    """At most ``limit`` items joined for a message, with how many more there are."""
    shown = "; ".join(items[:limit])
    return shown + (f"; and {len(items) - limit} more" if len(items) > limit else "")


def read_dicom_object(path: Path, sop_class: str, what: str, described: str, elsewhere: str, *,
                      stop_before_pixels: bool = False) -> Dataset:
    """The DICOM file at ``path`` if it is of ``sop_class``, else an error naming what it is instead.

    ``what``: the object's short name ("SEG"); ``described``: in words, with its article ("a
    segmentation (SEG)"); ``elsewhere``: where the user reads the other kinds of object.
    """
    if not path.is_file():
        raise ImageReadError(f"DICOM {what} file not found: {path}.")
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
    except (InvalidDicomError, OSError) as error:
        raise ImageReadError(f"{path} is not a DICOM file ({error}); a DICOM {what} file is needed.") from None
    if str(dataset.get("SOPClassUID", "")) != sop_class:
        kind = dataset.get("Modality") or getattr(dataset.get("SOPClassUID"), "name", "unknown")
        raise ImageReadError(f"{path} is a DICOM {kind} object, not {described}. {elsewhere}")
    return dataset
