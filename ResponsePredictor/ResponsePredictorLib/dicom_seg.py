"""DICOM Segmentation objects (SEG): writing a mask on the grid of its source DICOM series, and
reading one back as a label ``Volume`` on the referenced series' grid.

highdicom does the DICOM work: it builds the SEG from the source headers (references to the
series and to each source instance, plane positions) and decodes one into a volume. This module
converts between its volume and ours through SimpleITK (both keep LPS), checks that a SEG belongs
to the series it is read against, and turns every problem into an ``InputError`` that says what to do.

Patient and study identifiers: highdicom copies the source's Patient and Study modules into the
SEG so that archives file it beside its scan. Unless ``keep_identifiers=True`` they are blanked
(type 2 elements kept empty, optional ones removed). The UIDs stay: without them the SEG could
not say which series and images it segments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sr.codedict import codes

from . import __version__
from .dicom import listing, read_dicom_object, read_dicom_series, series_uid_of_file, visible_files
from .errors import DicomSeriesError, GeometryMismatchError, ImageReadError, InputError, MaskError
from .files import atomic_file
from .optional_packages import HIGHDICOM, needs
from .volume import GRID_TOLERANCE, Volume, as_label_map, conform_mask

# Slicer's first use leaves highdicom out (Slicer 5.12 bundles 0.27, which is too old).
with needs(HIGHDICOM, "Reading or writing DICOM SEG and RTSTRUCT masks"):
    import highdicom as hd

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
# Objects that are not scans: a folder may hold them beside the series they refer to.
_NOT_SCANS = {"SEG", "RTSTRUCT", "RTPLAN", "RTDOSE", "SR", "PR", "KO"}
# Patient and study elements that identify a person. Type 2 elements must be present (empty);
# the others are removed. Element keywords, as pydicom spells them.
_BLANKED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
            "ReferringPhysicianName", "StudyID", "AccessionNumber")
_REMOVED_PREFIXES = ("Patient", "OtherPatient", "IssuerOfPatientID", "ClinicalTrial", "PhysiciansOf",
                     "NameOfPhysicians", "AdmittingDiagnoses", "StudyDescription", "EthnicGroup", "Occupation",
                     "AdditionalPatientHistory", "MedicalAlerts", "Allergies", "SmokingStatus", "PregnancyStatus")


def write_dicom_seg(
    mask: Volume,
    series_folder: str | Path,
    path: str | Path,
    *,
    series_uid: str | None = None,
    labels: Mapping[int, str] | None = None,
    algorithm: tuple[str, str] | None = None,
    keep_identifiers: bool = False,
) -> Path:
    """Write ``mask`` (a label map on the grid of the DICOM series in ``series_folder``) as a DICOM SEG.

    Each non-zero label becomes one segment with that number; ``labels`` names them (default
    "Tumor" for label 1, "Label N" otherwise). ``algorithm`` = (name, version) marks the segments as
    made by that algorithm (AUTOMATIC); without it they are MANUAL (a mask the user gave).
    ``series_uid`` chooses the series when the folder holds several. Returns ``path``.
    """
    path = Path(path)
    image, sources = read_series_with_headers(Path(series_folder), series_uid)
    mask = conform_mask(mask, image, source="The mask to export as DICOM SEG")
    present = sorted(int(v) for v in np.unique(mask.array) if v != 0)
    if not present:
        raise MaskError("The mask is empty; a DICOM SEG needs at least one segmented voxel.")
    descriptions = [_segment_description(number, (labels or {}).get(number), algorithm)
                    for number in range(1, present[-1] + 1)]
    segmentation = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=_to_highdicom(mask, sources[0].FrameOfReferenceUID),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=int(sources[0].get("SeriesNumber") or 0) + 1000,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="ResponsePredictor",
        manufacturer_model_name="ResponsePredictor",
        software_versions=__version__,
        device_serial_number="0",
        series_description="ResponsePredictor segmentation",
    )
    if not keep_identifiers:
        _blank_identifiers(segmentation)
    with atomic_file(path, suffix=".partial.dcm") as partial:
        segmentation.save_as(partial, enforce_file_format=True)
    return path


def read_dicom_seg(
    path: str | Path,
    reference: str | Path | Volume,
    *,
    segment: int | str | None = None,
) -> Volume:
    """The DICOM SEG at ``path`` as a label Volume on the grid of the series it segments.

    ``reference`` is the folder that holds that series (searched recursively; other series may sit
    beside it): the SEG's references to the series, its images and its frame of reference are
    checked. It may instead be the series already read as a ``Volume``; then only the geometry can
    be checked. Without ``segment`` every segment is returned, each voxel holding its segment
    number; with a segment number or label only that segment, as a 0/1 mask.
    """
    path = Path(path)
    seg = _read_seg(path)
    series = _referenced_series(seg, path)
    if isinstance(reference, Volume):
        image, frame_of_reference = reference, str(seg.FrameOfReferenceUID)
    else:
        image, sources = read_series_with_headers(Path(reference), series)
        _check_references(seg, path, sources)
        frame_of_reference = str(sources[0].FrameOfReferenceUID)
    numbers = None if segment is None else [_segment_number(seg, segment, path)]
    try:
        decoded = seg.get_volume(segment_numbers=numbers, combine_segments=True, relabel=segment is not None)
    except RuntimeError as error:
        raise InputError(
            f"{path}: its segments cannot be read as one label map ({error}). They probably overlap: "
            "read one segment at a time with segment=NUMBER or LABEL."
        ) from None
    try:
        labels = decoded.match_geometry(_to_highdicom(image, frame_of_reference).get_geometry(), tol=GRID_TOLERANCE)
    except RuntimeError:
        raise GeometryMismatchError(
            f"{path}: the segmentation frames do not lie on the voxel grid of the image (series {series}): "
            "different orientation, spacing or plane positions. The SEG was made on a resampled or different "
            "image; export it again from this series."
        ) from None
    if np.count_nonzero(labels.array) != np.count_nonzero(decoded.array):
        raise GeometryMismatchError(
            f"{path}: the segmentation reaches beyond the image (series {series}); give the whole series it was made on."
        )
    result = as_label_map(image.with_array(np.ascontiguousarray(labels.array)), source=f"DICOM SEG {path}")
    if not result.array.any():
        which = f"segment {segment!r}" if segment is not None else "every segment"
        raise MaskError(f"{path}: {which} is empty; the SEG marks no voxel of the series.")
    return result


def segment_labels(path: str | Path) -> dict[int, str]:
    """The segments of the DICOM SEG at ``path``: segment number -> label."""
    seg = _read_seg(Path(path))
    return {number: seg.get_segment_description(number).segment_label for number in seg.segment_numbers}


def _read_seg(path: Path) -> hd.seg.Segmentation:
    read_dicom_object(path, SEG_SOP_CLASS, "SEG", "a segmentation (SEG)",
                      "Give the DICOM SEG file; an RTSTRUCT is read with rtstruct.read_rtstruct.", stop_before_pixels=True)
    try:
        return hd.seg.segread(path)
    except Exception as error:  # noqa: BLE001 - highdicom raises many types for a malformed object
        raise ImageReadError(f"{path} is a damaged or unsupported DICOM SEG: {type(error).__name__}: {error}") from None


def _referenced_series(seg: Dataset, path: Path) -> str:
    uids = {str(item.SeriesInstanceUID) for item in seg.get("ReferencedSeriesSequence", [])}
    if len(uids) != 1:
        raise InputError(
            f"{path} references {len(uids) or 'no'} image series; ResponsePredictor reads SEGs made on exactly one series."
        )
    return uids.pop()


def read_series_with_headers(folder: Path, series_uid: str | None) -> tuple[Volume, list[Dataset]]:
    """The image series in ``folder`` (validated and read by ``read_dicom_series``) and its files' headers.

    For objects that refer to a series (SEG, RTSTRUCT): the headers hold the UIDs they refer to.
    ``folder`` may also be one file of the series, which stands for its series as in ``read_volume``.
    """
    if folder.is_file():
        folder, series_uid = folder.parent, series_uid or series_uid_of_file(folder)
    try:
        image = read_dicom_series(folder, series_uid=series_uid)
    except DicomSeriesError as error:
        if series_uid is not None and f"Series {series_uid} is not in" in str(error):
            raise DicomSeriesError(
                f"The referenced image series {series_uid} is not in {folder}. Give the folder of the scan "
                f"the segmentation was made on.\n{error}"
            ) from None
        raise
    headers = []
    for file in visible_files(folder):
        try:
            header = pydicom.dcmread(file, stop_before_pixels=True)
        except InvalidDicomError:
            continue
        if "Rows" in header and header.get("Modality") not in _NOT_SCANS:
            headers.append(header)
    if series_uid is None:
        # read_dicom_series accepted the folder, so it holds exactly one image series.
        series_uid = str(headers[0].SeriesInstanceUID)
    return image, [h for h in headers if str(h.SeriesInstanceUID) == series_uid]


def _check_references(seg: hd.seg.Segmentation, path: Path, sources: Sequence[Dataset]) -> None:
    frame_of_reference = str(sources[0].get("FrameOfReferenceUID", ""))
    if str(seg.FrameOfReferenceUID) != frame_of_reference:
        raise GeometryMismatchError(
            f"{path} is in frame of reference {seg.FrameOfReferenceUID} but series {sources[0].SeriesInstanceUID} "
            f"is in {frame_of_reference or 'none'}: they do not share one patient coordinate system."
        )
    known = {str(h.SOPInstanceUID) for h in sources}
    referenced = {str(item.ReferencedSOPInstanceUID)
                  for series in seg.ReferencedSeriesSequence for item in series.ReferencedInstanceSequence}
    missing = sorted(referenced - known)
    if missing:
        raise DicomSeriesError(
            f"{path} references {len(missing)} image(s) that series {sources[0].SeriesInstanceUID} lacks "
            f"({listing(missing, 3)}): the series is incomplete or was exported again with new UIDs."
        )


def _segment_number(seg: hd.seg.Segmentation, segment: int | str, path: Path) -> int:
    labels = {number: seg.get_segment_description(number).segment_label for number in seg.segment_numbers}
    if isinstance(segment, int) and segment in labels:
        return segment
    matches = [number for number, label in labels.items() if label == segment]
    if len(matches) == 1:
        return matches[0]
    offered = ", ".join(f"{number} {label!r}" for number, label in labels.items())
    problem = "several segments are" if matches else "no segment is"
    raise MaskError(f"{path}: {problem} called {segment!r}. Its segments: {offered}.")


def _to_highdicom(volume: Volume, frame_of_reference_uid: str) -> hd.Volume:
    """``volume`` as a highdicom Volume indexed like ours, (k, j, i): slices first, as SEG frames are."""
    converted = hd.Volume.from_simpleitk(volume.to_sitk(), frame_of_reference_uid=frame_of_reference_uid)
    return converted.permute_spatial_axes((2, 1, 0))


def _segment_description(number: int, label: str | None, algorithm: tuple[str, str] | None) -> hd.seg.SegmentDescription:
    label = label or ("Tumor" if number == 1 else f"Label {number}")
    identification = None
    if algorithm is not None:
        identification = hd.AlgorithmIdentificationSequence(
            name=algorithm[0], version=algorithm[1], family=codes.cid7162.ArtificialIntelligence
        )
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=label,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=(hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC if algorithm
                        else hd.seg.SegmentAlgorithmTypeValues.MANUAL),
        algorithm_identification=identification,
    )


def _blank_identifiers(dataset: Dataset) -> None:
    for element in list(dataset):
        keyword = element.keyword
        if keyword in _BLANKED:
            element.value = ""
        elif keyword.startswith(_REMOVED_PREFIXES):
            del dataset[element.tag]
