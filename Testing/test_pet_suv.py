"""DICOM PET in Bq/ml read as SUV body weight, and a series' modality and frame of reference.

Each test writes a small synthetic PET series (known stored values, a RescaleSlope per slice, 370 MBq
of F-18 given to a 75 kg patient one hour before the scan) and checks the SUV against the formula
worked out by hand, or that a series lacking what SUV needs is refused with the element named.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from ResponsePredictorLib.dicom import SeriesIdentity, read_dicom_series, series_identity
from ResponsePredictorLib.dicom_export import write_dicom_series
from ResponsePredictorLib.errors import DicomSeriesError
from ResponsePredictorLib.volume import Volume
from test_volume_io import edit

STORED = np.random.default_rng(7).integers(0, 20_000, size=(4, 5, 6)).astype(np.uint16)
STORED[1, 2, 3] = 20_000
SLOPES = [0.25, 0.5, 1.5, 0.75]
BQ_PER_ML = STORED * np.array(SLOPES)[:, None, None]  # voxel [1, 2, 3] holds 10 kBq/ml
FRAME = generate_uid()
GRID = ((2.0, 2.0, 3.0), (0.0, 0.0, 0.0), tuple(np.eye(3).ravel()))  # spacing, origin, direction

WEIGHT_KG, DOSE_BQ, HALF_LIFE_S = 75.0, 370e6, 6586.2  # F-18
PET_HEADER = {
    "Units": "BQML", "DecayCorrection": "START", "PatientWeight": "75",
    "SeriesDate": "20240305", "SeriesTime": "103000", "AcquisitionDate": "20240305", "AcquisitionTime": "103000",
}
DRUG = {"RadiopharmaceuticalStartTime": "093000", "RadionuclideTotalDose": "370000000", "RadionuclideHalfLife": "6586.2"}


def pet_series(folder: Path, header: dict | None = None, drug: dict | None = None) -> Path:
    """A PET series in ``folder`` holding BQ_PER_ML, with PET_HEADER and DRUG changed by ``header`` and
    ``drug`` (None removes an element); returns the folder."""
    files = write_dicom_series(
        Volume(STORED, *GRID), folder,
        modality="PT", frame_of_reference_uid=FRAME,
    )
    injection = Dataset()
    for keyword, value in {**DRUG, **(drug or {})}.items():
        if value is not None:
            setattr(injection, keyword, value)
    for file, slope in zip(files, SLOPES):
        edit(file, **{"RescaleSlope": slope, "RadiopharmaceuticalInformationSequence": [injection],
                      **PET_HEADER, **(header or {})})
    return folder


def suv(bq_per_ml: np.ndarray, seconds_after_injection: float | None) -> np.ndarray:
    """SUVbw by hand: C x weight [g] / (dose decayed over the time, or not decayed for None)."""
    decay = 1.0 if seconds_after_injection is None else 2.0 ** (-seconds_after_injection / HALF_LIFE_S)
    return bq_per_ml * WEIGHT_KG * 1000.0 / (DOSE_BQ * decay)


def test_pet_in_bq_per_ml_decay_corrected_to_the_scan_start_comes_back_in_suv(tmp_path: Path) -> None:
    volume = read_dicom_series(pet_series(tmp_path))
    assert volume.array.dtype in (np.float32, np.float64)
    np.testing.assert_allclose(volume.array, suv(BQ_PER_ML, 3600.0), rtol=1e-6)
    # 10 kBq/ml one hour after 370 MBq (253.31 MBq left) in 75 kg.
    assert volume.array[1, 2, 3] == pytest.approx(2.960750161260463, rel=1e-6)


def test_pet_decay_corrected_to_the_administration_uses_the_dose_as_given(tmp_path: Path) -> None:
    folder = pet_series(tmp_path, {"DecayCorrection": "ADMIN"}, {"RadionuclideHalfLife": None})
    volume = read_dicom_series(folder)
    np.testing.assert_allclose(volume.array, suv(BQ_PER_ML, None), rtol=1e-6)
    assert volume.array[1, 2, 3] == pytest.approx(10_000 * 75_000 / 370e6, rel=1e-6)


def test_injection_date_time_counts_across_midnight_and_its_utc_offset_is_local_time(tmp_path: Path) -> None:
    folder = pet_series(
        tmp_path,
        {"SeriesDate": "20240306", "SeriesTime": "001000", "AcquisitionDate": "20240306", "AcquisitionTime": "001000"},
        {"RadiopharmaceuticalStartTime": None, "RadiopharmaceuticalStartDateTime": "20240305233000+0100"},
    )
    np.testing.assert_allclose(read_dicom_series(folder).array, suv(BQ_PER_ML, 2400.0), rtol=1e-6)


def test_pet_already_in_suv_is_kept_as_it_is(tmp_path: Path) -> None:
    folder = pet_series(tmp_path, {"Units": "GML", "DecayCorrection": None, "PatientWeight": None,
                                   "RadiopharmaceuticalInformationSequence": None})
    np.testing.assert_array_equal(read_dicom_series(folder).array, BQ_PER_ML)


@pytest.mark.parametrize(
    ("header", "drug", "keyword"),
    [
        ({"Units": None}, {}, "Units"),
        ({"DecayCorrection": None}, {}, "DecayCorrection"),
        ({"PatientWeight": None}, {}, "PatientWeight"),
        ({"PatientWeight": "0"}, {}, "PatientWeight"),
        ({"SeriesTime": None}, {}, "SeriesTime"),
        ({"RadiopharmaceuticalInformationSequence": None}, {}, "RadiopharmaceuticalInformationSequence"),
        ({}, {"RadionuclideTotalDose": None}, "RadionuclideTotalDose"),
        ({}, {"RadionuclideTotalDose": "-5"}, "RadionuclideTotalDose"),
        ({}, {"RadionuclideHalfLife": None}, "RadionuclideHalfLife"),
        ({}, {"RadiopharmaceuticalStartTime": None}, "RadiopharmaceuticalStartTime"),
    ],
)
def test_a_missing_or_unusable_element_that_suv_needs_is_named(
    tmp_path: Path, header: dict, drug: dict, keyword: str
) -> None:
    folder = pet_series(tmp_path, header, drug)
    with pytest.raises(DicomSeriesError, match=keyword) as raised:
        read_dicom_series(folder)
    message = str(raised.value)
    assert str(folder) in message and "NRRD or NIfTI" in message


@pytest.mark.parametrize(
    ("header", "drug", "problem"),
    [
        ({"Units": "CNTS"}, {}, "in CNTS"),
        ({"DecayCorrection": "NONE"}, {}, "'NONE'"),
        # Without dates, 00:10 after an injection at 23:30 reads as before it.
        ({"SeriesDate": None, "AcquisitionDate": None, "SeriesTime": "001000", "AcquisitionTime": "001000"},
         {"RadiopharmaceuticalStartTime": "233000"}, "before the injection time.* no SeriesDate"),
        # A series time rewritten after the acquisition.
        ({"AcquisitionTime": "102500"}, {}, "later than the acquisition time"),
    ],
)
def test_values_that_cannot_become_suv_are_refused(tmp_path: Path, header: dict, drug: dict, problem: str) -> None:
    with pytest.raises(DicomSeriesError, match=problem):
        read_dicom_series(pet_series(tmp_path, header, drug))


def test_series_identity_gives_modality_and_frame_of_reference(tmp_path: Path) -> None:
    pet_uid = str(pydicom.dcmread(next(pet_series(tmp_path / "pet").iterdir())).SeriesInstanceUID)
    ct = write_dicom_series(Volume(np.zeros((3, 4, 5), np.int16), *GRID), tmp_path / "ct")
    for file in ct:
        edit(file, FrameOfReferenceUID=None)
    ct_uid = str(pydicom.dcmread(ct[0]).SeriesInstanceUID)
    assert series_identity(tmp_path / "pet") == SeriesIdentity("PT", FRAME, pet_uid)
    assert series_identity(tmp_path, ct_uid) == SeriesIdentity("CT", None, ct_uid)
    with pytest.raises(DicomSeriesError, match="holds 2 image series"):
        series_identity(tmp_path)
