"""DICOM RT Structure Sets (RTSTRUCT): one ROI's planar contours as a mask on the grid of the series
they were drawn on.

An RTSTRUCT stores outlines, not voxels: each ROI is a stack of closed polygons in patient
coordinates (LPS mm), one or more per slice. A voxel belongs to the mask when its centre lies inside
an odd number of the polygons of its slice (even-odd rule: a polygon inside another is a hole,
as treatment-planning systems draw them). matplotlib's ``Path.contains_points`` does the
point-in-polygon test; matplotlib is already needed for the reports. rt-utils, the maintained
RTSTRUCT library, was not taken: it pulls in opencv-python (a GUI build with system GL libraries)
and the obsolete ``dataclasses`` backport, and loads the series itself rather than on our checked grid.

pydicom reads the structure set; the series is read and checked by ``dicom_seg.read_series_with_headers``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.path import Path as Polygon
from pydicom.dataset import Dataset

from .dicom import listing, read_dicom_object
from .dicom_seg import read_series_with_headers
from .errors import DicomSeriesError, GeometryMismatchError, InputError, MaskError
from .volume import Volume

RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
# A contour lies on a slice when its points are this close to the slice plane, as a fraction of
# the slice spacing: planning systems store positions rounded to micrometres, far below this.
PLANE_TOLERANCE = 0.1


def read_rtstruct(path: str | Path, reference: str | Path | Volume, roi: str | int | None = None) -> Volume:
    """ROI ``roi`` of the RTSTRUCT at ``path`` as a 0/1 mask on the grid of the series it was drawn on.

    ``roi``: the ROI's name (matched exactly, else ignoring case) or number; it may be left out when
    the structure set holds a single ROI. ``reference`` is the folder that holds the series (its
    UIDs and frame of reference are checked against the structure set's references), or the
    series already read as a ``Volume`` (then only the geometry can be checked).
    """
    path = Path(path)
    structure_set = _read_structure_set(path)
    number, name, frame_of_reference = _find_roi(structure_set, roi, path)
    contours = _closed_contours(structure_set, number, name, path)
    if isinstance(reference, Volume):
        image = reference
    else:
        series = _referenced_series(structure_set, frame_of_reference, path)
        image, sources = read_series_with_headers(Path(reference), series)
        if str(sources[0].get("FrameOfReferenceUID", "")) != frame_of_reference:
            raise GeometryMismatchError(
                f"{path}: ROI {name!r} is drawn in frame of reference {frame_of_reference}, but series "
                f"{series} is in {sources[0].get('FrameOfReferenceUID', 'none')}."
            )
        _check_contour_images(contours, {str(h.SOPInstanceUID) for h in sources}, name, path)
    mask = np.zeros(image.shape, np.uint8)
    for contour in contours:
        points = np.asarray(contour.ContourData, float).reshape(-1, 3)
        slice_index, polygon = _on_slice(image, points, name, path)
        _toggle_inside(mask[slice_index], polygon)
    if not mask.any():
        raise MaskError(f"{path}: ROI {name!r} encloses no voxel centre of the series; it is too small or empty.")
    return image.with_array(mask)


def roi_names(path: str | Path) -> dict[int, str]:
    """The ROIs of the RTSTRUCT at ``path``: ROI number -> name."""
    structure_set = _read_structure_set(Path(path))
    return {int(item.ROINumber): str(item.ROIName) for item in structure_set.get("StructureSetROISequence", [])}


def _read_structure_set(path: Path) -> Dataset:
    return read_dicom_object(path, RTSTRUCT_SOP_CLASS, "RTSTRUCT", "an RT Structure Set (RTSTRUCT)",
                             "A DICOM SEG is read with dicom_seg.read_dicom_seg.")


def _find_roi(structure_set: Dataset, roi: str | int | None, path: Path) -> tuple[int, str, str]:
    """ROI number, name and frame of reference UID of ``roi`` (a name, matched exactly then ignoring
    case, or a number; None for the only ROI)."""
    items = list(structure_set.get("StructureSetROISequence", []))
    if roi is None and len(items) != 1:
        offered = ", ".join(f"{int(item.ROINumber)} {str(item.ROIName)!r}" for item in items) or "none"
        raise MaskError(f"{path} holds {len(items)} ROIs; say which to read (its name or number). Its ROIs: {offered}.")
    if roi is None:
        roi = int(items[0].ROINumber)
    found = [item for item in items if str(item.ROIName) == str(roi) or (isinstance(roi, int) and int(item.ROINumber) == roi)]
    if not found:
        found = [item for item in items if str(item.ROIName).strip().lower() == str(roi).strip().lower()]
    if len(found) != 1:
        offered = ", ".join(f"{int(item.ROINumber)} {str(item.ROIName)!r}" for item in items) or "none"
        problem = "several ROIs are" if found else "no ROI is"
        raise MaskError(f"{path}: {problem} called {roi!r}. Its ROIs: {offered}.")
    item = found[0]
    return int(item.ROINumber), str(item.ROIName), str(item.get("ReferencedFrameOfReferenceUID", ""))


def _referenced_series(structure_set: Dataset, frame_of_reference: str, path: Path) -> str:
    """The SeriesInstanceUID of the image series the structure set was drawn on, in ``frame_of_reference``."""
    uids = {
        str(series.SeriesInstanceUID)
        for reference in structure_set.get("ReferencedFrameOfReferenceSequence", [])
        if str(reference.get("FrameOfReferenceUID", "")) == frame_of_reference
        for study in reference.get("RTReferencedStudySequence", [])
        for series in study.get("RTReferencedSeriesSequence", [])
    }
    if len(uids) != 1:
        raise InputError(
            f"{path} names {len(uids) or 'no'} image series for frame of reference {frame_of_reference} "
            "(ReferencedFrameOfReferenceSequence); it must name exactly the one its contours were drawn on."
        )
    return uids.pop()


def _closed_contours(structure_set: Dataset, number: int, name: str, path: Path) -> list[Dataset]:
    contours = [
        contour
        for item in structure_set.get("ROIContourSequence", [])
        if int(item.ReferencedROINumber) == number
        for contour in item.get("ContourSequence", [])
    ]
    closed = [c for c in contours if str(c.get("ContourGeometricType", "")) == "CLOSED_PLANAR"]
    if not closed:
        kinds = sorted({str(c.get("ContourGeometricType", "?")) for c in contours})
        what = f"only {', '.join(kinds)} contours" if contours else "no contours"
        raise MaskError(f"{path}: ROI {name!r} has {what}; a mask needs closed planar contours (CLOSED_PLANAR).")
    return closed


def _check_contour_images(contours: list[Dataset], known: set[str], name: str, path: Path) -> None:
    referenced = {str(image.ReferencedSOPInstanceUID) for c in contours for image in c.get("ContourImageSequence", [])}
    missing = sorted(referenced - known)
    if missing:
        raise DicomSeriesError(
            f"{path}: ROI {name!r} is drawn on {len(missing)} image(s) that the series lacks ({listing(missing, 3)}): "
            "the series is incomplete or was exported again with new UIDs."
        )


def _on_slice(image: Volume, points: np.ndarray, name: str, path: Path) -> tuple[int, np.ndarray]:
    """The slice a contour lies on and its polygon in that slice's (i, j) voxel coordinates."""
    indices = np.array([image.physical_to_index(point) for point in points])
    k = float(np.median(indices[:, 2]))
    slice_index = int(round(k))
    off_plane = np.abs(indices[:, 2] - slice_index).max()
    size = np.asarray(image.size)
    if off_plane > PLANE_TOLERANCE or not 0 <= slice_index < size[2]:
        raise GeometryMismatchError(
            f"{path}: a contour of ROI {name!r} (at slice index {k:.3g}, {off_plane:.3g} slices off a slice plane) does "
            f"not lie on a slice of the series (0 to {size[2] - 1}). The RTSTRUCT was drawn on another series."
        )
    if np.any(indices[:, :2] < -0.5) or np.any(indices[:, :2] > size[:2] - 0.5):
        raise GeometryMismatchError(
            f"{path}: a contour of ROI {name!r} on slice {slice_index} reaches outside the series' images. "
            "The RTSTRUCT was drawn on another series."
        )
    return slice_index, indices[:, :2]


def _toggle_inside(plane: np.ndarray, polygon: np.ndarray) -> None:
    """Flip the voxels of ``plane`` (indexed [j, i]) whose centres lie inside ``polygon`` ((i, j) points)."""
    low = np.clip(np.floor(polygon.min(axis=0)).astype(int), 0, None)
    high = np.minimum(np.ceil(polygon.max(axis=0)).astype(int) + 1, plane.shape[::-1])
    i, j = np.meshgrid(np.arange(low[0], high[0]), np.arange(low[1], high[1]))
    inside = Polygon(polygon, closed=False).contains_points(np.column_stack([i.ravel(), j.ravel()]))
    plane[low[1]:high[1], low[0]:high[0]] ^= inside.reshape(i.shape).astype(np.uint8)
