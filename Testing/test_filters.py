"""pyradiomics' image types without pyradiomics: names, order, settings, and values computed near the region.

Unit tests need neither data nor pyradiomics; the agreement tests compare with pyradiomics 3.0.1's
get<ImageType>Image followed by cropToTumorMask where it is installed.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from test_preprocessing import REAL_CASES, around_label, assert_same_image, case, ellipsoid_mask, read_case, synthetic_image

from ResponsePredictorLib.errors import SettingsError
from ResponsePredictorLib.features.preprocessing import BoundingBox, check_image_types, filtered_images, get_mask

# Each image type with settings that exercise its options.
VARIANTS = [
    ("Original", {}),
    ("LoG", {"sigma": [1.0, 2, 3.5]}),
    ("Wavelet", {}),
    ("Wavelet", {"start_level": 1, "level": 2, "wavelet": "haar"}),
    ("Wavelet", {"force2D": True, "force2Ddimension": 0, "wavelet": "db3"}),
    ("Wavelet", {"force2D": True, "force2Ddimension": 2, "wavelet": "sym2"}),
    ("Square", {}),
    ("SquareRoot", {}),
    ("Logarithm", {}),
    ("Exponential", {}),
    ("Gradient", {}),
    ("Gradient", {"gradientUseSpacing": False}),
]


def names(image, image_type, settings, box=None):
    return [name for _, name, _ in filtered_images(image, image_type, settings, box)]


def box_of(mask: sitk.Image, pad: int = 0) -> BoundingBox:
    return BoundingBox.of(sitk.GetArrayViewFromImage(mask) == 1).padded(pad, mask.GetSize())


# ---------------------------------------------------------------------------------------------------
# Names, order, settings, errors


def test_unknown_image_types_and_lbp_are_settings_errors():
    image, _ = case()
    for lbp in ("LBP2D", "LBP3D"):
        with pytest.raises(SettingsError, match=r"--backend pyradiomics"):
            check_image_types([lbp])
    with pytest.raises(SettingsError, match="Unknown image type 'Laplacian'"):
        next(filtered_images(image, "Laplacian", {}))


def test_log_names_and_skipped_sigmas(caplog):
    image, _ = case()  # 41 x 38 x 17 voxels of 0.7 x 0.75 x 2.5 mm
    assert names(image, "LoG", {"sigma": [1, 2.5, 0.0, -1, 30.0]}) == ["log-sigma-1-mm-3D", "log-sigma-2-5-mm-3D"]
    assert "sigma must be greater than 0" in caplog.text and "too small for it" in caplog.text
    assert names(image, "LoG", {}) == []  # no sigma, no LoG image (pyradiomics' behaviour)
    thin = sitk.RegionOfInterest(image, [41, 38, 3], [0, 0, 0])
    assert names(thin, "LoG", {"sigma": [1.0]}) == []
    filtered, _, settings = next(filtered_images(image, "LoG", {"sigma": [1.0], "binWidth": 5}))
    assert filtered.GetPixelID() == sitk.sitkFloat32 and settings == {"sigma": [1.0], "binWidth": 5}


def test_wavelet_names_in_pyradiomics_order():
    image, _ = case()
    details = ["LLH", "LHL", "LHH", "HLL", "HLH", "HHL", "HHH"]
    assert names(image, "Wavelet", {}) == [f"wavelet-{d}" for d in details] + ["wavelet-LLL"]
    assert names(image, "Wavelet", {"level": 2, "start_level": 1}) == (
        [f"wavelet-{d}" for d in details] + [f"wavelet2-{d}" for d in details] + ["wavelet2-LLL"]
    )
    assert names(image, "Wavelet", {"force2D": True}) == ["wavelet-LH", "wavelet-HL", "wavelet-HH", "wavelet-LL"]
    for bad in ({"wavelet": "coif99"}, {"level": 0}, {"start_level": -1}, {"force2D": True, "force2Ddimension": 3}):
        with pytest.raises(SettingsError):
            next(filtered_images(image, "Wavelet", bad))


def test_intensity_transforms_follow_pyradiomics_formulas():
    values = np.array([[[-4.0, -1.0, 0.0, 1.0, 16.0]]])
    image = sitk.GetImageFromArray(values)
    results = {name: sitk.GetArrayFromImage(im)[0, 0] for t in ("Square", "SquareRoot", "Logarithm", "Exponential") for im, name, _ in filtered_images(image, t, {})}
    np.testing.assert_allclose(results["square"], [1, 1 / 16, 0, 1 / 16, 16])  # the sign is lost
    np.testing.assert_allclose(results["squareroot"], [-8, -4, 0, 4, 16])
    np.testing.assert_allclose(results["logarithm"], np.array([-np.log(5), -np.log(2), 0, np.log(2), np.log(17)]) * 16 / np.log(17))
    np.testing.assert_allclose(results["exponential"], np.exp(values[0, 0] * np.log(16) / 16))


# ---------------------------------------------------------------------------------------------------
# A box's values equal the whole image's, filtered then cropped


@pytest.mark.parametrize(("image_type", "settings"), VARIANTS)
@pytest.mark.parametrize("where", ["centre", "edge"])
def test_filtering_a_box_equals_filtering_the_whole_image(image_type, settings, where):
    """Regions in the middle (margins inside the image) and at the edge (wavelets wrap around there)."""
    image = synthetic_image(size=(121, 96, 33), spacing=(0.6, 0.65, 1.5), seed=2)
    centre = (60, 48, 16) if where == "centre" else (4, 90, 30)
    box = box_of(ellipsoid_mask(image, centre, (6, 5, 3)), pad=1)
    for (ours, name, _), (whole, whole_name, _) in zip(filtered_images(image, image_type, settings, box), filtered_images(image, image_type, settings)):
        assert name == whole_name
        assert_same_image(ours, sitk.RegionOfInterest(whole, [int(n) for n in box.size], list(box.lower)))
        np.testing.assert_array_equal(sitk.GetArrayViewFromImage(ours), sitk.GetArrayViewFromImage(whole)[box.slices()])


# ---------------------------------------------------------------------------------------------------
# Agreement with pyradiomics


def assert_filters_agree(image, mask, image_type, settings, pad):
    pytest.importorskip("radiomics")
    from radiomics import imageoperations

    mask = get_mask(mask, {})
    bounds, _ = imageoperations.checkMask(image, mask)
    theirs = [
        (name, imageoperations.cropToTumorMask(filtered, mask, bounds, padDistance=pad)[0], kwargs)
        for filtered, name, kwargs in getattr(imageoperations, f"get{image_type}Image")(image, mask, **settings)
    ]
    ours = list(filtered_images(image, image_type, settings, box_of(mask, pad)))
    assert [name for _, name, _ in ours] == [name for name, _, _ in theirs]
    for (mine, _, my_settings), (_, their, their_settings) in zip(ours, theirs):
        assert my_settings == their_settings
        assert_same_image(mine, their)


@pytest.mark.parametrize(("image_type", "settings"), VARIANTS)
@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.float64])
def test_filters_agree_with_pyradiomics(image_type, settings, dtype):
    image, mask = case(dtype=dtype, direction=(1, 0, 0, 0, 0, 1, 0, -1, 0))
    for pad in (0, 2):
        assert_filters_agree(image, mask, image_type, settings, pad)


@pytest.mark.parametrize(("image_type", "settings"), VARIANTS)
def test_filters_agree_with_pyradiomics_at_the_image_edge(image_type, settings):
    image = synthetic_image(size=(37, 30, 11), seed=5)  # odd sizes: pyradiomics' wavelet padding
    assert_filters_agree(image, ellipsoid_mask(image, (34, 2, 8), (4, 4, 2)), image_type, settings, 1)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["lung2", "brain1", "pet", "ct", "mr"])
@pytest.mark.parametrize(("image_type", "settings"), VARIANTS)
def test_filters_agree_with_pyradiomics_on_real_cases(name, image_type, settings):
    image, mask = read_case(*REAL_CASES[name])
    if name in ("lung2", "ct", "mr"):  # pyradiomics filters the whole scan; a crop keeps its side quick
        image, mask = around_label(image, mask, (64, 64, 10))
    assert_filters_agree(image, mask, image_type, settings, pad=1)
