"""pyradiomics' preprocessing without pyradiomics: masks, normalisation, resampling, discretisation, sequence.

Unit tests run on small synthetic SimpleITK images and need neither data nor pyradiomics. The
agreement tests compare with pyradiomics 3.0.1's imageoperations where it is installed, on synthetic
images and (marked realdata) on the public cases, cropped where the full scans would be slow.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import data_path
from scipy import ndimage

from ResponsePredictorLib.errors import MaskError, SettingsError
from ResponsePredictorLib.features.preprocessing import (
    BoundingBox,
    bin_edges,
    bin_image,
    check_mask,
    crop_to_tumor_mask,
    extraction_settings,
    get_mask,
    interpolator_id,
    normalize_image,
    prepare_case,
    resample_image,
    resegment_mask,
)

# ---------------------------------------------------------------------------------------------------
# Synthetic images (also used by test_filters.py)


def synthetic_image(
    size: tuple[int, ...] = (41, 38, 17),
    spacing: tuple[float, ...] = (0.7, 0.75, 2.5),
    dtype: type = np.int16,
    seed: int = 0,
    direction: tuple[float, ...] | None = None,
) -> sitk.Image:
    """A CT-like image: smooth structure from -1000 to ~1000 plus noise, in ``dtype``."""
    rng = np.random.default_rng(seed)
    shape = size[::-1]
    structure = ndimage.gaussian_filter(rng.normal(size=shape), 2.0)
    values = structure / np.abs(structure).max() * 900 + rng.normal(scale=40, size=shape) - 100
    if np.issubdtype(dtype, np.integer):
        values = np.round(values)
    image = sitk.GetImageFromArray(values.astype(dtype))
    image.SetSpacing(spacing)
    image.SetOrigin(tuple(-11.3 * (axis + 1) + 0.123 for axis in range(len(size))))
    if direction is not None:
        image.SetDirection(direction)
    return image


def ellipsoid_mask(image: sitk.Image, centre: tuple[int, ...], radii: tuple[float, ...], label: int = 1) -> sitk.Image:
    """A UInt8 mask on ``image``'s grid with ``label`` inside an ellipsoid (voxel units, x/y/z order)."""
    grids = np.indices(image.GetSize()[::-1])
    inside = sum(((grid - c) / r) ** 2 for grid, c, r in zip(grids, centre[::-1], radii[::-1])) <= 1
    mask = sitk.GetImageFromArray((inside * label).astype(np.uint8))
    mask.CopyInformation(image)
    return mask


def case(dtype: type = np.int16, **kwargs) -> tuple[sitk.Image, sitk.Image]:
    image = synthetic_image(dtype=dtype, **kwargs)
    return image, ellipsoid_mask(image, (20, 18, 8), (8, 6, 3))


def assert_same_image(ours: sitk.Image, theirs: sitk.Image) -> None:
    """Same grid, same pixel type, and values equal (integers) or within 1e-9 relative (floats)."""
    assert ours.GetSize() == theirs.GetSize()
    assert ours.GetPixelID() == theirs.GetPixelID(), (ours.GetPixelIDTypeAsString(), theirs.GetPixelIDTypeAsString())
    np.testing.assert_array_equal(ours.GetSpacing(), theirs.GetSpacing())
    np.testing.assert_array_equal(ours.GetDirection(), theirs.GetDirection())
    np.testing.assert_allclose(ours.GetOrigin(), theirs.GetOrigin(), rtol=0, atol=1e-12)
    a, b = sitk.GetArrayViewFromImage(ours), sitk.GetArrayViewFromImage(theirs)
    if np.issubdtype(b.dtype, np.integer):
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=0)


def read_case(*parts: str) -> tuple[sitk.Image, sitk.Image]:
    """A public case (image, mask) by its image path; the mask path swaps 'image' for 'label'/'mask'."""
    image_path = data_path(*parts)
    name = image_path.name
    mask_name = name.replace("_image", "_label") if "pyradiomics" in parts else name.replace("_image", "_mask")
    return sitk.ReadImage(str(image_path)), sitk.ReadImage(str(image_path.with_name(mask_name)))


def around_label(image: sitk.Image, mask: sitk.Image, margin: tuple[int, ...]) -> tuple[sitk.Image, sitk.Image]:
    """Image and mask cut to the label's box plus ``margin`` voxels (x, y, z): a small real case."""
    box = BoundingBox.of(sitk.GetArrayViewFromImage(mask) == 1).padded(margin, image.GetSize())
    return tuple(sitk.RegionOfInterest(im, [int(n) for n in box.size], list(box.lower)) for im in (image, mask))


REAL_CASES = {
    "lung2": ("pyradiomics", "lung2_image.nrrd"),
    "brain1": ("pyradiomics", "brain1_image.nrrd"),
    "pet": ("sts_dev", "nifti", "STS_001", "PET_image.nii.gz"),
    "ct": ("sts_dev", "nifti", "STS_001", "CT_image.nii.gz"),
    "mr": ("sts_dev", "nifti", "STS_001", "MR_T1_image.nii.gz"),
}

# ---------------------------------------------------------------------------------------------------
# Settings


def test_extraction_settings_take_pyradiomics_defaults():
    settings = extraction_settings({"binWidth": 10, "padDistance": 2}, voxel_based=True)
    assert settings["padDistance"] == 2 and settings["binWidth"] == 10
    assert settings["minimumROIDimensions"] == 2 and settings["interpolator"] == "sitkBSpline"
    assert settings["voxelBased"] is True
    assert "voxelBased" not in extraction_settings({})


def test_interpolators_by_name_and_number():
    assert interpolator_id("sitkBSpline") == sitk.sitkBSpline
    assert interpolator_id(sitk.sitkLinear) == sitk.sitkLinear
    for bad in ("sitkBspline", "linear", 3, True, None):
        with pytest.raises(SettingsError, match="interpolator"):
            interpolator_id(bad)


# ---------------------------------------------------------------------------------------------------
# Masks


def test_get_mask_casts_to_uint32_and_selects_the_channel():
    _, mask = case()
    assert get_mask(mask, {}).GetPixelID() == sitk.sitkUInt32
    vector = sitk.Compose(mask * 0, mask * 2)
    chosen = get_mask(vector, {"label": 2, "label_channel": 1})
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(chosen), sitk.GetArrayViewFromImage(mask) * 2)
    with pytest.raises(MaskError, match="channel 2"):
        get_mask(vector, {"label_channel": 2})


def test_get_mask_errors_name_the_labels_present():
    _, mask = case()
    with pytest.raises(MaskError, match=r"Label 3 is not in the mask; it contains the labels \[1\]"):
        get_mask(mask, {"label": 3})
    with pytest.raises(MaskError, match="no segmented region"):
        get_mask(sitk.Image(mask.GetSize(), sitk.sitkUInt8), {})


def test_check_mask_box_in_pyradiomics_order():
    image, mask = case()
    box, corrected = check_mask(image, get_mask(mask, {}), {})
    assert corrected is None
    assert box == BoundingBox((12, 12, 5), (28, 24, 11))
    np.testing.assert_array_equal(box.as_pyradiomics(), [12, 28, 12, 24, 5, 11])


def test_mask_on_another_grid_needs_correct_mask():
    image, mask = case()
    shifted = get_mask(mask, {})
    shifted.SetOrigin(np.add(mask.GetOrigin(), (0.3, 0.0, 0.0)).tolist())
    with pytest.raises(MaskError, match="correctMask"):
        check_mask(image, shifted, {})
    _, corrected = check_mask(image, shifted, {"correctMask": True})
    assert corrected.GetSize() == image.GetSize() and corrected.GetOrigin() == image.GetOrigin()
    assert corrected.GetPixelID() == sitk.sitkUInt32
    # a difference below the tolerance (scaled by the first spacing, as ITK does) is no mismatch
    nudged = get_mask(mask, {})
    nudged.SetOrigin(np.add(mask.GetOrigin(), (5e-7, 0.0, 0.0)).tolist())
    assert check_mask(image, nudged, {})[1] is None
    nudged.SetOrigin(np.add(mask.GetOrigin(), (5e-5, 0.0, 0.0)).tolist())
    with pytest.raises(MaskError, match="tolerance"):
        check_mask(image, nudged, {})
    assert check_mask(image, nudged, {"geometryTolerance": 1e-4})[1] is None


def test_mask_of_another_size_needs_correct_mask():
    image, mask = case()
    bigger = sitk.ConstantPad(get_mask(mask, {}), [0, 0, 0], [2, 0, 0])
    with pytest.raises(MaskError, match="voxels, the mask"):
        check_mask(image, bigger, {})
    assert check_mask(image, bigger, {"correctMask": True})[1].GetSize() == image.GetSize()


def test_region_outside_the_image_is_an_error():
    image, mask = case()
    moved = get_mask(mask, {})
    moved.SetOrigin(np.add(mask.GetOrigin(), (25.0, 0.0, 0.0)).tolist())
    with pytest.raises(MaskError, match="reaches outside the image"):
        check_mask(image, moved, {"correctMask": True})
    with pytest.raises(MaskError, match="reaches outside the image"):
        resample_image(image, moved, {"resampledPixelSpacing": [1, 1, 1]})


def test_too_few_dimensions_voxels_and_single_voxel():
    image, _ = case()
    values = np.zeros(image.GetSize()[::-1], np.uint8)
    values[6, 10:20, 10:20] = 1  # one slice: 2D
    flat = sitk.GetImageFromArray(values)
    flat.CopyInformation(image)
    assert check_mask(image, flat, {})[0].size.tolist() == [10, 10, 1]
    with pytest.raises(MaskError, match="minimumROIDimensions"):
        check_mask(image, flat, {"minimumROIDimensions": 3})
    with pytest.raises(MaskError, match="has 100 voxels"):
        check_mask(image, flat, {"minimumROISize": 100})  # pyradiomics rejects equality too
    check_mask(image, flat, {"minimumROISize": 99})
    values[:] = 0
    values[3, 4, 5] = 1
    single = sitk.GetImageFromArray(values)
    single.CopyInformation(image)
    with pytest.raises(MaskError, match="single voxel"):
        check_mask(image, single, {})


def test_resegment_modes():
    image, mask = case()
    mask = get_mask(mask, {})
    values = sitk.GetArrayViewFromImage(image)
    region = sitk.GetArrayViewFromImage(mask) == 1
    inside = values[region]
    absolute = sitk.GetArrayViewFromImage(resegment_mask(image, mask, {"resegmentRange": [0, -300]}))
    np.testing.assert_array_equal(absolute == 1, region & (values >= -300) & (values <= 0))
    assert resegment_mask(image, mask, {"resegmentRange": [0]}).GetPixelID() == sitk.sitkInt64
    relative = sitk.GetArrayViewFromImage(resegment_mask(image, mask, {"resegmentRange": [0.5], "resegmentMode": "relative"}))
    np.testing.assert_array_equal(relative == 1, region & (values >= inside.max() * 0.5))
    sigma = sitk.GetArrayViewFromImage(resegment_mask(image, mask, {"resegmentRange": [-1, 1], "resegmentMode": "sigma"}))
    low, high = inside.mean() - inside.std(), inside.mean() + inside.std()
    np.testing.assert_array_equal(sigma == 1, region & (values >= low) & (values <= high))
    with pytest.raises(MaskError, match="kept 0 voxel"):
        resegment_mask(image, mask, {"resegmentRange": [5000]})
    with pytest.raises(SettingsError, match="resegmentRange"):
        resegment_mask(image, mask, {"resegmentRange": [1, 2, 3]})
    with pytest.raises(SettingsError, match="resegmentMode"):
        resegment_mask(image, mask, {"resegmentRange": [1], "resegmentMode": "percent"})


def test_crop_to_tumor_mask_pads_within_the_image():
    image, mask = case()
    box = BoundingBox((1, 12, 5), (28, 24, 15))
    cropped, cropped_mask = crop_to_tumor_mask(image, mask, box, pad_distance=2)
    assert cropped.GetSize() == (31, 17, 14) == cropped_mask.GetSize()  # clamped at x = 0 and z = 16
    assert cropped.GetOrigin() == image.TransformIndexToPhysicalPoint((0, 10, 3))


# ---------------------------------------------------------------------------------------------------
# Normalisation


def test_normalize_uses_the_whole_image():
    image, _ = case()
    values = sitk.GetArrayViewFromImage(image).astype(np.float64)
    z = (values - values.mean()) / values.std(ddof=1)
    normalized = normalize_image(image, {"normalizeScale": 100, "removeOutliers": 2})
    assert normalized.GetPixelID() == sitk.sitkFloat64
    np.testing.assert_allclose(sitk.GetArrayViewFromImage(normalized), np.clip(z, -2, 2) * 100, rtol=1e-12, atol=1e-10)


# ---------------------------------------------------------------------------------------------------
# Resampling


def test_resampled_grid_is_aligned_to_the_mask_and_covers_the_box():
    image, mask = case()
    mask = get_mask(mask, {})
    resampled, resampled_mask = resample_image(image, mask, {"resampledPixelSpacing": [1.0, 0, 2.0], "padDistance": 3})
    assert resampled.GetSpacing() == (1.0, 0.75, 2.0)  # 0 keeps the mask's spacing
    assert resampled.GetPixelID() == sitk.sitkInt16 and resampled_mask.GetPixelID() == sitk.sitkUInt32
    assert resampled.GetOrigin() == resampled_mask.GetOrigin() and resampled.GetSize() == resampled_mask.GetSize()
    # The first voxel centre lies half a new voxel inside a corner of the old grid ...
    corner = np.array(mask.TransformPhysicalPointToContinuousIndex(resampled.GetOrigin())) - 0.5 * (
        np.array(resampled.GetSpacing()) / np.array(mask.GetSpacing()) - 1
    )
    ratio = np.array(mask.GetSpacing()) / np.array(resampled.GetSpacing())
    np.testing.assert_allclose(corner * ratio, np.round(corner * ratio), atol=1e-9)
    # ... and the grid reaches the box's edges plus the padding (within the image).
    box = check_mask(image, mask, {})[0]
    low = np.array(mask.TransformPhysicalPointToContinuousIndex(resampled.GetOrigin()))
    high = np.array(mask.TransformPhysicalPointToContinuousIndex(resampled.TransformIndexToPhysicalPoint([n - 1 for n in resampled.GetSize()])))
    assert np.all((low <= np.array(box.lower) - 0.5) | (low <= 0)) and np.all(high >= np.array(box.upper))
    # the mask is resampled by nearest neighbour
    assert set(np.unique(sitk.GetArrayViewFromImage(resampled_mask))) == {0, 1}


def test_resampling_keeps_spacing_of_a_single_slice_region_and_crops_when_spacing_is_unchanged():
    image, _ = case()
    values = np.zeros(image.GetSize()[::-1], np.uint32)
    values[6, 10:20, 10:20] = 1
    flat = sitk.GetImageFromArray(values)
    flat.CopyInformation(image)
    resampled, _ = resample_image(image, flat, {"resampledPixelSpacing": [1, 1, 1]})
    assert resampled.GetSpacing()[2] == image.GetSpacing()[2]
    same, _ = resample_image(image, flat, {"resampledPixelSpacing": list(image.GetSpacing()), "padDistance": 2})
    assert same.GetSize() == (14, 14, 5) and same.GetOrigin() == image.TransformIndexToPhysicalPoint((8, 8, 4))
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(same), sitk.GetArrayViewFromImage(image)[4:9, 8:22, 8:22])


def test_resampling_settings_errors():
    image, mask = case()
    with pytest.raises(SettingsError, match="resampledPixelSpacing"):
        resample_image(image, mask, {"resampledPixelSpacing": [1, 1]})
    with pytest.raises(SettingsError, match="interpolator"):
        resample_image(image, mask, {"resampledPixelSpacing": [1, 1, 1], "interpolator": "sitkCubic"})


@pytest.mark.parametrize("interpolator", ["sitkBSpline", "sitkLinear", "sitkLanczosWindowedSinc"])
@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_bspline_from_part_of_the_scan_equals_the_whole_scan(interpolator, dtype):
    """The coefficients computed near the region give SimpleITK's full-scan resampling to the bit."""
    image = synthetic_image(size=(160, 150, 30), spacing=(0.6, 0.6, 3.0), dtype=dtype, seed=3)
    mask = get_mask(ellipsoid_mask(image, (40, 110, 12), (10, 12, 3)), {})
    settings = {"resampledPixelSpacing": [1, 1, 1], "interpolator": interpolator}
    ours, _ = resample_image(image, mask, settings)
    whole = sitk.Resample(image, ours, sitk.Transform(), interpolator_id(interpolator), 0, image.GetPixelID())
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(ours), sitk.GetArrayViewFromImage(whole))


# ---------------------------------------------------------------------------------------------------
# Discretisation


def test_bin_width_floors_from_zero_and_bins_are_half_open():
    values = np.array([[54.0, 75.0, 166.0, -26.0]])
    region = np.array([[True, True, True, False]])
    gray, edges = bin_image(values, region, {"binWidth": 25})
    np.testing.assert_array_equal(edges, [50, 75, 100, 125, 150, 175, 200])
    np.testing.assert_array_equal(gray, [[1, 2, 5, 0]])
    assert gray.dtype == np.int64
    negative, _ = bin_image(np.array([-26.0, -25.0, 0.0]), np.ones(3, bool), {"binWidth": 25})
    np.testing.assert_array_equal(negative, [1, 2, 3])


def test_bin_count_and_flat_regions():
    values = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    gray, edges = bin_image(values, np.ones(5, bool), {"binCount": 2})
    np.testing.assert_array_equal(gray, [1, 1, 2, 2, 2])  # edges 0, 2, 4 + 1
    assert edges[-1] == 5.0  # the top edge is raised by one so that the maximum falls inside
    flat_gray, flat_edges = bin_image(np.array([50.0, 50.0]), np.ones(2, bool), {"binWidth": 25})
    np.testing.assert_array_equal(flat_edges, [50, 75])  # one bin: the two extra widths always give two edges
    np.testing.assert_array_equal(flat_gray, [1, 1])
    with pytest.raises(SettingsError, match="binWidth"):
        bin_edges(values, {"binWidth": 0})


def test_float32_values_bin_in_float32():
    """A float32 lower bound differs from a float64 one; the texture classes see the float32 binning."""
    values = np.array([0.1, 25.1, 50.0999], dtype=np.float32)
    edges32 = bin_edges(values, {"binWidth": 0.1})
    edges64 = bin_edges(values.astype(np.float64), {"binWidth": 0.1})
    assert edges32[0] != edges64[0]


# ---------------------------------------------------------------------------------------------------
# The whole sequence


def test_prepare_case_segment_and_voxel_mode():
    image, mask = case()
    prepared = prepare_case(image, mask, {"binWidth": 50}, {"Original": {}, "Square": None})
    assert prepared.bounding_box == BoundingBox((12, 12, 5), (28, 24, 11))
    assert [item.image_type for item in prepared.filtered_images()] == ["original", "square"]
    original = next(prepared.filtered_images())
    assert original.image.GetSize() == (17, 13, 7) and original.settings["binWidth"] == 50
    assert original.gray.min() == 0 and original.gray[original.roi].min() == 1
    voxel = prepare_case(image, mask, {"kernelRadius": 2}, None, voxel_based=True)
    first = next(voxel.filtered_images())
    assert first.image.GetSize() == (21, 17, 11) and first.settings["voxelBased"] is True
    assert voxel.pad_distance == 2


def test_prepare_case_resegment_shape():
    image, mask = case()
    settings = {"resegmentRange": [-100]}
    plain = prepare_case(image, mask, settings)
    region = sitk.GetArrayViewFromImage(plain.mask) == 1
    assert plain.bounding_box == BoundingBox.of(region)
    # without resegmentShape, shape sees the mask before resegmentation (cut to the resegmented box)
    assert np.count_nonzero(sitk.GetArrayViewFromImage(plain.shape_mask)) > np.count_nonzero(region)
    reshaped = prepare_case(image, mask, {**settings, "resegmentShape": True})
    assert reshaped.shape_mask is reshaped.mask
    assert reshaped.shape_region().GetSize() == tuple(int(n) for n in plain.bounding_box.size)


def test_prepare_case_rejects_unknown_image_types_before_any_work():
    image, mask = case()
    with pytest.raises(SettingsError, match="pyradiomics backend"):
        prepare_case(image, mask, {}, {"Original": {}, "LBP3D": {}})
    with pytest.raises(SettingsError, match="Unknown image type 'log'"):
        prepare_case(image, mask, {}, {"log": {}})


# ---------------------------------------------------------------------------------------------------
# Agreement with pyradiomics


def pyradiomics_preprocessing(image, mask, settings, image_types, voxel_based=False):
    """pyradiomics' execute() up to the feature classes: (box, shape image and mask, [(name, image, mask, kwargs)])."""
    from radiomics import imageoperations
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    settings = {**RadiomicsFeatureExtractor._getDefaultSettings(), **settings}
    if voxel_based:
        settings["voxelBased"] = True
    image, mask = RadiomicsFeatureExtractor.loadImage(image, mask, None, **settings)
    box, corrected = imageoperations.checkMask(image, mask, **settings)
    mask = corrected if corrected is not None else mask
    shape_mask = mask
    if settings.get("resegmentRange") is not None:
        mask = imageoperations.resegmentMask(image, mask, **settings)
        box, _ = imageoperations.checkMask(image, mask, **settings)
        if settings.get("resegmentShape", False):
            shape_mask = mask
    shape = imageoperations.cropToTumorMask(image, shape_mask, box)
    pad = settings.get("kernelRadius", 1) if voxel_based else 0
    images = []
    for image_type, custom in image_types.items():
        for filtered, name, kwargs in getattr(imageoperations, f"get{image_type}Image")(image, mask, **{**settings, **custom}):
            cropped, cropped_mask = imageoperations.cropToTumorMask(filtered, mask, box, padDistance=pad)
            images.append((name, cropped, cropped_mask, kwargs))
    return box, shape, images


def assert_same_preparation(image, mask, settings, image_types, voxel_based=False):
    pytest.importorskip("radiomics")
    ours = prepare_case(image, mask, settings, image_types, voxel_based)
    box, shape, images = pyradiomics_preprocessing(image, mask, settings, image_types, voxel_based)
    np.testing.assert_array_equal(ours.bounding_box.as_pyradiomics(), box)
    assert_same_image(ours.shape_region(), shape[1])  # computeShape's mask (its image plays no part)
    prepared = list(ours.filtered_images())
    assert [item.image_type for item in prepared] == [name for name, *_ in images]
    for item, (name, theirs, their_mask, kwargs) in zip(prepared, images):
        assert_same_image(item.image, theirs)
        assert_same_image(item.mask, their_mask)
        assert item.settings == kwargs
    return prepared


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"normalize": True, "normalizeScale": 100, "removeOutliers": 3},
        {"resampledPixelSpacing": [1, 1, 1], "padDistance": 3},
        {"resampledPixelSpacing": [1.3, 0, 1.9], "interpolator": "sitkLinear", "normalize": True},
        {"resampledPixelSpacing": [0.5, 0.5, 1.5], "interpolator": sitk.sitkLinear},
        {"resampledPixelSpacing": [0, 0, 0]},  # the image's spacing: pyradiomics only crops
        {"preCrop": True, "padDistance": 2},
        {"resegmentRange": [-300, 200]},
        {"resegmentRange": [0.2], "resegmentMode": "relative", "resegmentShape": True},
        {"resegmentRange": [-1.5, 1.5], "resegmentMode": "sigma", "minimumROISize": 10},
    ],
)
@pytest.mark.parametrize("voxel_based", [False, True])
def test_sequence_agrees_with_pyradiomics(settings, voxel_based):
    image, mask = case(direction=(0, 1, 0, -1, 0, 0, 0, 0, 1))
    image_types = {"Original": {}, "LoG": {"sigma": [1.5]}, "Wavelet": {}, "Exponential": {}}
    assert_same_preparation(image, mask, {**settings, "kernelRadius": 2}, image_types, voxel_based)


@pytest.mark.parametrize("settings", [{}, {"resampledPixelSpacing": [1, 1]}, {"resegmentRange": [-200]}])
def test_2d_sequence_agrees_with_pyradiomics(settings):
    image = synthetic_image(size=(60, 50), spacing=(0.7, 0.8))
    mask = ellipsoid_mask(image, (30, 25), (8, 6))
    image_types = {"Original": {}, "LoG": {"sigma": [1.0]}, "Wavelet": {}, "Gradient": {}}
    for voxel_based in (False, True):
        assert_same_preparation(image, mask, settings, image_types, voxel_based)


def test_label_and_channel_agree_with_pyradiomics():
    image, mask = case()
    segmentation = sitk.Compose(mask, mask * 2)  # two overlapping segments, the second labelled 2
    assert_same_preparation(image, segmentation, {"label": 2, "label_channel": 1}, {"Original": {}, "Gradient": {}})


def test_correct_mask_agrees_with_pyradiomics():
    image, mask = case(dtype=np.float32)
    coarse = sitk.Resample(mask, [21, 19, 17], sitk.Transform(), sitk.sitkNearestNeighbor, (-10.9, -22.1, -33.5), (1.4, 1.5, 2.5), image.GetDirection())
    assert_same_preparation(image, coarse, {"correctMask": True}, {"Original": {}})


def test_discretisation_agrees_with_pyradiomics_classes():
    pytest.importorskip("radiomics")
    from radiomics.firstorder import RadiomicsFirstOrder
    from radiomics.glcm import RadiomicsGLCM

    image, mask = case(dtype=np.float32)
    for settings in ({"binWidth": 7.3}, {"binCount": 16}, {"binWidth": 5, "maskedKernel": False}):
        for voxel_based in (False, True):
            prepared = prepare_case(image, mask, settings, None, voxel_based)
            item = next(prepared.filtered_images())
            np.testing.assert_array_equal(item.gray, RadiomicsGLCM(item.image, item.mask, **item.settings).imageArray)
            first = RadiomicsFirstOrder(item.image, item.mask, **item.settings).discretizedImageArray
            if voxel_based:  # the first-order class pads its arrays by the kernel radius
                first = first[(slice(1, -1),) * 3]
            np.testing.assert_array_equal(item.first_order_gray, first)


def test_bin_edges_agree_with_pyradiomics():
    pytest.importorskip("radiomics")
    from radiomics import imageoperations

    rng = np.random.default_rng(1)
    for values in (rng.normal(100, 60, 500).astype(np.float32), np.round(rng.normal(0, 300, 500)).astype(np.int16), np.full(9, 50.0)):
        for settings in ({"binWidth": 25}, {"binWidth": 0.37}, {"binCount": 7}):
            theirs = imageoperations.getBinEdges(values, **settings)
            ours = bin_edges(values, settings)
            np.testing.assert_array_equal(ours, theirs)
            assert ours.dtype == np.asarray(theirs).dtype


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "spacing", "interpolator"),
    [
        ("lung2", [1, 1, 1], "sitkBSpline"),  # the whole 512x512x61 scan: pyradiomics prefilters all of it
        ("brain1", [1, 1, 1], "sitkBSpline"),  # a flipped axis
        ("brain1", [2, 2, 0], "sitkLinear"),
        ("pet", [2, 2, 2], "sitkBSpline"),  # float32
        ("ct", [1.5, 1.5, 1.5], "sitkBSpline"),
        ("mr", [1, 1, 3], "sitkBSpline"),
    ],
)
def test_resampling_agrees_with_pyradiomics(name, spacing, interpolator):
    pytest.importorskip("radiomics")
    from radiomics import imageoperations

    image, mask = read_case(*REAL_CASES[name])
    mask = get_mask(mask, {})
    settings = {"resampledPixelSpacing": spacing, "interpolator": interpolator, "padDistance": 5}
    ours = resample_image(image, mask, settings)
    theirs = imageoperations.resampleImage(image, mask, **settings)
    for mine, their in zip(ours, theirs):
        assert_same_image(mine, their)
        np.testing.assert_array_equal(sitk.GetArrayViewFromImage(mine), sitk.GetArrayViewFromImage(their))  # to the bit


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "settings", "image_types"),
    [
        ("pet", {"resegmentRange": [1.0], "binWidth": 0.25}, {"Original": {}, "LoG": {"sigma": [3.0, 5.0]}, "Wavelet": {}}),
        ("pet", {"resampledPixelSpacing": [3, 3, 3], "binCount": 32}, {"Square": {}, "SquareRoot": {}, "Logarithm": {}, "Gradient": {}}),
        ("mr", {"normalize": True, "resegmentRange": [-2, 2], "resegmentMode": "sigma"}, {"Original": {}, "LoG": {"sigma": [2.0]}}),
        ("ct", {"preCrop": True, "resegmentRange": [-100, 400]}, {"Original": {}, "Wavelet": {"level": 2, "wavelet": "haar"}}),
        ("lung2", {"resampledPixelSpacing": [2, 2, 2]}, {"Original": {}, "LoG": {"sigma": [1.0, 3]}, "Wavelet": {"start_level": 1}}),
    ],
)
@pytest.mark.parametrize("voxel_based", [False, True])
def test_sequence_agrees_with_pyradiomics_on_real_cases(name, settings, image_types, voxel_based):
    image, mask = read_case(*REAL_CASES[name])
    if name in ("ct", "mr"):  # whole-scan LoG and wavelets would make pyradiomics' side slow
        image, mask = around_label(image, mask, (40, 40, 8))
    assert_same_preparation(image, mask, settings, image_types, voxel_based)


@pytest.mark.realdata
def test_correct_mask_agrees_with_pyradiomics_on_a_real_case():
    """The PET mask, on its coarser grid, corrected onto the CT grid."""
    image, _ = read_case(*REAL_CASES["ct"])
    _, mask = read_case(*REAL_CASES["pet"])
    assert_same_preparation(image, mask, {"correctMask": True, "binWidth": 50}, {"Original": {}})


@pytest.mark.realdata
def test_discretisation_agrees_with_pyradiomics_on_float32_pet():
    pytest.importorskip("radiomics")
    from radiomics import imageoperations

    image, mask = read_case(*REAL_CASES["pet"])
    values = sitk.GetArrayViewFromImage(image)
    region = sitk.GetArrayViewFromImage(mask) == 1
    for settings in ({"binWidth": 0.1}, {"binWidth": 0.25}, {"binCount": 64}):
        for array in (values, values.astype(np.float64)):
            theirs, their_edges = imageoperations.binImage(array, region, **settings)
            ours, edges = bin_image(array, region, settings)
            np.testing.assert_array_equal(ours, theirs)
            np.testing.assert_array_equal(edges, their_edges)
