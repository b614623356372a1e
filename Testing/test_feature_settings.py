"""Parameter mappings: validation as pyradiomics validates them, its defaults, merge order and feature order.

The tests that import pyradiomics (``pytest.importorskip("radiomics")``) compare with pyradiomics 3.0.1
itself: what it accepts and refuses, what its extractor holds after reading a mapping, and the names
of the features it outputs on a small synthetic case.
"""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from ResponsePredictorLib.errors import SettingsError
from ResponsePredictorLib.features.names import FEATURE_CLASSES, IMAGE_TYPES, default_features
from ResponsePredictorLib.features.param_schema import NULLABLE, SETTING_RULES, VOXEL_SETTING_RULES
from ResponsePredictorLib.features.settings import (
    ExtractionSettings,
    available_presets,
    load_settings,
    parse_settings,
)

REPO = Path(__file__).resolve().parents[1]
IBSI_CONFIGS = sorted((REPO / "Testing" / "Data" / "ibsi").glob("*.yaml"))
PARAMETER_FILES = [pytest.param(load_settings(preset=name), id=f"preset-{name}") for name in available_presets()] + [
    pytest.param(load_settings(params=path), id=f"ibsi-{path.stem}") for path in IBSI_CONFIGS
]

# One valid, non-default value for every key pyradiomics' schema knows.
EVERY_SETTING = {
    "minimumROIDimensions": 1, "minimumROISize": 5, "geometryTolerance": 1e-5, "correctMask": True,
    "additionalInfo": False, "label": 2, "label_channel": 0, "binWidth": 10, "binCount": 16, "normalize": True,
    "normalizeScale": 100, "removeOutliers": 3, "resampledPixelSpacing": [2, 2.5, 0], "interpolator": 3,
    "padDistance": 3, "distances": [1, 2], "force2D": True, "force2Ddimension": 1, "resegmentRange": [-3, 3.5],
    "resegmentMode": "sigma", "resegmentShape": True, "preCrop": True, "sigma": [1, 2.5], "start_level": 1,
    "level": 2, "wavelet": "db2", "gradientUseSpacing": False, "lbp2DRadius": 2, "lbp2DSamples": 16,
    "lbp2DMethod": "ror", "lbp3DLevels": 3, "lbp3DIcosphereRadius": 1.5, "lbp3DIcosphereSubdivision": 2,
    "voxelArrayShift": 100, "symmetricalGLCM": False, "weightingNorm": "manhattan", "gldm_a": 1,
}
EVERY_VOXEL_SETTING = {"kernelRadius": 2, "maskedKernel": False, "initValue": math.nan, "voxelBatch": 1000}

OWN_MAPPINGS = [
    pytest.param({}, id="empty"),
    pytest.param({"imageType": {}, "featureClass": {}, "setting": {}, "voxelSetting": {}}, id="empty-sections"),
    pytest.param(
        {
            "setting": EVERY_SETTING,
            "voxelSetting": EVERY_VOXEL_SETTING,
            "imageType": {t: {"binWidth": 3} for t in reversed(IMAGE_TYPES)} | {"LoG": {"sigma": [0.5, 1]}},
            "featureClass": {"glcm": ["Idn", "SumVariance", "Contrast", "Idn"], "shape": None, "firstorder": [],
                             "shape2D": ["SphericalDisproportion"], "gldm": ["DependencePercentage"]},
        },
        id="every-key",
    ),
    pytest.param(
        {"setting": {"binWidth": 5, "interpolator": None, "weightingNorm": None, "resegmentRange": None},
         "imageType": {"LoG": {"binCount": None}}, "featureClass": {"ngtdm": None}},
        id="nulls",
    ),
]


@pytest.fixture(autouse=True)
def _pyradiomics_side_effects():
    """pyradiomics logs warnings for settings the tests use on purpose, and sets SimpleITK's global
    geometry tolerance from geometryTolerance; both are put back."""
    logging.getLogger("radiomics").disabled = True
    try:
        import SimpleITK as sitk
    except ImportError:
        yield
        return
    coordinates = sitk.ProcessObject.GetGlobalDefaultCoordinateTolerance()
    directions = sitk.ProcessObject.GetGlobalDefaultDirectionTolerance()
    yield
    sitk.ProcessObject.SetGlobalDefaultCoordinateTolerance(coordinates)
    sitk.ProcessObject.SetGlobalDefaultDirectionTolerance(directions)
    logging.getLogger("radiomics").disabled = False


def pyradiomics_extractor(mapping):
    featureextractor = pytest.importorskip("radiomics.featureextractor")
    return featureextractor.RadiomicsFeatureExtractor(copy.deepcopy(mapping))


def pyradiomics_refuses(mapping) -> bool:
    try:
        pyradiomics_extractor(mapping)
    except Exception:  # pykwalify's SchemaError, and TypeError / ValueError from pyradiomics' schema functions
        return True
    return False


def we_refuse(mapping) -> bool:
    try:
        parse_settings(copy.deepcopy(mapping))
    except SettingsError:
        return True
    return False


# --- parsing without pyradiomics -------------------------------------------------------------------


@pytest.mark.parametrize("raw", PARAMETER_FILES)
def test_presets_and_ibsi_configurations_parse(raw):
    settings = parse_settings(raw)
    assert settings.raw == raw
    assert settings.general["label"] == 1
    assert list(settings.feature_classes) == list(raw["featureClass"])
    assert settings.feature_classes["glcm"] == default_features("glcm")
    assert list(settings.image_types) == list(raw["imageType"])


def test_ibsi_config_b_settings():
    settings = parse_settings(load_settings(params=REPO / "Testing" / "Data" / "ibsi" / "config_B.yaml"))
    assert settings.general["resampledPixelSpacing"] == [2, 2, 0]
    assert settings.general["binCount"] == 32
    assert settings.general["force2D"] is True
    assert settings.image_types == {"Original": {}}


def test_defaults_are_pyradiomics_defaults():
    settings = parse_settings({})
    assert settings.general == {
        "minimumROIDimensions": 2, "minimumROISize": None, "normalize": False, "normalizeScale": 1,
        "removeOutliers": None, "resampledPixelSpacing": None, "interpolator": "sitkBSpline", "preCrop": False,
        "padDistance": 5, "distances": [1], "force2D": False, "force2Ddimension": 0, "resegmentRange": None,
        "label": 1, "additionalInfo": True,
    }
    assert settings.image_types == {"Original": {}}
    assert list(settings.feature_classes) == list(FEATURE_CLASSES)  # shape2D too, as pyradiomics enables it
    assert settings.voxel == {"kernelRadius": 1, "maskedKernel": True, "initValue": 0, "voxelBatch": -1}


def test_setting_then_voxel_setting_then_image_type_settings():
    settings = parse_settings({
        "setting": {"padDistance": 0, "binWidth": 5},
        "voxelSetting": {"kernelRadius": 3, "initValue": math.nan},
        "imageType": {"Original": {}, "LoG": {"sigma": [1.0], "binWidth": 2}},
    })
    assert settings.general["padDistance"] == 0 and settings.general["binWidth"] == 5
    assert settings.general["kernelRadius"] == 3  # pyradiomics merges voxelSetting into its settings
    assert settings.voxel["kernelRadius"] == 3 and math.isnan(settings.voxel["initValue"])
    assert settings.voxel["maskedKernel"] is True and settings.voxel["voxelBatch"] == -1
    assert settings.image_type_settings("Original") == settings.general
    log = settings.image_type_settings("LoG")
    assert log["binWidth"] == 2 and log["sigma"] == [1.0] and log["padDistance"] == 0
    with pytest.raises(KeyError):
        settings.image_type_settings("Wavelet")  # not enabled


def test_feature_order_for_null_empty_and_lists():
    settings = parse_settings({"featureClass": {
        "glcm": ["SumVariance", "Idn", "Contrast", "Idn", "Dissimilarity"],
        "firstorder": None,
        "shape": [],
        "gldm": ["DependencePercentage"],
        "ngtdm": ["Strength", "Busyness"],
    }})
    assert list(settings.feature_classes) == ["glcm", "firstorder", "shape", "gldm", "ngtdm"]
    # a repeat counts once; deprecated features whose getter raises are left out
    assert settings.feature_classes["glcm"] == ["Idn", "Contrast"]
    assert settings.feature_classes["firstorder"] == default_features("firstorder")
    assert settings.feature_classes["firstorder"][7:9] == ["MeanAbsoluteDeviation", "Mean"]
    assert settings.feature_classes["shape"] == default_features("shape")
    assert settings.feature_classes["gldm"] == []
    assert settings.feature_classes["ngtdm"] == ["Strength", "Busyness"]
    # shape is computed first, whatever the class order of the file
    assert settings.feature_names()[:2] == ["original_shape_Elongation", "original_shape_Flatness"]
    after_shape = settings.feature_names()[len(default_features("shape")):]
    assert after_shape[:2] == ["original_glcm_Idn", "original_glcm_Contrast"]


def test_image_types_keep_the_file_order():
    settings = parse_settings({"imageType": {"Wavelet": {}, "Original": {}, "LoG": {"sigma": [2, 1.0]}}})
    assert list(settings.image_types) == ["Wavelet", "Original", "LoG"]
    prefixes = list(dict.fromkeys(name.split("_")[0] for name in settings.feature_names()))
    assert prefixes[0] == "original"  # the shape features
    assert prefixes[1:9] == ["wavelet-LLH", "wavelet-LHL", "wavelet-LHH", "wavelet-HLL", "wavelet-HLH", "wavelet-HHL",
                             "wavelet-HHH", "wavelet-LLL"]
    assert prefixes[9:] == ["log-sigma-2-mm-3D", "log-sigma-1-0-mm-3D"]


def test_raw_is_kept_as_given_and_not_shared():
    given = {"setting": {"distances": [1, 2]}, "imageType": {"LoG": {"sigma": [1.0]}}}
    settings = parse_settings(given)
    given["setting"]["distances"].append(3)
    given["imageType"]["LoG"]["sigma"].append(2.0)
    assert settings.raw == {"setting": {"distances": [1, 2]}, "imageType": {"LoG": {"sigma": [1.0]}}}
    assert settings.general["distances"] == [1, 2]
    assert settings.image_types["LoG"]["sigma"] == [1.0]
    assert isinstance(settings, ExtractionSettings)


def test_numbers_written_as_text_are_read_as_numbers_where_floats_are_expected():
    # PyYAML (YAML 1.1) leaves 1e-3 a string; pyradiomics reads its files with a YAML 1.2 parser, which reads a float.
    import yaml

    raw = yaml.safe_load("setting:\n  binWidth: 1e-3\n  resegmentRange: [-1e3, 4e2]\n  label: 2\n"
                         "imageType:\n  LoG:\n    sigma: [1.5e0, 2]\n")
    assert raw["setting"]["binWidth"] == "1e-3"
    settings = parse_settings(raw)
    assert settings.general["binWidth"] == 0.001
    assert settings.general["resegmentRange"] == [-1000.0, 400.0]
    assert settings.image_types["LoG"]["sigma"] == [1.5, 2]
    assert isinstance(settings.image_types["LoG"]["sigma"][1], int)  # an int where a float is expected stays an int
    assert settings.raw == raw


# --- refusals --------------------------------------------------------------------------------------

# (mapping, words the message must hold: the place, the value, what is allowed)
REFUSED = [
    ({"setting": {"binWidth": -1}}, ["setting.binWidth = -1", "must be a number > 0"]),
    ({"setting": {"binWidth": 0}}, ["setting.binWidth = 0", "a number > 0"]),
    ({"setting": {"binWidth": "abc"}}, ["setting.binWidth = 'abc'", "a number > 0"]),
    ({"setting": {"binWidth": True}}, ["setting.binWidth = true", "a number > 0"]),
    ({"setting": {"binWidth": [25]}}, ["setting.binWidth = [25]", "a number > 0"]),
    ({"setting": {"binCount": 0}}, ["setting.binCount = 0", "an integer > 0"]),
    ({"setting": {"label": 1.0}}, ["setting.label = 1.0", "an integer > 0"]),
    ({"setting": {"label": "1"}}, ["setting.label = '1'", "an integer > 0"]),
    ({"setting": {"label": False}}, ["setting.label = false", "an integer > 0"]),
    ({"setting": {"label_channel": -1}}, ["setting.label_channel = -1", "an integer >= 0"]),
    ({"setting": {"minimumROIDimensions": 4}}, ["setting.minimumROIDimensions = 4", "an integer >= 1 and <= 3"]),
    ({"setting": {"minimumROIDimensions": 0}}, ["setting.minimumROIDimensions = 0", "an integer >= 1 and <= 3"]),
    ({"setting": {"force2Ddimension": 3}}, ["setting.force2Ddimension = 3", "an integer >= 0 and <= 2"]),
    ({"setting": {"geometryTolerance": 0}}, ["setting.geometryTolerance = 0", "a number > 0"]),
    ({"setting": {"padDistance": -1}}, ["setting.padDistance = -1", "an integer >= 0"]),
    ({"setting": {"voxelArrayShift": 0.5}}, ["setting.voxelArrayShift = 0.5", "must be an integer"]),
    ({"setting": {"normalize": "yes"}}, ["setting.normalize = 'yes'", "true or false"]),
    ({"setting": {"force2D": 1}}, ["setting.force2D = 1", "true or false"]),
    ({"setting": {"resegmentMode": "abs"}}, ["setting.resegmentMode = 'abs'", "one of absolute, relative, sigma"]),
    ({"setting": {"resegmentMode": 1}}, ["setting.resegmentMode = 1", "one of absolute, relative, sigma"]),
    ({"setting": {"lbp2DMethod": "fast"}}, ["setting.lbp2DMethod = 'fast'", "one of default, ror, uniform, var"]),
    ({"setting": {"distances": 1}}, ["setting.distances = 1", "a list, each item an integer > 0"]),
    ({"setting": {"distances": (1,)}}, ["setting.distances = (1,)", "a list"]),
    ({"setting": {"distances": [1, 0]}}, ["setting.distances = [1, 0]", "(item 1 is 0)"]),
    ({"setting": {"distances": [1.5]}}, ["setting.distances = [1.5]", "(item 0 is 1.5)"]),
    ({"setting": {"resampledPixelSpacing": [1, -1, 1]}}, ["setting.resampledPixelSpacing", "a number >= 0"]),
    ({"setting": {"resegmentRange": ["low", 400]}}, ["setting.resegmentRange", "(item 0 is 'low')"]),
    ({"setting": {"sigma": "1"}}, ["setting.sigma = '1'", "a list, each item a number > 0"]),
    ({"setting": {"sigma": [0]}}, ["setting.sigma = [0]", "(item 0 is 0)"]),
    ({"setting": {"wavelet": "coif99"}}, ["setting.wavelet = 'coif99'", "pywt.wavelist(kind='discrete')"]),
    ({"setting": {"wavelet": None}}, ["setting.wavelet = null", "leave the key out", "a discrete wavelet"]),
    ({"setting": {"wavelet": 1}}, ["setting.wavelet = 1", "a discrete wavelet"]),
    ({"setting": {"interpolator": "linear"}}, ["setting.interpolator = 'linear'", "sitkLinear", "an integer >= 1"]),
    ({"setting": {"interpolator": 11}}, ["setting.interpolator = 11", "an integer >= 1 and <= 10"]),
    ({"setting": {"interpolator": 0}}, ["setting.interpolator = 0", "an integer >= 1 and <= 10"]),
    ({"setting": {"interpolator": 1.0}}, ["setting.interpolator = 1.0", "sitkBSpline"]),
    ({"setting": {"weightingNorm": "l2"}}, ["setting.weightingNorm = 'l2'", "euclidean, manhattan, infinity"]),
    ({"setting": {"weightingNorm": 1}}, ["setting.weightingNorm = 1", "no_weighting"]),
    ({"setting": {"binwidth": 25}}, ["setting: unknown key 'binwidth' (did you mean 'binWidth'?)", "allowed: "]),
    ({"setting": {"kernelRadius": 1}}, ["setting: unknown key 'kernelRadius'", "binWidth"]),
    ({"setting": None}, ["setting = null", "must be a mapping"]),
    ({"setting": [["binWidth", 25]]}, ["setting = [['binWidth', 25]]", "must be a mapping"]),
    ({"voxelSetting": {"kernelRadius": 0}}, ["voxelSetting.kernelRadius = 0", "an integer > 0"]),
    ({"voxelSetting": {"voxelBatch": -1}}, ["voxelSetting.voxelBatch = -1", "an integer > 0"]),
    ({"voxelSetting": {"initValue": "none"}}, ["voxelSetting.initValue = 'none'", "a number"]),
    ({"voxelSetting": {"maskedKernel": 1}}, ["voxelSetting.maskedKernel = 1", "true or false"]),
    ({"voxelSetting": {"binWidth": 1}}, ["voxelSetting: unknown key 'binWidth'", "kernelRadius"]),
    ({"voxelSetting": None}, ["voxelSetting = null", "must be a mapping"]),
    ({"imageType": {"LoG": {"sigma": [0]}}}, ["imageType.LoG.sigma = [0]", "(item 0 is 0)"]),
    ({"imageType": {"Wavelet": {"level": 0}}}, ["imageType.Wavelet.level = 0", "an integer > 0"]),
    ({"imageType": {"Wavelet": {"kernelRadius": 1}}}, ["imageType.Wavelet: unknown key 'kernelRadius'"]),
    ({"imageType": {"Log": {}}}, ["imageType: unknown image type 'Log' (did you mean 'LoG'?)", "Wavelet"]),
    ({"imageType": {"": {}}}, ["imageType: unknown image type ''", "Original"]),
    ({"imageType": {"Original": None}}, ["imageType.Original = null", "({} for none)"]),
    ({"imageType": {"Original": []}}, ["imageType.Original = []", "must be a mapping of settings"]),
    ({"imageType": None}, ["imageType = null", "must be a mapping"]),
    ({"featureClass": {"glcmm": None}}, ["featureClass: unknown class 'glcmm' (did you mean 'glcm'?)", "ngtdm"]),
    ({"featureClass": {"Shape": []}}, ["featureClass: unknown class 'Shape'", "shape2D"]),
    ({"featureClass": {"glcm": "Contrast"}}, ["featureClass.glcm = 'Contrast'", "null, [] or a list of glcm features"]),
    ({"featureClass": {"glcm": {"Contrast": True}}}, ["featureClass.glcm = {'Contrast': True}", "a list"]),
    ({"featureClass": {"glcm": ["Contrat"]}},
     ["featureClass.glcm: unknown features 'Contrat' (did you mean 'Contrast'?)", "glcm features: Autocorrelation"]),
    ({"featureClass": {"glcm": [["Contrast"]]}},
     ["featureClass.glcm: unknown features ['Contrast'] (did you mean 'Contrast'?)"]),
    ({"featureClass": {"glcm": [None]}}, ["featureClass.glcm: unknown features null"]),
    ({"featureClass": {"shape": ["Mean"]}}, ["featureClass.shape: unknown features 'Mean'"]),
    ({"featureClass": None}, ["featureClass = null", "must be a mapping"]),
    ({"featureclass": {}}, ["parameters: unknown section 'featureclass' (did you mean 'featureClass'?)",
                            "allowed: setting, voxelSetting, featureClass, imageType"]),
]
REFUSED_IDS = [str(index) + "-" + str(mapping)[:40] for index, (mapping, _) in enumerate(REFUSED)]

# Mappings pyradiomics' validator passes but pyradiomics then fails on (or misreads) when extracting;
# we refuse them (see param_schema's docstring).
REFUSED_BY_US_ONLY = [
    {"setting": {"binWidth": "-1"}},  # pykwalify checks the range of a number written as text on its length
    {"setting": {"interpolator": True}},  # pyradiomics takes true for 1
    {"setting": {"binWidth": None}},  # a null where pyradiomics' default is not one: its extraction fails
    {"setting": {"distances": [None]}},
    {"imageType": {"LoG": {"sigma": None}}},
    {"setting": {"wavelet": "morl"}},  # a continuous wavelet: pyradiomics' wavelet filter fails on it
]


@pytest.mark.parametrize(("mapping", "words"), REFUSED, ids=REFUSED_IDS)
def test_refusals_name_the_place_the_value_and_what_is_allowed(mapping, words):
    with pytest.raises(SettingsError) as refused:
        parse_settings(mapping)
    for word in words:
        assert word in str(refused.value)


def test_every_problem_is_listed_at_once():
    with pytest.raises(SettingsError) as refused:
        parse_settings({"setting": {"binWidth": 0, "label": 0}, "featureClass": {"nope": None}, "extra": 1})
    message = str(refused.value)
    assert message.startswith("Invalid radiomics parameters:")
    for place in ("setting.binWidth", "setting.label", "featureClass: unknown class 'nope'", "section 'extra'"):
        assert place in message


@pytest.mark.parametrize("raw", [None, [("setting", {})], "setting: {}"])
def test_parameters_that_are_not_a_mapping_are_refused(raw):
    with pytest.raises(SettingsError, match="must be a mapping"):
        parse_settings(raw)


@pytest.mark.parametrize("mapping", REFUSED_BY_US_ONLY)
def test_values_pyradiomics_would_fail_on_later_are_refused(mapping):
    with pytest.raises(SettingsError) as refused:
        parse_settings(mapping)
    section, values = next(iter(mapping.items()))
    assert f"{section}.{next(iter(values))}" in str(refused.value)


# --- against pyradiomics ---------------------------------------------------------------------------


def test_setting_keys_are_those_of_pyradiomics_schema():
    pytest.importorskip("radiomics")
    import yaml
    from radiomics import getParameterValidationFiles

    schema = yaml.safe_load(Path(getParameterValidationFiles()[0]).read_text())["mapping"]
    assert set(SETTING_RULES) == set(schema["setting"]["mapping"])
    assert set(VOXEL_SETTING_RULES) == set(schema["voxelSetting"]["mapping"])


@pytest.mark.parametrize(("mapping", "words"), REFUSED, ids=REFUSED_IDS)
def test_pyradiomics_refuses_what_we_refuse(mapping, words):
    assert pyradiomics_refuses(mapping)


@pytest.mark.parametrize("mapping", REFUSED_BY_US_ONLY)
def test_the_values_only_we_refuse_pass_pyradiomics_validation(mapping):
    assert not pyradiomics_refuses(mapping)


# Values tried for every key: each type the schema tells apart, bounds and nulls.
VALUE_POOL = [
    None, True, False, 0, 1, -1, 2, 3, 4, 10, 11, 0.0, 0.5, -0.5, 1.5, math.nan, math.inf, "abc", "1.5", "",
    "absolute", "sigma", "uniform", "coif1", "morl", "sitkLinear", "euclidean", "no_weighting",
    [], [1], [0], [-1], [1.5], [0.5, 2], ["x"], ["2.5"], [None], [True], {}, {"a": 1},
]


def _pool_differs(key, value) -> bool:
    # interpolator: true is in REFUSED_BY_US_ONLY. pyradiomics hands a geometryTolerance written as text to
    # SimpleITK, which refuses it when the extractor is built; we read it as the number it spells.
    # A null where pyradiomics' default is not one, a null list item and a continuous wavelet are in
    # REFUSED_BY_US_ONLY too.
    return ((key == "interpolator" and value is True) or (key == "geometryTolerance" and value == "1.5")
            or (value is None and key not in NULLABLE) or value == [None] or (key == "wavelet" and value == "morl"))


@pytest.mark.parametrize(("section", "key"), [("setting", key) for key in SETTING_RULES]
                         + [("voxelSetting", key) for key in VOXEL_SETTING_RULES])
def test_each_key_accepts_and_refuses_what_pyradiomics_does(section, key):
    pytest.importorskip("radiomics")
    mappings = [{section: {key: value}} for value in VALUE_POOL if not _pool_differs(key, value)]
    assert [m for m in mappings if we_refuse(m) != pyradiomics_refuses(m)] == []


@pytest.mark.parametrize("key", ["sigma", "level", "wavelet", "lbp2DRadius", "binWidth", "kernelRadius"])
def test_image_type_settings_accept_and_refuse_what_pyradiomics_does(key):
    pytest.importorskip("radiomics")
    mappings = [{"imageType": {"Wavelet": {key: value}}} for value in VALUE_POOL if not _pool_differs(key, value)]
    assert [m for m in mappings if we_refuse(m) != pyradiomics_refuses(m)] == []


@pytest.mark.parametrize("raw", PARAMETER_FILES + OWN_MAPPINGS)
def test_settings_image_types_and_classes_are_what_pyradiomics_holds(raw):
    extractor = pyradiomics_extractor(raw)
    settings = parse_settings(raw)

    def same(ours, theirs):  # NaN == NaN here
        return ours == theirs or (isinstance(ours, float) and math.isnan(ours) and math.isnan(theirs))

    assert list(settings.general) == list(extractor.settings)
    assert all(same(settings.general[key], value) for key, value in extractor.settings.items())
    assert settings.image_types == extractor.enabledImagetypes
    assert list(settings.image_types) == list(extractor.enabledImagetypes)
    assert list(settings.feature_classes) == list(extractor.enabledFeatures)


def _synthetic_case(slices: slice = slice(7, 16)):
    sitk = pytest.importorskip("SimpleITK")
    rng = np.random.default_rng(1)
    image = sitk.GetImageFromArray(rng.integers(0, 60, (24, 24, 24)).astype(np.int16))
    mask_array = np.zeros((24, 24, 24), np.uint8)
    mask_array[slices, 6:17, 8:16] = 1
    mask_array[slices.start, 6, 8] = 0
    mask = sitk.GetImageFromArray(mask_array)
    mask.CopyInformation(image)
    return image, mask


FILTERS = {
    "setting": {"binWidth": 8},
    "imageType": {"Wavelet": {"level": 2, "start_level": 1, "wavelet": "haar"}, "Square": {}, "SquareRoot": {},
                  "Logarithm": {}, "Exponential": {}, "Gradient": {}, "LoG": {"sigma": [1, 2.5, 1]},
                  "Original": {}},
    "featureClass": {"glcm": ["Idn", "SumVariance", "Contrast", "Idn"], "shape": ["Compactness1", "VoxelVolume"],
                     "firstorder": None, "ngtdm": []},
}


@pytest.mark.parametrize("raw", PARAMETER_FILES + [pytest.param(FILTERS, id="filters")])
def test_feature_names_are_those_pyradiomics_outputs(raw):
    image, mask = _synthetic_case()
    output = pyradiomics_extractor(raw).execute(image, mask)
    assert [name for name in output if not name.startswith("diagnostics_")] == parse_settings(raw).feature_names()


def test_feature_names_with_force2d_are_those_pyradiomics_outputs():
    # all classes (shape2D too, which pyradiomics computes only on a mask one slice thick), 2D wavelet bands
    raw = {"setting": {"binWidth": 8, "force2D": True}, "imageType": {"Wavelet": {}, "Original": {}},
           "featureClass": {}}
    image, mask = _synthetic_case(slice(12, 13))
    output = pyradiomics_extractor(raw).execute(image, mask)
    names = parse_settings(raw).feature_names()
    assert [name for name in output if not name.startswith("diagnostics_")] == names
    assert "original_shape2D_Perimeter" in names and "wavelet-HL_glcm_Idn" in names
