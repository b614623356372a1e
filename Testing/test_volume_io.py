"""Reading and writing volumes and masks: NRRD, NIfTI, MetaImage and DICOM series, and bad input.

Every test builds its own small images in a temporary folder; only the test marked ``realdata``
uses the public data set.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from conftest import data_path
from ResponsePredictorLib.dicom import read_dicom_series
from ResponsePredictorLib.dicom_export import write_dicom_series
from ResponsePredictorLib.errors import (
    DicomSeriesError,
    GeometryMismatchError,
    ImageContentError,
    ImageReadError,
    MaskError,
)
from ResponsePredictorLib.volume import GRID_TOLERANCE, Volume, conform_mask, read_mask, read_volume, write_volume

SPACING = (0.7, 0.85, 2.5)
ORIGIN = (-123.456789, 45.6, -300.1234567)


def oblique_direction() -> tuple[float, ...]:
    """A rotation about all three axes, so that no direction cosine is 0 or 1."""
    a, b, c = 0.3, -0.2, 0.5
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return tuple((rz @ ry @ rx).ravel())


def make_volume(dtype: type = np.int16, shape: tuple[int, int, int] = (6, 7, 8), seed: int = 0) -> Volume:
    """Random voxels over the dtype's range (or CT-like floats) on an oblique, anisotropic grid."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        array = (rng.normal(size=shape) * 300).astype(dtype)
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return Volume(array, SPACING, ORIGIN, oblique_direction())


def make_labels(shape: tuple[int, int, int] = (6, 7, 8)) -> np.ndarray:
    labels = np.zeros(shape, np.uint8)
    labels[1:4, 2:5, 2:6] = 1
    labels[3:5, 4:6, 5:7] = 2
    labels[0, 0, 0] = 7
    return labels


def assert_same_grid(actual: Volume, expected: Volume, tolerance: float) -> None:
    for name in ("spacing", "origin", "direction"):
        np.testing.assert_allclose(
            getattr(actual, name), getattr(expected, name), rtol=0, atol=tolerance, err_msg=name
        )


def assert_same_volume(actual: Volume, expected: Volume, tolerance: float) -> None:
    assert actual.array.dtype == expected.array.dtype
    np.testing.assert_array_equal(actual.array, expected.array)
    assert_same_grid(actual, expected, tolerance)


# NIfTI keeps the grid in float32 (sform/qform), so it is exact only to float32 round-off, which
# GRID_TOLERANCE is meant to absorb; the other formats write doubles in full.
FORMATS = [(".nrrd", 1e-12), (".nhdr", 1e-12), (".mha", 1e-12), (".mhd", 1e-12), (".nii", GRID_TOLERANCE),
           (".nii.gz", GRID_TOLERANCE)]


# ---------------------------------------------------------------------------------------------
# File formats


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize(("suffix", "tolerance"), FORMATS)
def test_file_round_trip_keeps_array_dtype_and_geometry(
    tmp_path: Path, suffix: str, tolerance: float, dtype: type
) -> None:
    volume = make_volume(dtype)
    path = write_volume(volume, tmp_path / f"image{suffix}")
    assert_same_volume(read_volume(path), volume, tolerance)


@pytest.mark.parametrize(("suffix", "tolerance"), FORMATS)
def test_mask_round_trip_keeps_labels_on_the_image_grid(tmp_path: Path, suffix: str, tolerance: float) -> None:
    image = make_volume()
    mask = image.with_array(make_labels(image.shape))
    path = write_volume(mask, tmp_path / f"mask{suffix}")
    assert_same_volume(read_volume(path), mask, tolerance)
    # read_mask accepts it as being on the image's grid: the format's round-off stays within tolerance.
    assert_same_volume(read_mask(path, image), mask, tolerance)


# ---------------------------------------------------------------------------------------------
# DICOM series: round trips


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.uint8, np.int8])
def test_dicom_round_trip_keeps_array_dtype_and_geometry(tmp_path: Path, dtype: type) -> None:
    volume = make_volume(dtype)
    write_dicom_series(volume, tmp_path)
    # DICOM stores positions and cosines as 16-character decimals: ~12 significant digits.
    assert_same_volume(read_dicom_series(tmp_path), volume, 1e-9)


def test_dicom_stores_wide_integers_with_an_intercept(tmp_path: Path) -> None:
    array = np.random.default_rng(1).integers(-40_000, 20_000, size=(5, 6, 7)).astype(np.int32)
    volume = Volume(array, SPACING, ORIGIN, oblique_direction())
    files = write_dicom_series(volume, tmp_path)
    assert float(pydicom.dcmread(files[0]).RescaleIntercept) == array.min()
    back = read_dicom_series(tmp_path)
    np.testing.assert_array_equal(back.array, array)
    assert back.array.dtype.kind == "i"


def test_dicom_quantizes_fractional_values_within_half_a_step(tmp_path: Path) -> None:
    volume = make_volume(np.float32)
    files = write_dicom_series(volume, tmp_path, modality="PT")
    for file in files:
        edit(file, Units="GML")  # a PET already in SUV keeps its values (test_pet_suv.py: those in Bq/ml)
    slope = float(pydicom.dcmread(files[0]).RescaleSlope)
    back = read_dicom_series(tmp_path)
    assert back.array.dtype == np.float64
    assert np.abs(back.array - volume.array).max() <= slope / 2 * 1.001
    assert_same_grid(back, volume, 1e-9)


def test_dicom_left_handed_grid_comes_back_as_the_same_image_in_slice_normal_order(tmp_path: Path) -> None:
    direction = np.reshape(oblique_direction(), (3, 3)).copy()
    direction[:, 2] *= -1  # the third axis against the slice normal
    volume = Volume(make_volume().array, SPACING, ORIGIN, tuple(direction.ravel()))
    write_dicom_series(volume, tmp_path)
    back = read_dicom_series(tmp_path)
    np.testing.assert_array_equal(back.array, volume.array[::-1])
    last_slice = np.asarray(ORIGIN) + (volume.shape[0] - 1) * SPACING[2] * direction[:, 2]
    np.testing.assert_allclose(back.origin, last_slice, atol=1e-9)
    np.testing.assert_allclose(np.reshape(back.direction, (3, 3))[:, 2], -direction[:, 2], atol=1e-9)


def test_dicom_headers_place_each_slice_and_hold_no_patient_identifiers(tmp_path: Path) -> None:
    volume = make_volume()
    files = write_dicom_series(volume, tmp_path, series_description="synthetic")
    headers = [pydicom.dcmread(f) for f in files]
    axes = np.reshape(volume.direction, (3, 3))
    for k, header in enumerate(headers):
        expected = np.asarray(ORIGIN) + k * SPACING[2] * axes[:, 2]
        np.testing.assert_allclose([float(v) for v in header.ImagePositionPatient], expected, atol=1e-9)
        assert [float(v) for v in header.PixelSpacing] == pytest.approx([SPACING[1], SPACING[0]])
        assert float(header.SliceThickness) == pytest.approx(SPACING[2])
        assert header.PatientName == "" and header.PatientID == "" and header.PatientBirthDate == ""
    assert len({h.SOPInstanceUID for h in headers}) == len(files)
    assert len({h.SeriesInstanceUID for h in headers}) == 1


def test_dicom_writer_refuses_to_mix_into_an_existing_series(tmp_path: Path) -> None:
    write_dicom_series(make_volume(), tmp_path)
    with pytest.raises(FileExistsError, match="slice_0001.dcm"):
        write_dicom_series(make_volume(seed=1), tmp_path)


@pytest.mark.realdata
def test_dicom_round_trip_of_a_real_ct(tmp_path: Path) -> None:
    ct = read_volume(data_path("pyradiomics", "lung1_image.nrrd"))
    write_dicom_series(ct, tmp_path / "lung1")
    assert_same_volume(read_volume(tmp_path / "lung1"), ct, 1e-6)


# ---------------------------------------------------------------------------------------------
# DICOM series: what real folders hold


def series_folder(
    tmp_path: Path, volume: Volume | None = None, name: str = "series", **options: object
) -> tuple[Path, list[Path]]:
    """A DICOM series written into ``tmp_path / name``, and its files in slice order."""
    folder = tmp_path / name
    volume = volume or make_volume(shape=(8, 5, 6))
    return folder, write_dicom_series(volume, folder, **options)  # type: ignore[arg-type]


def edit(path: Path, **elements: object) -> None:
    """Set elements of the header of the DICOM file at ``path``; None removes one."""
    header = pydicom.dcmread(path)
    for keyword, value in elements.items():
        if value is not None:
            setattr(header, keyword, value)
        elif keyword in header:
            delattr(header, keyword)
    header.save_as(path)


def test_folder_with_two_series_lists_both_and_reads_the_chosen_one(tmp_path: Path) -> None:
    first, second = make_volume(shape=(4, 5, 6), seed=1), make_volume(shape=(3, 5, 6), seed=2)
    write_dicom_series(first, tmp_path / "a", series_description="arterial")
    files = write_dicom_series(second, tmp_path / "b", modality="MR", series_description="venous")
    with pytest.raises(DicomSeriesError) as raised:
        read_volume(tmp_path)
    message = str(raised.value)
    uid_a = str(pydicom.dcmread(tmp_path / "a" / "slice_0001.dcm").SeriesInstanceUID)
    uid_b = str(pydicom.dcmread(files[0]).SeriesInstanceUID)
    for expected in (uid_a, "arterial", "4 file", uid_b, "venous", "MR", "3 file", "series_uid", "--series"):
        assert expected in message
    assert_same_volume(read_volume(tmp_path, series_uid=uid_b), second, 1e-9)
    with pytest.raises(DicomSeriesError, match="1.2.3.4 is not in"):
        read_dicom_series(tmp_path, series_uid="1.2.3.4")


def test_shuffled_file_names_and_instance_numbers_still_read_in_space_order(tmp_path: Path) -> None:
    volume = make_volume(shape=(8, 5, 6))
    folder, files = series_folder(tmp_path, volume)
    order = np.random.default_rng(3).permutation(len(files))
    for file, k in zip(files, order):
        edit(file, InstanceNumber=int(len(files) - k))
        file.rename(folder / f"x{k:02d}")
    assert_same_volume(read_dicom_series(folder), volume, 1e-9)


@pytest.mark.parametrize("removed", [[3], [3, 4]])
def test_missing_middle_slices_are_reported_with_their_place(tmp_path: Path, removed: list[int]) -> None:
    folder, files = series_folder(tmp_path)
    for k in removed:
        files[k].unlink()
    with pytest.raises(DicomSeriesError) as raised:
        read_dicom_series(folder)
    message = str(raised.value)
    assert f"missing {len(removed)} slice" in message
    assert files[removed[0] - 1].name in message and files[removed[-1] + 1].name in message


def test_duplicated_slice_position_is_reported(tmp_path: Path) -> None:
    folder, files = series_folder(tmp_path)
    copy = folder / "copy_of_slice_5.dcm"
    shutil.copy(files[4], copy)
    edit(copy, SOPInstanceUID=pydicom.uid.generate_uid())
    with pytest.raises(DicomSeriesError, match="occur twice") as raised:
        read_dicom_series(folder)
    assert copy.name in str(raised.value)


@pytest.mark.parametrize(
    ("keyword", "value", "problem"),
    [
        ("ImageOrientationPatient", [1, 0, 0, 0, 0, -1], "orientation"),
        ("PixelSpacing", [0.5, 0.5], "pixel spacing"),
    ],
)
def test_a_slice_with_other_geometry_is_named(
    tmp_path: Path, keyword: str, value: list[float], problem: str
) -> None:
    folder, files = series_folder(tmp_path)
    edit(files[5], **{keyword: value})
    with pytest.raises(DicomSeriesError, match=problem) as raised:
        read_dicom_series(folder)
    assert files[5].name in str(raised.value)


def test_a_slice_of_another_size_is_named(tmp_path: Path) -> None:
    volume = make_volume(shape=(8, 5, 6))
    folder, files = series_folder(tmp_path, volume)
    uid = str(pydicom.dcmread(files[0]).SeriesInstanceUID)
    bigger = Volume(np.zeros((8, 9, 6), np.int16), volume.spacing, volume.origin, volume.direction)
    _, others = series_folder(tmp_path, bigger, name="other", series_uid=uid)
    shutil.move(others[2], files[2])
    with pytest.raises(DicomSeriesError, match=r"image size \(Rows, Columns\)") as raised:
        read_dicom_series(folder)
    assert files[2].name in str(raised.value)


def test_irregular_spacing_and_tilted_slices_are_reported(tmp_path: Path) -> None:
    axial = Volume(np.zeros((6, 5, 6), np.int16), (1, 1, 2), (0, 0, 0), np.eye(3).ravel())
    folder, files = series_folder(tmp_path, axial)  # slices at z = 0, 2, ..., 10
    edit(files[2], ImagePositionPatient=[0, 0, 4.6])  # 0.6 mm off its place
    with pytest.raises(DicomSeriesError, match="irregular slice spacing"):
        read_dicom_series(folder)
    for k, file in enumerate(files):
        edit(file, ImagePositionPatient=[0, 0.3 * k, 2 * k])  # a gantry tilt: each slice shifted in y
    with pytest.raises(DicomSeriesError, match="shifted sideways"):
        read_dicom_series(folder)


def test_per_slice_rescaling_is_applied_slice_by_slice(tmp_path: Path) -> None:
    volume = make_volume(np.uint16, shape=(4, 5, 6))
    folder, files = series_folder(tmp_path, volume, modality="PT")
    # GDCM picks the pixel type from the first slice; its whole-number slope must not truncate the others.
    slopes = [1.0, 0.5, 1.25, 3.0]
    for file, slope in zip(files, slopes):
        edit(file, RescaleSlope=slope, RescaleIntercept=-2, Units="GML")
    expected = volume.array * np.array(slopes)[:, None, None] - 2
    np.testing.assert_array_equal(read_dicom_series(folder).array, expected)


def test_files_that_are_not_dicom_are_skipped(tmp_path: Path) -> None:
    volume = make_volume(shape=(5, 5, 6))
    folder, _ = series_folder(tmp_path, volume)
    (folder / "notes.txt").write_text("exported by hand")
    (folder / "empty").write_bytes(b"")
    (folder / ".DS_Store").write_bytes(b"\0\1\2")
    assert_same_volume(read_dicom_series(folder), volume, 1e-9)


PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"  # (7FE0,0010) as written in little endian


@pytest.mark.parametrize(
    ("rows_columns", "cut"),
    [
        ((5, 6), lambda data: len(data) // 2),
        ((5, 6), lambda data: data.rindex(PIXEL_DATA_TAG)),
        ((5, 6), lambda data: len(data) - 10),
        ((40, 60), lambda data: len(data) - 10),
    ],
    ids=["inside the header", "just before the pixels", "inside small pixel data", "inside large pixel data"],
)
def test_truncated_dicom_file_is_named(
    tmp_path: Path, rows_columns: tuple[int, int], cut: Callable[[bytes], int]
) -> None:
    folder, files = series_folder(tmp_path, make_volume(shape=(8, *rows_columns)))
    data = files[7].read_bytes()  # an end slice: no gap would reveal it missing
    files[7].write_bytes(data[: cut(data)])
    with pytest.raises(DicomSeriesError, match="truncated or damaged") as raised:
        read_dicom_series(folder)
    assert files[7].name in str(raised.value)


def test_single_slice_is_not_a_volume(tmp_path: Path) -> None:
    folder, files = series_folder(tmp_path)
    for file in files[1:]:
        file.unlink()
    with pytest.raises(DicomSeriesError, match="single slice"):
        read_dicom_series(folder)


def test_empty_folder_and_folder_without_dicom(tmp_path: Path) -> None:
    with pytest.raises(DicomSeriesError, match="No DICOM image found") as raised:
        read_volume(tmp_path)
    assert str(tmp_path) in str(raised.value)
    write_volume(make_volume(), tmp_path / "image.nrrd")
    with pytest.raises(DicomSeriesError, match="give the path of the file"):
        read_volume(tmp_path)


# ---------------------------------------------------------------------------------------------
# Bad image files


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.nrrd"
    with pytest.raises(ImageReadError, match="not found") as raised:
        read_volume(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    "name",
    [
        "image.nrrd",
        "image.mha",
        # ITK fills a truncated NIfTI with zeros without a word; read_volume checks its size.
        "image.nii.gz",
        "image.nii",
    ],
)
def test_truncated_file(tmp_path: Path, name: str) -> None:
    path = write_volume(make_volume(np.float32, shape=(20, 30, 40)), tmp_path / name)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError) as raised:
        read_volume(path)
    assert str(path) in str(raised.value)


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.nrrd"
    path.write_text("patient went home\n")
    with pytest.raises(ImageReadError, match="Could not read") as raised:
        read_volume(path)
    assert str(path) in str(raised.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "image.nii.gz"
    path.write_bytes(b"")
    with pytest.raises(ImageReadError, match="0 bytes") as raised:
        read_volume(path)
    assert str(path) in str(raised.value)


def test_2d_image_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "slice.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((5, 6), np.int16)), str(path))
    with pytest.raises(ImageContentError, match="2D") as raised:
        read_volume(path)
    assert str(path) in str(raised.value)


def test_rgb_image_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "photo.mha"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((4, 5, 6, 3), np.uint8), isVector=True), str(path))
    with pytest.raises(ImageContentError, match="3 components") as raised:
        read_volume(path)
    assert str(path) in str(raised.value)


# ---------------------------------------------------------------------------------------------
# Masks


def test_mask_on_another_grid_is_refused_unless_resampling_is_asked_for(tmp_path: Path) -> None:
    image = make_volume(shape=(4, 5, 6))
    coarse = make_labels(image.shape)
    # The same labels on a grid twice as fine: fine voxel 2i sits exactly on coarse voxel i, so
    # nearest-neighbour resampling onto the image grid must give the coarse labels back.
    fine = coarse.repeat(2, 0).repeat(2, 1).repeat(2, 2)
    mask = Volume(fine, tuple(s / 2 for s in image.spacing), image.origin, image.direction)
    path = write_volume(mask, tmp_path / "fine_mask.nrrd")
    with pytest.raises(GeometryMismatchError, match="spacing") as raised:
        read_mask(path, image)
    assert str(path) in str(raised.value)
    resampled = read_mask(path, image, resample=True)
    assert resampled.array.dtype == np.uint8
    np.testing.assert_array_equal(resampled.array, coarse)
    assert resampled.same_grid(image)


def test_float_mask_with_fractions_is_refused(tmp_path: Path) -> None:
    image = make_volume()
    probabilities = image.with_array(np.linspace(0, 1, image.array.size, dtype=np.float32).reshape(image.shape))
    path = write_volume(probabilities, tmp_path / "probabilities.nii.gz")
    with pytest.raises(MaskError, match="non-integer") as raised:
        read_mask(path, image)
    assert str(path) in str(raised.value)
    with pytest.raises(MaskError, match="non-integer"):
        conform_mask(probabilities, image)
