"""Writing a ``Volume`` as a single-frame DICOM series that ``dicom.read_dicom_series`` reads back."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import format_number_as_ds

from .dicom import HEADER_TOLERANCE, listing
from .errors import ImageContentError
from .volume import Volume

_SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "MR": "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
    "PT": "1.2.840.10008.5.1.4.1.1.128",  # Positron Emission Tomography Image Storage
    "OT": "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
}


def write_dicom_series(
    volume: Volume,
    folder: str | Path,
    *,
    modality: str = "CT",
    series_description: str = "",
    series_number: int = 1,
    patient_name: str = "",
    patient_id: str = "",
    study_uid: str | None = None,
    series_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
) -> list[Path]:
    """Write ``volume`` as a single-frame DICOM series, one file per slice, into ``folder``.

    ``read_dicom_series`` reads it back with the same geometry and voxel values. 8- and 16-bit
    integer arrays keep their type; other arrays holding whole numbers within a 16-bit range are
    stored with a RescaleIntercept and come back in the type GDCM picks; anything else (fractions,
    wider ranges) is quantized to 16 bits and comes back as float64 within RescaleSlope / 2. A
    left-handed grid (third axis against the slice normal) comes back as the same image with its
    slices reversed, since DICOM orders slices along the normal.

    No patient identifiers or dates are written unless given; give ``study_uid`` and
    ``frame_of_reference_uid`` to put the series beside an existing one. The files appear in
    ``folder`` only once all are written.
    """
    if modality not in _SOP_CLASSES:
        raise ValueError(f"modality must be one of {', '.join(_SOP_CLASSES)}; got {modality!r}.")
    folder = Path(folder)
    axes = np.reshape(volume.direction, (3, 3)).T  # rows: the i, j, k axes
    if abs(abs(float(np.cross(axes[0], axes[1]) @ axes[2])) - 1.0) > HEADER_TOLERANCE:
        raise ImageContentError(
            "DICOM slices stack along their normal; this volume's third axis is oblique to its slices "
            f"(direction {volume.direction}) and cannot be written as a DICOM series. Resample it first."
        )
    names = [f"slice_{k + 1:04d}.dcm" for k in range(volume.shape[0])]
    clashes = [name for name in names if (folder / name).exists()]
    if clashes:
        raise FileExistsError(
            f"{folder} already holds {listing(clashes)}; write the series into an empty folder."
        )

    stored, slope, intercept = _stored_values(volume.array)
    header = Dataset()
    header.SOPClassUID = _SOP_CLASSES[modality]
    header.Modality = modality
    header.StudyInstanceUID = study_uid or generate_uid()
    header.SeriesInstanceUID = series_uid or generate_uid()
    header.FrameOfReferenceUID = frame_of_reference_uid or generate_uid()
    header.SeriesDescription = series_description
    header.SeriesNumber = series_number
    # Type 2 elements must be present; they stay empty unless the caller gives them.
    header.PatientName = patient_name
    header.PatientID = patient_id
    for name in ("PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "StudyID", "AccessionNumber",
                 "ReferringPhysicianName"):
        setattr(header, name, "")
    header.ImageType = ["DERIVED", "SECONDARY"]
    header.ImageOrientationPatient = [_ds(v) for v in (*axes[0], *axes[1])]
    header.PixelSpacing = [_ds(volume.spacing[1]), _ds(volume.spacing[0])]  # (between rows, between columns)
    header.SliceThickness = header.SpacingBetweenSlices = _ds(volume.spacing[2])
    header.Rows, header.Columns = volume.shape[1], volume.shape[2]
    header.SamplesPerPixel = 1
    header.PhotometricInterpretation = "MONOCHROME2"
    header.BitsAllocated = header.BitsStored = stored.dtype.itemsize * 8
    header.HighBit = header.BitsStored - 1
    header.PixelRepresentation = int(stored.dtype.kind == "i")
    header.RescaleSlope, header.RescaleIntercept = _ds(slope), _ds(intercept)
    if modality == "CT":
        header.RescaleType = "HU"

    # Slices are written into a hidden folder (which readers skip) and moved in at the end, so an
    # interrupted write never leaves what looks like a complete, shorter series.
    partial = folder / f".partial-{header.SeriesInstanceUID}"
    partial.mkdir(parents=True)
    try:
        for k, name in enumerate(names):
            position = np.asarray(volume.origin) + k * volume.spacing[2] * axes[2]
            _slice_dataset(header, k, position, stored[k]).save_as(partial / name, enforce_file_format=True)
        for name in names:
            (partial / name).replace(folder / name)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return [folder / name for name in names]


def _stored_values(array: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The pixel values to store, with the RescaleSlope and RescaleIntercept that map them back."""
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if array.dtype in (np.uint8, np.int8, np.uint16, np.int16):
        return array, 1.0, 0.0
    if not np.all(np.isfinite(array)):
        raise ImageContentError("The volume holds NaN or infinite values, which DICOM pixels cannot store.")
    low, high = float(array.min()), float(array.max())
    if array.dtype.kind in "iu" or np.all(array == np.round(array)):
        for dtype in (np.int16, np.uint16):
            if np.iinfo(dtype).min <= low and high <= np.iinfo(dtype).max:
                return array.astype(dtype), 1.0, 0.0
        if high - low <= np.iinfo(np.uint16).max:
            return (array - low).astype(np.uint16), 1.0, low
    # Quantize with the slope and intercept exactly as DICOM will store them (decimal strings of
    # at most 16 characters), so that stored * slope + intercept is what the reader computes.
    slope = float(_ds((high - low) / np.iinfo(np.uint16).max or 1.0))
    intercept = float(_ds(low))
    stored = np.clip(np.round((array - intercept) / slope), 0, np.iinfo(np.uint16).max)
    return stored.astype(np.uint16), slope, intercept


def _ds(value: float) -> str:
    # A decimal string (DS) holds at most 16 characters; this keeps as many digits as fit.
    return format_number_as_ds(float(value))


def _slice_dataset(header: Dataset, k: int, position: np.ndarray, pixels: np.ndarray) -> Dataset:
    ds = Dataset()
    ds.update(header)
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = [_ds(v) for v in position]
    # Little endian, as the transfer syntax declares, whatever the machine's byte order.
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<"), copy=False).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds
