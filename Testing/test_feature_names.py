"""pyradiomics' feature classes, feature names and image types, as written out in features/names.py.

The tests marked by ``pytest.importorskip("radiomics")`` compare the registry with pyradiomics 3.0.1
itself; the others need nothing but our code.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from ResponsePredictorLib.errors import InputError
from ResponsePredictorLib.features.names import (
    FEATURE_CLASSES,
    IMAGE_TYPES,
    MAPPABLE_CLASSES,
    FeatureName,
    UnmappableFeatureError,
    computed_features,
    default_features,
    feature_names,
    image_type_names,
    mappable,
    mappable_features,
    parse_feature_name,
    parse_feature_names,
    requested_image_types,
)


@pytest.fixture(autouse=True)
def _quiet_pyradiomics():
    # pyradiomics logs a warning per deprecated feature enabled by name; the tests do that on purpose.
    logging.getLogger("radiomics").disabled = True
    yield
    logging.getLogger("radiomics").disabled = False


def _sitk_case(size: int = 16):
    sitk = pytest.importorskip("SimpleITK")
    rng = np.random.default_rng(0)
    image = sitk.GetImageFromArray(rng.integers(0, 40, (size, size, size)).astype(np.float64))
    mask_array = np.zeros((size, size, size), np.uint8)
    mask_array[4:12, 3:12, 5:11] = 1
    mask = sitk.GetImageFromArray(mask_array)
    mask.CopyInformation(image)
    return image, mask


# --- the registry against pyradiomics --------------------------------------------------------------


def test_classes_and_features_are_pyradiomics_own_in_its_order():
    radiomics = pytest.importorskip("radiomics")
    classes = radiomics.getFeatureClasses()
    assert list(FEATURE_CLASSES) == list(classes)
    for name, cls in classes.items():
        assert list(feature_names(name).items()) == list(cls.getFeatureNames().items()), name


def test_image_types_are_pyradiomics_own():
    radiomics = pytest.importorskip("radiomics")
    assert list(IMAGE_TYPES) == list(radiomics.getImageTypes())


@pytest.mark.parametrize("feature_class", [c for c in FEATURE_CLASSES if c != "shape2D"])
def test_computed_features_are_what_pyradiomics_outputs(feature_class):
    radiomics = pytest.importorskip("radiomics")
    image, mask = _sitk_case()
    cls = radiomics.getFeatureClasses()[feature_class]
    settings = {"binWidth": 5}

    everything = cls(image, mask, **settings)
    assert list(everything.execute()) == computed_features(feature_class, None) == default_features(feature_class)

    # Every name, backwards and with repeats: deprecated getters that raise are left out, repeats count once.
    asked = list(reversed(list(feature_names(feature_class)))) * 2
    by_name = cls(image, mask, **settings)
    for feature in asked:
        by_name.enableFeatureByName(feature)
    assert list(by_name.execute()) == computed_features(feature_class, asked)


def test_shape2d_computed_features_are_what_pyradiomics_outputs():
    radiomics = pytest.importorskip("radiomics")
    sitk = pytest.importorskip("SimpleITK")
    image, mask = _sitk_case()
    image, mask = image[:, :, 8], mask[:, :, 8]  # shape2D needs a 2D image (or force2D in the extractor)
    assert sitk.GetArrayFromImage(mask).any()
    cls = radiomics.getFeatureClasses()["shape2D"]
    assert list(cls(image, mask).execute()) == default_features("shape2D")
    by_name = cls(image, mask)
    for feature in feature_names("shape2D"):
        by_name.enableFeatureByName(feature)
    assert list(by_name.execute()) == computed_features("shape2D", feature_names("shape2D"))


@pytest.mark.parametrize(
    ("image_type", "settings"),
    [
        ("Original", {}),
        ("LoG", {"sigma": [1.0, 2, 0.5, 1.0]}),
        ("Wavelet", {}),
        ("Wavelet", {"level": 2, "start_level": 1, "wavelet": "haar"}),
        ("Wavelet", {"force2D": True, "force2Ddimension": 1}),
        ("Square", {}),
        ("SquareRoot", {}),
        ("Logarithm", {}),
        ("Exponential", {}),
        ("Gradient", {}),
    ],
)
def test_image_type_names_are_those_pyradiomics_yields(image_type, settings):
    pytest.importorskip("radiomics")
    from radiomics import imageoperations

    image, mask = _sitk_case()
    yielded = [name for _, name, _ in getattr(imageoperations, f"get{image_type}Image")(image, mask, **settings)]
    assert image_type_names(image_type, settings) == list(dict.fromkeys(yielded))


# --- the registry on its own -----------------------------------------------------------------------


def test_deprecated_features_are_left_out_of_all_and_computed_by_name_unless_they_raise():
    assert "StandardDeviation" not in default_features("firstorder")
    assert computed_features("firstorder", ["StandardDeviation", "Mean"]) == ["StandardDeviation", "Mean"]
    assert computed_features("glcm", ["SumVariance", "Contrast", "Contrast", "Dissimilarity"]) == ["Contrast"]
    assert computed_features("glcm", []) == computed_features("glcm", None) == default_features("glcm")
    # getmembers sorts the getters: getMeanAbsoluteDeviationFeatureValue < getMeanFeatureValue
    order = default_features("firstorder")
    assert order.index("MeanAbsoluteDeviation") < order.index("Mean")


def test_lbp_image_type_names():
    assert image_type_names("LBP2D", {}) == ["lbp-2D"]
    assert image_type_names("LBP3D", {}) == ["lbp-3D-m1", "lbp-3D-m2", "lbp-3D-k"]
    assert image_type_names("LBP3D", {"lbp3DLevels": 3})[-2:] == ["lbp-3D-m3", "lbp-3D-k"]


def test_wavelet_names_per_level():
    names = image_type_names("Wavelet", {"level": 2})
    assert names[:7] == ["wavelet-LLH", "wavelet-LHL", "wavelet-LHH", "wavelet-HLL", "wavelet-HLH", "wavelet-HHL",
                         "wavelet-HHH"]
    assert names[7:] == ["wavelet2-LLH", "wavelet2-LHL", "wavelet2-LHH", "wavelet2-HLL", "wavelet2-HLH",
                         "wavelet2-HHL", "wavelet2-HHH", "wavelet2-LLL"]
    assert image_type_names("Wavelet", {"force2D": True}) == ["wavelet-LH", "wavelet-HL", "wavelet-HH", "wavelet-LL"]


# --- parsing names ---------------------------------------------------------------------------------


def test_log_sigma_keeps_the_number_type_of_the_name():
    assert FeatureName("log-sigma-1-0-mm-3D_glcm_Id", "log-sigma-1-0-mm-3D", "glcm", "Id").log_sigma == 1.0
    assert isinstance(parse_feature_name("log-sigma-2-mm-3D_glcm_Id").log_sigma, int)
    assert parse_feature_name("log-sigma-0-5-mm-3D_glcm_Id").log_sigma == 0.5
    assert parse_feature_name("original_glcm_Id").log_sigma is None
    assert parse_feature_name("wavelet-LLH_glcm_Id").log_sigma is None


@pytest.mark.parametrize(
    ("image_type", "expected"),
    [
        ("original", ("Original", {})),
        ("log-sigma-1-0-mm-3D", ("LoG", {"sigma": [1.0]})),
        ("log-sigma-3-mm-3D", ("LoG", {"sigma": [3]})),
        ("wavelet-LLH", ("Wavelet", {"level": 1})),
        ("wavelet-LLL", ("Wavelet", {"level": 1})),
        ("wavelet2-HHL", ("Wavelet", {"level": 2})),
        ("wavelet3-LLL", ("Wavelet", {"level": 3})),
        ("wavelet-HL", ("Wavelet", {"level": 1})),
        ("square", ("Square", {})),
        ("squareroot", ("SquareRoot", {})),
        ("logarithm", ("Logarithm", {})),
        ("exponential", ("Exponential", {})),
        ("gradient", ("Gradient", {})),
        ("lbp-2D", ("LBP2D", {})),
        ("lbp-3D-m2", ("LBP3D", {"lbp3DLevels": 2})),
        ("lbp-3D-k", ("LBP3D", {})),
    ],
)
def test_image_type_settings_rebuild_the_image_type(image_type, expected):
    name = parse_feature_name(f"{image_type}_firstorder_Mean")
    assert name.image_type_settings() == expected
    # and those settings make the image type yield that name again
    image_type_class, custom = expected
    assert image_type in image_type_names(image_type_class, {"force2D": image_type == "wavelet-HL", **custom})


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("original_glcm", "not a pyradiomics feature name"),
        ("Histology=adenocarcinoma", "not a pyradiomics feature name"),
        ("diagnostics_Image-original_Mean", "not an image type name"),
        ("wavelet1-LLH_glcm_Id", "not an image type name"),
        ("wavelet-LLHH_glcm_Id", "not an image type name"),
        ("log-sigma-1-0-mm-2D_glcm_Id", "not an image type name"),
        ("original_glcmx_Id", "not a pyradiomics feature class"),
        ("log-sigma-1-0-mm-3D_shape_Sphericity", "original image only"),
        ("original_glcm_SumVariance", "not a pyradiomics glcm feature it outputs"),
        ("original_glcm_Contrat", "not a pyradiomics glcm feature it outputs"),
    ],
)
def test_names_pyradiomics_never_writes_are_refused(name, why):
    with pytest.raises(InputError, match=why):
        parse_feature_name(name)
    assert not mappable(name)


def test_parse_feature_name_accepts_every_output_name():
    name = parse_feature_name("original_shape_Compactness1")  # deprecated but still computed when named
    assert (name.image_type, name.feature_class, name.feature) == ("original", "shape", "Compactness1")
    assert parse_feature_name("lbp-3D-k_glszm_ZoneEntropy").feature_class == "glszm"


def test_mappable_names():
    for image_type in ("original", "log-sigma-1-0-mm-3D", "wavelet-LLH", "wavelet2-HHH", "square", "squareroot",
                       "logarithm", "exponential", "gradient"):
        assert mappable(f"{image_type}_glcm_Contrast"), image_type
    assert all(mappable(f"original_{cls}_{f}") for cls in MAPPABLE_CLASSES for f in mappable_features(cls))
    assert not mappable("lbp-2D_glcm_Contrast")
    assert not mappable("lbp-3D-m1_firstorder_Mean")
    assert not mappable("original_shape_Sphericity")
    assert not mappable("original_firstorder_StandardDeviation")  # deprecated: no map, as before
    assert mappable_features("ngtdm") == ["Busyness", "Coarseness", "Complexity", "Contrast", "Strength"]


def test_parse_feature_names_lists_every_problem_and_the_mappable_names():
    with pytest.raises(UnmappableFeatureError, match="original_shape_LeastAxisLength.*Mappable.*glcm: .*Contrast"):
        parse_feature_names(["original_glcm_Contrast", "original_shape_LeastAxisLength"])
    with pytest.raises(UnmappableFeatureError, match="lbp-2D_glcm_Id: image type 'lbp-2D' \\(LBP2D\\) has no maps"):
        parse_feature_names(["lbp-2D_glcm_Id", "bad"])
    with pytest.raises(UnmappableFeatureError, match="No feature names given"):
        parse_feature_names([])
    assert issubclass(UnmappableFeatureError, InputError)
    parsed = parse_feature_names(["wavelet-LLH_glcm_Id", "original_glcm_Id", "wavelet-LLH_glcm_Id"])
    assert [n.name for n in parsed] == ["wavelet-LLH_glcm_Id", "original_glcm_Id"]
    assert parsed[0] == FeatureName("wavelet-LLH_glcm_Id", "wavelet-LLH", "glcm", "Id")


def test_requested_image_types_keep_the_given_settings_and_only_the_named_images():
    names = parse_feature_names([
        "log-sigma-3-0-mm-3D_glcm_Id", "log-sigma-1-0-mm-3D_glcm_Id", "log-sigma-3-0-mm-3D_firstorder_Mean",
        "wavelet2-HHL_glcm_Id", "wavelet-LLH_glcm_Id", "original_glcm_Id", "square_glcm_Id",
    ])
    given = {"Original": {}, "LoG": {"sigma": [1.0, 2.0, 3.0], "binWidth": 5},
             "Wavelet": {"level": 3, "wavelet": "haar"}, "Square": None}
    assert requested_image_types(names, given) == {
        "LoG": {"sigma": [3.0, 1.0], "binWidth": 5},
        "Wavelet": {"level": 2, "wavelet": "haar"},
        "Original": {},
        "Square": {},
    }
    # 1 and 1.0 name different images ('log-sigma-1-mm-3D', 'log-sigma-1-0-mm-3D'): both are kept
    both = [parse_feature_name("log-sigma-1-0-mm-3D_glcm_Id"), parse_feature_name("log-sigma-1-mm-3D_glcm_Id")]
    assert requested_image_types(both, {})["LoG"]["sigma"] == [1.0, 1]
