"""Reading a case's scan and mask, whatever form they come in."""

from __future__ import annotations

from pathlib import Path

from ..errors import ImageReadError
from ..volume import IMAGE_SUFFIXES, Volume, conform_mask, read_mask, read_volume

# The DICOM objects that hold a segmentation rather than a scan, by their Modality.
DICOM_SEGMENTATION = "SEG"
DICOM_RTSTRUCT = "RTSTRUCT"


def read_image(source: str | Path | Volume) -> tuple[Volume, bool]:
    """The scan, and whether it was read from DICOM."""
    if isinstance(source, Volume):
        return source, False
    path = Path(source)
    volume = read_volume(path)
    return volume, path.is_dir() or not path.name.lower().endswith(IMAGE_SUFFIXES)


def read_case_mask(source: str | Path | Volume, image: Volume, dicom_image: str | Path | None = None) -> tuple[Volume, str]:
    """The mask on ``image``'s grid and what kind of object it came from.

    A label image must already be on the image's grid (``volume.conform_mask`` says why not); a DICOM
    SEG or RTSTRUCT is turned into a label map on that grid by its reader, which also checks that it
    refers to the scan's series when the scan was read from DICOM (``dicom_image``).
    """
    if isinstance(source, Volume):
        return conform_mask(source, image, source="The mask"), "label image"
    path = Path(source)
    if not path.exists():
        raise ImageReadError(f"Mask file not found: {path}. Check the manifest's 'mask' column.")
    modality = None if path.is_dir() or path.name.lower().endswith(IMAGE_SUFFIXES) else _dicom_modality(path)
    if modality == DICOM_SEGMENTATION:
        from ..dicom_seg import read_dicom_seg  # highdicom: only for DICOM SEG masks

        return read_dicom_seg(path, _reference(image, dicom_image)), "DICOM SEG"
    if modality == DICOM_RTSTRUCT:
        from ..rtstruct import read_rtstruct

        return read_rtstruct(path, _reference(image, dicom_image)), "DICOM RTSTRUCT"
    return read_mask(path, image), "label image"


def series_folder(dicom_image: str | Path) -> Path:
    """The folder of a DICOM series given as its folder or as one of its files."""
    path = Path(dicom_image)
    return path if path.is_dir() else path.parent


def _reference(image: Volume, dicom_image: str | Path | None) -> Volume | Path:
    return image if dicom_image is None else series_folder(dicom_image)


def _dicom_modality(path: Path) -> str | None:
    """The Modality of a DICOM file, or None when the file is not DICOM."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"])
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return None
    return str(getattr(header, "Modality", "")) or None
