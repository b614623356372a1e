"""RTSTRUCT import: contours drawn from a known mask on a real CT crop, read back as a mask.

The structure set is written here from the expert mask of an NSCLC crop: per slice, the outlines
of the mask at level 0.5 (contourpy's marching squares, the algorithm behind matplotlib's contour),
converted to patient coordinates, as a planning system would store them.
"""

from __future__ import annotations

from pathlib import Path

import contourpy
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicom_crop_series import write_crop_series
from ResponsePredictorLib.errors import DicomSeriesError, GeometryMismatchError, ImageReadError, InputError, MaskError
from ResponsePredictorLib.rtstruct import RTSTRUCT_SOP_CLASS, read_rtstruct, roi_names
from ResponsePredictorLib.volume import Volume

pytestmark = pytest.mark.realdata


def outlines(mask: Volume) -> list[tuple[int, np.ndarray]]:
    """Each slice's closed outlines of ``mask`` as (slice index k, points in LPS mm)."""
    found = []
    for k, plane in enumerate(mask.array):
        if not plane.any():
            continue
        # A zero border closes outlines that would otherwise stop at the image edge.
        padded = np.pad(plane.astype(float), 1)
        for line in contourpy.contour_generator(z=padded).lines(0.5):
            ij = line[:-1] - 1.0  # (i, j) voxel coordinates; the last point repeats the first
            points = np.array([mask.index_to_physical((i, j, k)) for i, j in ij])
            found.append((k, points))
    return found


def write_rtstruct(path: Path, series_folder: Path, mask: Volume, name: str = "GTV-1",
                   geometric_type: str = "CLOSED_PLANAR", polygons: list[tuple[int, np.ndarray]] | None = None) -> Path:
    """An RT Structure Set with one ROI on the series in ``series_folder``: the outlines of ``mask``, or
    ``polygons`` ((slice index, LPS points) on ``mask``'s grid) when given."""
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(series_folder.glob("*.dcm"))]
    first = headers[0]
    sop_of_slice = {int(round(mask.physical_to_index(h.ImagePositionPatient)[2])): h.SOPInstanceUID for h in headers}

    def image_reference(uid: str) -> Dataset:
        item = Dataset()
        item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = first.SOPClassUID, uid
        return item

    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = RTSTRUCT_SOP_CLASS, generate_uid(), "RTSTRUCT"
    ds.PatientName, ds.PatientID, ds.StudyInstanceUID = "", "", first.StudyInstanceUID
    ds.SeriesInstanceUID, ds.StructureSetLabel = generate_uid(), "test"
    series = Dataset()
    series.SeriesInstanceUID = first.SeriesInstanceUID
    series.ContourImageSequence = Sequence([image_reference(h.SOPInstanceUID) for h in headers])
    study = Dataset()
    study.ReferencedSOPClassUID, study.ReferencedSOPInstanceUID = "1.2.840.10008.3.1.2.3.1", first.StudyInstanceUID
    study.RTReferencedSeriesSequence = Sequence([series])
    frame = Dataset()
    frame.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    roi = Dataset()
    roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = 7, name, first.FrameOfReferenceUID
    roi.ROIGenerationAlgorithm = "MANUAL"
    ds.StructureSetROISequence = Sequence([roi])
    contours = []
    for k, points in outlines(mask) if polygons is None else polygons:
        contour = Dataset()
        contour.ContourImageSequence = Sequence([image_reference(sop_of_slice[k])])
        contour.ContourGeometricType = geometric_type
        contour.NumberOfContourPoints = len(points)
        contour.ContourData = [f"{v:.4f}" for v in points.ravel()]  # micrometre rounding, as planning systems store
        contours.append(contour)
    roi_contour = Dataset()
    roi_contour.ReferencedROINumber, roi_contour.ROIDisplayColor = 7, [255, 0, 0]
    roi_contour.ContourSequence = Sequence(contours)
    ds.ROIContourSequence = Sequence([roi_contour])
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return path


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


@pytest.mark.parametrize("patient", ["patient_005", "patient_024"])
def test_outlines_of_a_mask_read_back_exactly(tmp_path, patient):
    scan, mask = write_crop_series(tmp_path / "ct", patient)
    path = write_rtstruct(tmp_path / "rs.dcm", tmp_path / "ct", mask)
    assert roi_names(path) == {7: "GTV-1"}
    back = read_rtstruct(path, tmp_path / "ct", "gtv-1")  # names match ignoring case when unambiguous
    assert back.same_grid(scan) and back.array.dtype == np.uint8
    # Outlines of a voxel mask at level 0.5 cross every edge between an inside and an outside voxel
    # centre half-way, so each centre lies on its own side of the polygon: the mask comes back
    # voxel for voxel (saddles only change how the polygon joins between centres).
    np.testing.assert_array_equal(back.array, mask.array)
    np.testing.assert_array_equal(read_rtstruct(path, tmp_path / "ct", 7).array, back.array)


def test_a_drawn_ellipsoid_is_rasterised_within_the_polygon_error(tmp_path):
    """Contours drawn as a planning system does, off the voxel grid: 24-gons on the slices of an ellipsoid."""
    scan, _ = write_crop_series(tmp_path / "ct")
    centre = scan.index_to_physical(np.subtract(scan.size, 1) / 2.0)
    axes = np.reshape(scan.direction, (3, 3)).T  # rows: the i, j, k directions in LPS
    semi = np.array([11.0, 8.0, 30.0])  # mm along i, j, k (k: along the slices)
    corners, angles = 24, np.linspace(0.0, 2.0 * np.pi, 24, endpoint=False)
    polygons, scale = [], np.full(scan.shape, np.inf)
    for k in range(scan.shape[0]):
        height = (scan.index_to_physical((0, 0, k)) - centre) @ axes[2]
        if abs(height) >= semi[2]:
            continue
        shrink = np.sqrt(1.0 - (height / semi[2]) ** 2)
        middle = centre + height * axes[2]
        points = middle + np.outer(semi[0] * shrink * np.cos(angles), axes[0]) + np.outer(semi[1] * shrink * np.sin(angles), axes[1])
        polygons.append((k, points))
        # Each voxel centre's place relative to this slice's ellipse: < 1 inside, > 1 outside.
        j, i = np.indices(scan.shape[1:])
        offsets = np.stack([scan.index_to_physical((a, b, k)) for a, b in zip(i.ravel(), j.ravel())]) - middle
        radius = np.hypot(offsets @ axes[0] / (semi[0] * shrink), offsets @ axes[1] / (semi[1] * shrink))
        scale[k] = radius.reshape(i.shape)
    truth = scale < 1
    path = write_rtstruct(tmp_path / "rs.dcm", tmp_path / "ct", scan, polygons=polygons)
    back = read_rtstruct(path, tmp_path / "ct", "GTV-1").array.astype(bool)
    # The 24-gon's corners lie on the ellipse, so (in the ellipse's own scaled coordinates) it holds
    # the circle of radius cos(pi/24) and lies inside the ellipse: centres nearer than that are
    # inside, centres outside the ellipse are out, and only the thin band between may go either way.
    certain_in = scale < np.cos(np.pi / corners)
    assert back[certain_in].all()
    assert not back[~truth].any()
    band = truth & ~certain_in
    assert 0 < (truth & ~back).sum() <= band.sum()
    assert dice(back, truth) > 1 - band.sum() / truth.sum()
    print(f"ellipsoid: {truth.sum()} voxels, band {band.sum()}, missed {(truth & ~back).sum()}, Dice {dice(back, truth):.4f}")


def test_a_hole_inside_a_contour_stays_a_hole(tmp_path):
    scan, mask = write_crop_series(tmp_path / "ct")
    ring = mask.array.copy()
    k = int(np.argmax(ring.sum(axis=(1, 2))))
    js, is_ = np.nonzero(ring[k])
    centre_j, centre_i = int(np.median(js)), int(np.median(is_))
    ring[k, centre_j - 2:centre_j + 3, centre_i - 2:centre_i + 3] = 0  # a 5x5 hole in the largest slice
    assert ring[k, centre_j - 3:centre_j + 4, centre_i - 3:centre_i + 4].sum() == 49 - 25
    back = read_rtstruct(write_rtstruct(tmp_path / "rs.dcm", tmp_path / "ct", mask.with_array(ring)), tmp_path / "ct", "GTV-1")
    np.testing.assert_array_equal(back.array[k, centre_j - 2:centre_j + 3, centre_i - 2:centre_i + 3], 0)
    assert back.array[k].sum() == pytest.approx(ring[k].sum(), rel=0.01)


def test_bad_inputs_are_explained(tmp_path):
    scan, mask = write_crop_series(tmp_path / "ct")
    path = write_rtstruct(tmp_path / "rs.dcm", tmp_path / "ct", mask)
    with pytest.raises(MaskError, match="no ROI is called 'Heart'.*7 'GTV-1'"):
        read_rtstruct(path, tmp_path / "ct", "Heart")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ImageReadError, match="not a DICOM file"):
        read_rtstruct(text, tmp_path / "ct", "GTV-1")
    with pytest.raises(ImageReadError, match="not an RT Structure Set"):
        read_rtstruct(sorted((tmp_path / "ct").glob("*.dcm"))[0], tmp_path / "ct", "GTV-1")
    with pytest.raises(ImageReadError, match="not found"):
        read_rtstruct(tmp_path / "missing.dcm", tmp_path / "ct", "GTV-1")

    # The scan exported again (new UIDs): the referenced series is not there.
    from ResponsePredictorLib.dicom_export import write_dicom_series

    write_dicom_series(scan, tmp_path / "again")
    with pytest.raises(DicomSeriesError, match="referenced image series .* is not in"):
        read_rtstruct(path, tmp_path / "again", "GTV-1")
    # Same UIDs but the contours' images renumbered.
    first = pydicom.dcmread(sorted((tmp_path / "ct").glob("*.dcm"))[0], stop_before_pixels=True)
    write_dicom_series(scan, tmp_path / "renumbered", series_uid=first.SeriesInstanceUID,
                       study_uid=first.StudyInstanceUID, frame_of_reference_uid=first.FrameOfReferenceUID)
    with pytest.raises(DicomSeriesError, match="drawn on .* image\\(s\\) that the series lacks"):
        read_rtstruct(path, tmp_path / "renumbered", "GTV-1")
    write_dicom_series(scan, tmp_path / "moved", series_uid=first.SeriesInstanceUID)
    with pytest.raises(GeometryMismatchError, match="frame of reference"):
        read_rtstruct(path, tmp_path / "moved", "GTV-1")
    # Contours between slices: the structure set belongs to a series with other slice positions.
    shifted = Volume(mask.array, mask.spacing, np.add(mask.origin, (0, 0, 1.2)), mask.direction)
    with pytest.raises(GeometryMismatchError, match="does not lie on a slice"):
        read_rtstruct(write_rtstruct(tmp_path / "between.dcm", tmp_path / "ct", shifted), tmp_path / "ct", "GTV-1")
    with pytest.raises(MaskError, match="only POINT contours"):
        read_rtstruct(write_rtstruct(tmp_path / "points.dcm", tmp_path / "ct", mask, geometric_type="POINT"),
                      tmp_path / "ct", "GTV-1")


def test_a_structure_set_without_its_series_reference_is_refused(tmp_path):
    _, mask = write_crop_series(tmp_path / "ct")
    path = write_rtstruct(tmp_path / "rs.dcm", tmp_path / "ct", mask)
    ds = pydicom.dcmread(path)
    del ds.ReferencedFrameOfReferenceSequence
    ds.save_as(path)
    with pytest.raises(InputError, match="names no image series"):
        read_rtstruct(path, tmp_path / "ct", "GTV-1")


def test_an_image_already_read_can_stand_for_the_series(tmp_path):
    from ResponsePredictorLib.dicom import read_dicom_series

    _, mask = write_crop_series(tmp_path / "ct")
    path = write_rtstruct(tmp_path / "rs.dcm", tmp_path / "ct", mask)
    image = read_dicom_series(tmp_path / "ct")
    np.testing.assert_array_equal(read_rtstruct(path, image).array, mask.array)  # the only ROI, by default
