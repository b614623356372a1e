"""DICOM SEG export and import on a real CT crop written as a DICOM series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from dicom_crop_series import PATIENT_ID, PATIENT_NAME, write_crop_series
from ResponsePredictorLib.dicom import read_dicom_series
from ResponsePredictorLib.dicom_export import write_dicom_series
from ResponsePredictorLib.dicom_seg import read_dicom_seg, segment_labels, write_dicom_seg
from ResponsePredictorLib.errors import DicomSeriesError, GeometryMismatchError, ImageReadError, MaskError
from ResponsePredictorLib.volume import Volume

pytestmark = pytest.mark.realdata


@pytest.fixture
def series(tmp_path: Path) -> tuple[Path, Volume, Volume]:
    folder = tmp_path / "ct"
    scan, mask = write_crop_series(folder)
    return folder, scan, mask


def series_headers(folder: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(folder.glob("*.dcm"))]


def test_round_trip_is_voxel_exact_and_references_the_series(series, tmp_path):
    folder, _, mask = series
    path = write_dicom_seg(mask, folder, tmp_path / "seg.dcm")
    back = read_dicom_seg(path, folder)
    image = read_dicom_series(folder)
    assert back.same_grid(image)
    np.testing.assert_array_equal(back.array, mask.array)

    seg, sources = pydicom.dcmread(path), series_headers(folder)
    assert seg.Modality == "SEG"
    assert seg.StudyInstanceUID == sources[0].StudyInstanceUID
    assert seg.FrameOfReferenceUID == sources[0].FrameOfReferenceUID
    [reference] = seg.ReferencedSeriesSequence
    assert reference.SeriesInstanceUID == sources[0].SeriesInstanceUID
    assert {item.ReferencedSOPInstanceUID for item in reference.ReferencedInstanceSequence} == {
        h.SOPInstanceUID for h in sources}
    # Empty slices are left out; each frame names the image it segments and matches the mask there.
    slice_of = {h.SOPInstanceUID: int(round(image.physical_to_index(h.ImagePositionPatient)[2])) for h in sources}
    frames = [slice_of[f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID]
              for f in seg.PerFrameFunctionalGroupsSequence]
    assert sorted(frames) == list(np.flatnonzero(mask.array.any(axis=(1, 2))))
    for frame, k in zip(seg.pixel_array, frames):
        np.testing.assert_array_equal(frame, mask.array[k])
    assert segment_labels(path) == {1: "Tumor"}


def test_patient_identifiers_are_left_out_unless_asked_for(series, tmp_path):
    folder, _, mask = series
    plain = write_dicom_seg(mask, folder, tmp_path / "plain.dcm").read_bytes()
    for identifier in (PATIENT_NAME, PATIENT_ID):
        assert identifier.encode() not in plain
    seg = pydicom.dcmread(tmp_path / "plain.dcm")
    assert seg.PatientName == "" and seg.PatientID == ""

    kept = pydicom.dcmread(write_dicom_seg(mask, folder, tmp_path / "kept.dcm", keep_identifiers=True))
    assert (str(kept.PatientName), kept.PatientID) == (PATIENT_NAME, PATIENT_ID)


def test_several_labels_become_segments_and_one_can_be_read_alone(series, tmp_path):
    folder, _, mask = series
    labels = mask.array.copy()
    labels[: labels.shape[0] // 2][labels[: labels.shape[0] // 2] == 1] = 2  # the tumor's lower half is label 2
    path = write_dicom_seg(mask.with_array(labels), folder, tmp_path / "seg.dcm", labels={2: "Lower half"},
                           algorithm=("ResponsePredictor test", "1"))
    assert segment_labels(path) == {1: "Tumor", 2: "Lower half"}
    np.testing.assert_array_equal(read_dicom_seg(path, folder).array, labels)
    np.testing.assert_array_equal(read_dicom_seg(path, folder, segment="Lower half").array, labels == 2)
    np.testing.assert_array_equal(read_dicom_seg(path, folder, segment=1).array, labels == 1)
    assert pydicom.dcmread(path).SegmentSequence[0].SegmentAlgorithmType == "AUTOMATIC"


def test_bad_inputs_are_explained(series, tmp_path):
    folder, scan, mask = series
    seg = write_dicom_seg(mask, folder, tmp_path / "seg.dcm")

    text = tmp_path / "notes.dcm"
    text.write_text("not DICOM")
    with pytest.raises(ImageReadError, match="not a DICOM file"):
        read_dicom_seg(text, folder)
    with pytest.raises(ImageReadError, match="CT object, not a segmentation"):
        read_dicom_seg(sorted(folder.glob("*.dcm"))[0], folder)
    with pytest.raises(MaskError, match="no segment is called 'Liver'.*1 'Tumor'"):
        read_dicom_seg(seg, folder, segment="Liver")

    # The same scan exported again: new series and instance UIDs.
    other = tmp_path / "other"
    write_dicom_series(scan, other)
    with pytest.raises(DicomSeriesError, match="referenced image series .* is not in"):
        read_dicom_seg(seg, other)
    # Same series UID, but every image has a new SOP instance UID.
    source = series_headers(folder)[0]
    renumbered = tmp_path / "renumbered"
    write_dicom_series(scan, renumbered, series_uid=source.SeriesInstanceUID, study_uid=source.StudyInstanceUID,
                       frame_of_reference_uid=source.FrameOfReferenceUID)
    with pytest.raises(DicomSeriesError, match="references .* image\\(s\\) that series .* lacks"):
        read_dicom_seg(seg, renumbered)
    # Same series UID in another frame of reference.
    moved = tmp_path / "moved"
    write_dicom_series(scan, moved, series_uid=source.SeriesInstanceUID)
    with pytest.raises(GeometryMismatchError, match="frame of reference"):
        read_dicom_seg(seg, moved)


def test_empty_segments_and_masks_are_refused(series, tmp_path):
    folder, _, mask = series
    with pytest.raises(MaskError, match="empty"):
        write_dicom_seg(mask.with_array(np.zeros_like(mask.array)), folder, tmp_path / "empty.dcm")
    assert not (tmp_path / "empty.dcm").exists()
    with pytest.raises(GeometryMismatchError, match="not on the image's voxel grid"):
        shifted = Volume(mask.array, mask.spacing, np.add(mask.origin, (0, 0, 2.5)), mask.direction)
        write_dicom_seg(shifted, folder, tmp_path / "shifted.dcm")
    # Label 1 absent, label 2 present: segment 1 exists but holds nothing.
    only_two = write_dicom_seg(mask.with_array(mask.array * 2), folder, tmp_path / "two.dcm")
    with pytest.raises(MaskError, match="segment 1 is empty"):
        read_dicom_seg(only_two, folder, segment=1)


def test_an_image_already_read_can_stand_for_the_series(series, tmp_path):
    folder, scan, mask = series
    path = write_dicom_seg(mask, folder, tmp_path / "seg.dcm")
    image = read_dicom_series(folder)
    np.testing.assert_array_equal(read_dicom_seg(path, image).array, mask.array)
    # A part of the image cannot hold the whole segmentation: refused, not cropped.
    part = Volume(image.array[:, :, 5:], image.spacing, image.index_to_physical((5, 0, 0)), image.direction)
    with pytest.raises(GeometryMismatchError, match="reaches beyond the image"):
        read_dicom_seg(path, part)
    # Shifted by half a voxel: no longer the grid the SEG was made on.
    shifted = Volume(image.array, image.spacing, image.index_to_physical((0.5, 0, 0)), image.direction)
    with pytest.raises(GeometryMismatchError, match="do not lie on the voxel grid"):
        read_dicom_seg(path, shifted)


def test_one_file_of_the_series_stands_for_it(series, tmp_path):
    folder, _, mask = series
    one_file = sorted(folder.glob("*.dcm"))[3]
    path = write_dicom_seg(mask, one_file, tmp_path / "seg.dcm")
    np.testing.assert_array_equal(read_dicom_seg(path, one_file).array, mask.array)
