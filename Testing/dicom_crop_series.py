"""A real CT crop written as a DICOM series, for the tests of objects that refer to a series (SEG, RTSTRUCT).

The crop is cut around the tumor of one NSCLC patient and placed on a deliberately awkward grid:
anisotropic voxels, rows and columns of different lengths, an origin away from zero and axes
rotated about the slice normal, so that a swapped axis or a dropped direction shows as a wrong mask.
The series carries a made-up patient name and ID, for the tests that they do not leak.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import data_path
from ResponsePredictorLib.dicom_export import write_dicom_series
from ResponsePredictorLib.volume import Volume, nonzero_box

PATIENT_NAME, PATIENT_ID = "Doe^Jane", "PID-0042-XYZ"
MARGIN = 3


def crop_volumes(patient: str = "patient_005") -> tuple[Volume, Volume]:
    """The scan and tumor mask of ``patient``'s crop, cut to the tumor plus a margin, on the test grid."""
    crop = np.load(data_path("nsclc_crops", "images", f"{patient}.npz"))
    box = tuple(slice(max(s.start - MARGIN, 0), s.stop + MARGIN) for s in nonzero_box(crop["mask"]))
    angle = np.deg2rad(30.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]])
    scan = Volume(crop["scan"][box], (0.8, 0.9, 2.5), (-120.5, 31.25, -310.0), tuple(rotation.ravel()))
    return scan, scan.with_array(crop["mask"][box].astype(np.uint8))


def write_crop_series(folder: Path, patient: str = "patient_005") -> tuple[Volume, Volume]:
    """Write the crop's scan as a CT series into ``folder``; returns (scan, mask) as in ``crop_volumes``."""
    scan, mask = crop_volumes(patient)
    write_dicom_series(scan, folder, patient_name=PATIENT_NAME, patient_id=PATIENT_ID, series_description="crop")
    return scan, mask
