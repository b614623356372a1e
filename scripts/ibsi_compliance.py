"""IBSI-1 compliance of ResponsePredictor's radiomic features, measured and written to docs/IBSI.md.

Features are computed the way users compute them: images read with ``volume.read_volume`` /
``read_mask`` and passed to ``features.FeatureExtractor`` with a pyradiomics parameter file: the
``ibsi`` preset for the digital phantom, ``Testing/Data/ibsi/config_{A..E}.yaml`` for the CT phantom
configurations. Every pyradiomics feature is mapped to its IBSI tag(s) and compared with the IBSI
reference value and tolerance. A value outside the tolerance must be a documented deviation
(``KNOWN_DEVIATIONS``); ``Testing/test_ibsi.py`` imports this module and checks exactly that.

    .venv/bin/python scripts/ibsi_compliance.py                       # writes docs/IBSI.md
    .venv/bin/python scripts/ibsi_compliance.py --data-dir DIR --output FILE

The public data folder is ``$RP_DATA_DIR`` (default ``../shared/data`` beside the repository).
"""

from __future__ import annotations

import argparse
import csv
import functools
import math
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import SimpleITK as sitk

from ResponsePredictorLib.features import FeatureExtractor, load_settings, presets_dir
from ResponsePredictorLib.volume import Volume, read_mask, read_volume

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "Testing" / "Data" / "ibsi"
DEFAULT_DATA_DIR = Path(os.environ.get("RP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "IBSI.md"


# --------------------------------------------------------------------------------------------
# Data sets


@dataclass(frozen=True)
class DataSet:
    key: str
    title: str
    phantom: str  # folder under <data>/ibsi
    reference: str  # file under <data>/ibsi/reference_values
    params: Path  # pyradiomics parameter file
    # Setting overrides, one extraction each. The digital phantom is run in 3D and once more with
    # force2D, so that IBSI's 2.5D references check the aggregation used by configurations A and B.
    runs: tuple[tuple[tuple[str, Any], ...], ...] = ((),)

    def image_paths(self, data_dir: Path) -> tuple[Path, Path]:
        folder = Path(data_dir) / "ibsi" / self.phantom / "nifti"
        return folder / "image" / "phantom.nii.gz", folder / "mask" / "mask.nii.gz"

    def reference_path(self, data_dir: Path) -> Path:
        return Path(data_dir) / "ibsi" / "reference_values" / self.reference


DATASETS: dict[str, DataSet] = {
    "phantom": DataSet(
        "phantom",
        "Digital phantom",
        "ibsi_1_digital_phantom",
        "ibsi_1_reference_values_digital_phantom.csv",
        presets_dir() / "ibsi.yaml",
        runs=((), (("force2D", True),)),
    ),
    **{
        key: DataSet(
            key,
            f"CT phantom, configuration {key}",
            "ibsi_1_ct_radiomics_phantom",
            f"ibsi_1_reference_values_config_{key}.csv",
            CONFIG_DIR / f"config_{key}.yaml",
        )
        for key in "ABCDE"
    },
}


# --------------------------------------------------------------------------------------------
# pyradiomics feature -> IBSI tag(s)

# Texture tags are given without their aggregation suffix, which depends on the settings (see
# ``aggregated_tag``). A pyradiomics feature maps to several tags where IBSI lists mathematically
# identical features under two names (pyradiomics deprecated the duplicates and returns no value
# for them: Sum variance = Cluster tendency, Dissimilarity = Difference average, NGLDM normalised
# grey level non-uniformity = first-order Uniformity).
FEATURE_TAGS: dict[str, tuple[str, ...]] = {
    "shape_MeshVolume": ("morph_volume",),
    "shape_VoxelVolume": ("morph_vol_approx",),
    "shape_SurfaceArea": ("morph_area_mesh",),
    "shape_SurfaceVolumeRatio": ("morph_av",),
    "shape_Compactness1": ("morph_comp_1",),
    "shape_Compactness2": ("morph_comp_2",),
    "shape_SphericalDisproportion": ("morph_sph_dispr",),
    "shape_Sphericity": ("morph_sphericity",),
    "shape_Maximum3DDiameter": ("morph_diam",),
    "shape_MajorAxisLength": ("morph_pca_maj_axis",),
    "shape_MinorAxisLength": ("morph_pca_min_axis",),
    "shape_LeastAxisLength": ("morph_pca_least_axis",),
    "shape_Elongation": ("morph_pca_elongation",),
    "shape_Flatness": ("morph_pca_flatness",),
    "firstorder_Mean": ("stat_mean",),
    "firstorder_Variance": ("stat_var",),
    "firstorder_Skewness": ("stat_skew",),
    "firstorder_Kurtosis": ("stat_kurt",),
    "firstorder_Median": ("stat_median",),
    "firstorder_Minimum": ("stat_min",),
    "firstorder_10Percentile": ("stat_p10",),
    "firstorder_90Percentile": ("stat_p90",),
    "firstorder_Maximum": ("stat_max",),
    "firstorder_InterquartileRange": ("stat_iqr",),
    "firstorder_Range": ("stat_range",),
    "firstorder_MeanAbsoluteDeviation": ("stat_mad",),
    "firstorder_RobustMeanAbsoluteDeviation": ("stat_rmad",),
    "firstorder_Energy": ("stat_energy",),
    "firstorder_RootMeanSquared": ("stat_rms",),
    # pyradiomics' Entropy and Uniformity use the discretised intensities: IBSI's histogram features.
    "firstorder_Entropy": ("ih_entropy",),
    "firstorder_Uniformity": ("ih_uniformity", "ngl_glnu_norm"),
    "glcm_MaximumProbability": ("cm_joint_max",),
    "glcm_JointAverage": ("cm_joint_avg",),
    "glcm_SumSquares": ("cm_joint_var",),
    "glcm_JointEntropy": ("cm_joint_entr",),
    "glcm_DifferenceAverage": ("cm_diff_avg", "cm_dissimilarity"),
    "glcm_DifferenceVariance": ("cm_diff_var",),
    "glcm_DifferenceEntropy": ("cm_diff_entr",),
    "glcm_SumAverage": ("cm_sum_avg",),
    "glcm_SumEntropy": ("cm_sum_entr",),
    "glcm_JointEnergy": ("cm_energy",),
    "glcm_Contrast": ("cm_contrast",),
    "glcm_Id": ("cm_inv_diff",),
    "glcm_Idn": ("cm_inv_diff_norm",),
    "glcm_Idm": ("cm_inv_diff_mom",),
    "glcm_Idmn": ("cm_inv_diff_mom_norm",),
    "glcm_InverseVariance": ("cm_inv_var",),
    "glcm_Correlation": ("cm_corr",),
    "glcm_Autocorrelation": ("cm_auto_corr",),
    "glcm_ClusterTendency": ("cm_clust_tend", "cm_sum_var"),
    "glcm_ClusterShade": ("cm_clust_shade",),
    "glcm_ClusterProminence": ("cm_clust_prom",),
    "glcm_Imc1": ("cm_info_corr1",),
    "glcm_Imc2": ("cm_info_corr2",),
    "glrlm_ShortRunEmphasis": ("rlm_sre",),
    "glrlm_LongRunEmphasis": ("rlm_lre",),
    "glrlm_LowGrayLevelRunEmphasis": ("rlm_lgre",),
    "glrlm_HighGrayLevelRunEmphasis": ("rlm_hgre",),
    "glrlm_ShortRunLowGrayLevelEmphasis": ("rlm_srlge",),
    "glrlm_ShortRunHighGrayLevelEmphasis": ("rlm_srhge",),
    "glrlm_LongRunLowGrayLevelEmphasis": ("rlm_lrlge",),
    "glrlm_LongRunHighGrayLevelEmphasis": ("rlm_lrhge",),
    "glrlm_GrayLevelNonUniformity": ("rlm_glnu",),
    "glrlm_GrayLevelNonUniformityNormalized": ("rlm_glnu_norm",),
    "glrlm_RunLengthNonUniformity": ("rlm_rlnu",),
    "glrlm_RunLengthNonUniformityNormalized": ("rlm_rlnu_norm",),
    "glrlm_RunPercentage": ("rlm_r_perc",),
    "glrlm_GrayLevelVariance": ("rlm_gl_var",),
    "glrlm_RunVariance": ("rlm_rl_var",),
    "glrlm_RunEntropy": ("rlm_rl_entr",),
    "glszm_SmallAreaEmphasis": ("szm_sze",),
    "glszm_LargeAreaEmphasis": ("szm_lze",),
    "glszm_LowGrayLevelZoneEmphasis": ("szm_lgze",),
    "glszm_HighGrayLevelZoneEmphasis": ("szm_hgze",),
    "glszm_SmallAreaLowGrayLevelEmphasis": ("szm_szlge",),
    "glszm_SmallAreaHighGrayLevelEmphasis": ("szm_szhge",),
    "glszm_LargeAreaLowGrayLevelEmphasis": ("szm_lzlge",),
    "glszm_LargeAreaHighGrayLevelEmphasis": ("szm_lzhge",),
    "glszm_GrayLevelNonUniformity": ("szm_glnu",),
    "glszm_GrayLevelNonUniformityNormalized": ("szm_glnu_norm",),
    "glszm_SizeZoneNonUniformity": ("szm_zsnu",),
    "glszm_SizeZoneNonUniformityNormalized": ("szm_zsnu_norm",),
    "glszm_ZonePercentage": ("szm_z_perc",),
    "glszm_GrayLevelVariance": ("szm_gl_var",),
    "glszm_ZoneVariance": ("szm_zs_var",),
    "glszm_ZoneEntropy": ("szm_zs_entr",),
    # pyradiomics' GLDM is IBSI's NGLDM; its "small/large dependence" are IBSI's "low/high".
    "gldm_SmallDependenceEmphasis": ("ngl_lde",),
    "gldm_LargeDependenceEmphasis": ("ngl_hde",),
    "gldm_LowGrayLevelEmphasis": ("ngl_lgce",),
    "gldm_HighGrayLevelEmphasis": ("ngl_hgce",),
    "gldm_SmallDependenceLowGrayLevelEmphasis": ("ngl_ldlge",),
    "gldm_SmallDependenceHighGrayLevelEmphasis": ("ngl_ldhge",),
    "gldm_LargeDependenceLowGrayLevelEmphasis": ("ngl_hdlge",),
    "gldm_LargeDependenceHighGrayLevelEmphasis": ("ngl_hdhge",),
    "gldm_GrayLevelNonUniformity": ("ngl_glnu",),
    "gldm_DependenceNonUniformity": ("ngl_dcnu",),
    "gldm_DependenceNonUniformityNormalized": ("ngl_dcnu_norm",),
    "gldm_GrayLevelVariance": ("ngl_gl_var",),
    "gldm_DependenceVariance": ("ngl_dc_var",),
    "gldm_DependenceEntropy": ("ngl_dc_entr",),
    "ngtdm_Coarseness": ("ngt_coarseness",),
    "ngtdm_Contrast": ("ngt_contrast",),
    "ngtdm_Busyness": ("ngt_busyness",),
    "ngtdm_Complexity": ("ngt_complexity",),
    "ngtdm_Strength": ("ngt_strength",),
}

# pyradiomics features that IBSI does not define.
NO_IBSI_TAG: dict[str, str] = {
    "shape_Maximum2DDiameterSlice": "largest in-plane diameter (axial); IBSI defines only the 3D diameter",
    "shape_Maximum2DDiameterColumn": "largest diameter in the coronal plane; not in IBSI",
    "shape_Maximum2DDiameterRow": "largest diameter in the sagittal plane; not in IBSI",
    "firstorder_TotalEnergy": "Energy times the voxel volume; not in IBSI",
    "glcm_MCC": "maximal correlation coefficient; not in IBSI",
}


def aggregated_tag(tag: str, force2d: bool) -> str:
    """The IBSI tag of the texture variant pyradiomics computes (other tags unchanged).

    pyradiomics builds one GLCM and one GLRLM per direction over the whole ROI and averages the
    features over the directions: IBSI's "3D, averaged" (13 directions), or with force2D, where
    each in-plane direction's matrix gathers all slices, "2.5D, direction-merged" (4 directions).
    GLSZM, GLDM and NGTDM are one matrix over the ROI: IBSI's "3D", or "2.5D" with force2D.
    """
    dims = "2_5D" if force2d else "3D"
    if tag.startswith(("cm_", "rlm_")):
        return f"{tag}_{dims}_avg"
    if tag.startswith(("szm_", "ngl_", "ngt_")):
        return f"{tag}_{dims}"
    return tag


# --------------------------------------------------------------------------------------------
# pyradiomics diagnostics -> IBSI diagnostic tags

_STATISTICS = {"Mean": "mean", "Minimum": "min", "Maximum": "max"}


def diagnostic_values(diagnostics: dict[str, Any]) -> dict[str, tuple[float, str]]:
    """IBSI diagnostic tags (image and ROI at each processing stage) from pyradiomics' diagnostics.

    IBSI describes the image and the ROI as loaded (``init``), after interpolation (``interp``) and
    after re-segmentation (``reseg``); a stage that a configuration skips leaves them unchanged, so
    its tags take the previous stage's values. The morphological mask is never re-segmented. When
    pyradiomics resamples, it resamples only the ROI's bounding box plus ``padDistance``: the size
    and intensities of its interpolated image, and the size of its interpolated mask, describe that
    crop and are left unmapped.
    """
    found = {name.removeprefix("diagnostics_"): value for name, value in diagnostics.items()}
    resampled = "Image-interpolated_Spacing" in found
    interp = "Mask-interpolated" if resampled else "Mask-original"
    reseg = "Mask-resegmented" if "Mask-resegmented_VoxelNum" in found else interp
    images = {"init_img": "Image-original", "interp_img": "Image-interpolated" if resampled else "Image-original"}
    intensity_masks = {"init_roi": "Mask-original", "interp_roi": interp, "reseg_roi": reseg}
    morphological_masks = {"init_roi": "Mask-original", "interp_roi": interp, "reseg_roi": interp}

    values: dict[str, tuple[float, str]] = {}

    def put(tag: str, source: str, item: str, index: int | None = None) -> None:
        name = f"{source}_{item}"
        if name in found:
            value = found[name] if index is None else found[name][index]
            values[tag] = (float(value), name if index is None else f"{name}[{index}]")

    for stage, source in images.items():
        cropped = source != "Image-original"
        for index, axis in enumerate("xyz"):
            put(f"vox_dim_{axis}_{stage}", source, "Spacing", index)
            if not cropped:
                put(f"img_dim_{axis}_{stage}", source, "Size", index)
        if not cropped:
            for item, short in _STATISTICS.items():
                put(f"{short}_int_{stage}", source, item)
    for prefix, masks in (("int_mask", intensity_masks), ("morph_mask", morphological_masks)):
        for stage, source in masks.items():
            for index, axis in enumerate("xyz"):
                put(f"{prefix}_bb_dim_{axis}_{stage}", source, "BoundingBox", 3 + index)
                if prefix == "int_mask" and (source == "Mask-original" or not resampled):
                    put(f"{prefix}_dim_{axis}_{stage}", source, "Size", index)
            put(f"{prefix}_vox_count_{stage}", source, "VoxelNum")
            if prefix == "int_mask":
                for item, short in _STATISTICS.items():
                    put(f"{prefix}_{short}_int_{stage}", source, item)
    return values


# --------------------------------------------------------------------------------------------
# Reference values


@dataclass(frozen=True)
class Reference:
    """One row of an IBSI reference file; the numbers are kept as written to know their precision."""

    tag: str
    family: str
    feature: str
    value_text: str
    tolerance_text: str

    @property
    def value(self) -> float | None:
        return float(self.value_text) if self.value_text else None

    @property
    def tolerance(self) -> float | None:
        return float(self.tolerance_text) if self.tolerance_text else None


def read_reference(path: Path) -> list[Reference]:
    with open(path, newline="", encoding="utf-8-sig") as file:
        return [
            Reference(row["tag"], row["family"], row["feature"], row["reference value"], row["tolerance"])
            for row in csv.DictReader(file, skipinitialspace=True)
        ]


def rounding_allowance(value_text: str) -> float:
    """Half a unit in the last significant digit of a reference value, at most in its third one.

    IBSI rounds reference values to three significant digits (tolerance 0 means "this value, so
    rounded"); the files drop trailing zeros of decimals ("0.52" is 0.520) but write counts in full
    (125256), and trailing zeros of whole numbers may be rounding ("1490").
    """
    value = float(value_text)
    if value == 0:
        return 0.0
    whole, _, decimals = value_text.lstrip("-").partition(".")
    last_digit = 10.0 ** -len(decimals) if decimals else 10.0 ** (len(whole) - len(whole.rstrip("0")))
    third_digit = 10.0 ** (math.floor(math.log10(abs(value))) - 2)
    return 0.5 * min(last_digit, third_digit)


def within_tolerance(value: float, reference: Reference) -> bool:
    assert reference.value is not None and reference.tolerance is not None
    allowed = max(reference.tolerance, rounding_allowance(reference.value_text))
    # The small relative slack absorbs binary floating point (0.1 + 0.2 != 0.3), nothing more.
    return abs(value - reference.value) <= allowed * (1 + 1e-9) + 1e-12


# --------------------------------------------------------------------------------------------
# Why a value is missing or differs


@dataclass(frozen=True)
class Reason:
    label: str  # shown in the tables
    explanation: str  # shown once, in the legend


NO_HISTOGRAM = Reason(
    "no intensity histogram",
    "pyradiomics has no intensity-histogram family: its first-order features use the intensities "
    "themselves, except Entropy and Uniformity, which use the discretised intensities (IBSI ih_entropy, "
    "ih_uniformity).",
)
NO_IVH = Reason("no intensity-volume histogram", "pyradiomics computes no intensity-volume histogram features.")
NO_LOCAL_INTENSITY = Reason("no local intensity", "pyradiomics computes no local or global intensity peak.")
NO_GLDZM = Reason("no GLDZM", "pyradiomics has no grey level distance zone matrix.")
NO_2D = Reason(
    "2D aggregation not computed",
    "pyradiomics never computes features per slice; with force2D it merges the slices (IBSI 2.5D).",
)
NO_MERGED = Reason(
    "merged variant not computed",
    "pyradiomics averages features over the per-direction GLCMs / GLRLMs; IBSI's merged-matrix "
    "variant (_comb) is not available.",
)
NOT_IN_SHAPE = Reason(
    "not in pyradiomics' shape class",
    "Asphericity, centre of mass shift, the volume and area densities, integrated intensity, Moran's I "
    "and Geary's C are not pyradiomics features.",
)
DEPRECATED_SHAPE = Reason(
    "deprecated in pyradiomics",
    "Compactness 1, Compactness 2 and Spherical disproportion are functions of Sphericity; pyradiomics "
    "computes them only when named one by one, which the presets (whole feature classes) do not do.",
)
NOT_IN_FIRSTORDER = Reason(
    "not in pyradiomics' firstorder class",
    "Median absolute deviation, coefficient of variation and quartile coefficient of dispersion are "
    "not pyradiomics features.",
)
NOT_IN_GLDM = Reason(
    "not in pyradiomics' GLDM class",
    "Dependence count percentage is 1 by definition (pyradiomics deprecated it and returns no value); "
    "dependence count energy is not a pyradiomics feature.",
)
DIAGNOSTIC_CROP = Reason(
    "pyradiomics resamples a crop",
    "pyradiomics interpolates only the ROI's bounding box plus padDistance, so it reports no size or "
    "intensity statistics of the whole interpolated image or mask.",
)
DIAGNOSTIC_NO_ROI_INTENSITY = Reason(
    "ROI intensities not reported",
    "pyradiomics reports ROI intensity statistics only for an interpolated or re-segmented mask.",
)
NO_REFERENCE_VALUE = Reason("IBSI gives no reference", "IBSI publishes no reference value for this tag.")

# For tags without a value (first match wins). Every tag left without a value must match one.
NOT_COMPUTED: tuple[tuple[str, Reason], ...] = (
    (r"^ih_", NO_HISTOGRAM),
    (r"^ivh_", NO_IVH),
    (r"^loc_", NO_LOCAL_INTENSITY),
    (r"^dzm_", NO_GLDZM),
    (r"_2D(_avg|_comb)?$", NO_2D),
    (r"_comb$", NO_MERGED),
    (r"^morph_(comp_1|comp_2|sph_dispr)$", DEPRECATED_SHAPE),
    (r"^morph_(asphericity|com|vol_dens_\w+|area_dens_\w+|integ_int|moran_i|geary_c)$", NOT_IN_SHAPE),
    (r"^stat_(medad|cov|qcod)$", NOT_IN_FIRSTORDER),
    (r"^ngl_dc_(perc|energy)_", NOT_IN_GLDM),
    (r"^(img_dim_\w_interp_img|(mean|min|max)_int_interp_img|int_mask_dim_\w_(interp|reseg)_roi)$", DIAGNOSTIC_CROP),
    (r"^int_mask_(mean|min|max)_int_(init|interp)_roi$", DIAGNOSTIC_NO_ROI_INTENSITY),
)


def not_computed_reason(tag: str) -> Reason | None:
    return next((reason for pattern, reason in NOT_COMPUTED if re.search(pattern, tag)), None)


KURTOSIS = Reason(
    "kurtosis, not excess kurtosis",
    "pyradiomics reports the kurtosis; IBSI defines the excess kurtosis, which is 3 less.",
)
AXIS_LENGTHS = Reason(
    "axis lengths: covariance divided by N",
    "pyradiomics derives the PCA axis lengths from the covariance of the voxel positions divided by N; "
    "the IBSI reference values equal pyradiomics' lengths times sqrt(N / (N - 1)), a covariance divided "
    "by N - 1. The difference exceeds the tolerance only for a ROI of very few voxels.",
)
RESAMPLING = Reason(
    "pyradiomics' resampling",
    "pyradiomics aligns the interpolation grid with the corner of the image's first voxel, resamples "
    "the mask with nearest neighbour and keeps interpolated intensities unrounded; IBSI centres the "
    "grid on the image, interpolates the mask (trilinear) and keeps voxels of at least 0.5, and rounds "
    "intensities to integers. None of this is a pyradiomics setting. The ROI therefore holds other "
    "voxels with other intensities. Proof: the column 'IBSI-resampled input' holds our values when "
    "the image and mask are resampled IBSI's way first (`resample_as_ibsi`) and pyradiomics, with the "
    "same settings otherwise, does not resample.",
)
BIN_NUMBERING = Reason(
    "fixed-bin-size numbering",
    "With a fixed bin size, IBSI counts the bins from the lower bound of the re-segmentation range; "
    "pyradiomics counts them from the ROI's minimum rounded down to a multiple of the bin width. The bins "
    "are the same but their numbers differ by a constant, which changes the features that weigh grey "
    "levels by their number (averages, grey level emphases, autocorrelation, busyness); shift-invariant "
    "features are unaffected.",
)
RESEGMENTATION = Reason(
    "range and outlier re-segmentation combined",
    "Configuration E combines a re-segmentation range with the 3-sigma outlier filter; pyradiomics "
    "applies one re-segmentation only. config_E.yaml uses the outlier filter, so the upper bound of the "
    "range is not applied and the ROI keeps bright voxels that IBSI removes.",
)

# Values that pyradiomics computes but that differ from IBSI's, per data set, with the reasons.
# Tests check that the values outside tolerance are exactly these, and verify the reasons where a
# reason can be verified (RESAMPLING with IBSI-resampled input, KURTOSIS and AXIS_LENGTHS by arithmetic).
_DEVIATIONS: dict[str, tuple[tuple[tuple[Reason, ...], str], ...]] = {
    "phantom": (
        ((AXIS_LENGTHS,), "morph_pca_min_axis morph_pca_least_axis"),
        ((KURTOSIS,), "stat_kurt"),
    ),
    "A": (((KURTOSIS,), "stat_kurt"),),
    "B": (
        (
            (RESAMPLING,),
            """
            int_mask_bb_dim_y_interp_roi morph_mask_bb_dim_y_interp_roi int_mask_mean_int_interp_roi
            int_mask_min_int_interp_roi int_mask_max_int_interp_roi int_mask_bb_dim_y_reseg_roi
            morph_mask_bb_dim_y_reseg_roi morph_pca_flatness stat_p90 ih_entropy ih_uniformity
            cm_joint_max_2_5D_avg cm_joint_var_2_5D_avg cm_joint_entr_2_5D_avg cm_diff_avg_2_5D_avg
            cm_diff_var_2_5D_avg cm_diff_entr_2_5D_avg cm_sum_var_2_5D_avg cm_sum_entr_2_5D_avg
            cm_energy_2_5D_avg cm_contrast_2_5D_avg cm_dissimilarity_2_5D_avg cm_inv_diff_2_5D_avg
            cm_inv_diff_norm_2_5D_avg cm_inv_diff_mom_2_5D_avg cm_corr_2_5D_avg cm_clust_tend_2_5D_avg
            cm_clust_shade_2_5D_avg cm_clust_prom_2_5D_avg cm_info_corr2_2_5D_avg rlm_sre_2_5D_avg
            rlm_lre_2_5D_avg rlm_lgre_2_5D_avg rlm_srlge_2_5D_avg rlm_lrlge_2_5D_avg rlm_glnu_2_5D_avg
            rlm_glnu_norm_2_5D_avg rlm_rlnu_2_5D_avg rlm_rlnu_norm_2_5D_avg rlm_r_perc_2_5D_avg
            rlm_gl_var_2_5D_avg rlm_rl_var_2_5D_avg rlm_rl_entr_2_5D_avg szm_sze_2_5D szm_lgze_2_5D
            szm_szlge_2_5D szm_glnu_2_5D szm_zsnu_2_5D szm_zsnu_norm_2_5D szm_z_perc_2_5D szm_gl_var_2_5D
            ngt_coarseness_2_5D ngt_contrast_2_5D ngt_busyness_2_5D ngl_lde_2_5D ngl_hde_2_5D ngl_lgce_2_5D
            ngl_ldlge_2_5D ngl_glnu_2_5D ngl_glnu_norm_2_5D ngl_dcnu_2_5D ngl_dcnu_norm_2_5D ngl_gl_var_2_5D
            ngl_dc_var_2_5D ngl_dc_entr_2_5D
            """,
        ),
        ((KURTOSIS,), "stat_kurt"),
    ),
    "C": (
        (
            (RESAMPLING,),
            """
            int_mask_bb_dim_y_interp_roi int_mask_bb_dim_z_interp_roi morph_mask_bb_dim_y_interp_roi
            morph_mask_bb_dim_z_interp_roi int_mask_vox_count_interp_roi morph_mask_vox_count_interp_roi
            int_mask_mean_int_interp_roi int_mask_min_int_interp_roi int_mask_max_int_interp_roi
            int_mask_bb_dim_y_reseg_roi int_mask_bb_dim_z_reseg_roi morph_mask_bb_dim_y_reseg_roi
            morph_mask_bb_dim_z_reseg_roi int_mask_vox_count_reseg_roi morph_mask_vox_count_reseg_roi
            int_mask_mean_int_reseg_roi int_mask_min_int_reseg_roi int_mask_max_int_reseg_roi morph_volume
            morph_vol_approx morph_area_mesh morph_av morph_sphericity morph_pca_least_axis
            morph_pca_elongation morph_pca_flatness stat_mean stat_var stat_skew stat_median stat_min
            stat_p10 stat_max stat_iqr stat_range stat_mad stat_rmad stat_energy stat_rms ih_entropy
            ih_uniformity cm_joint_max_3D_avg cm_joint_var_3D_avg cm_joint_entr_3D_avg cm_diff_avg_3D_avg
            cm_diff_entr_3D_avg cm_sum_var_3D_avg cm_sum_entr_3D_avg cm_energy_3D_avg
            cm_dissimilarity_3D_avg cm_inv_diff_3D_avg cm_inv_diff_norm_3D_avg cm_inv_diff_mom_3D_avg
            cm_inv_var_3D_avg cm_corr_3D_avg cm_clust_tend_3D_avg cm_clust_shade_3D_avg cm_clust_prom_3D_avg
            cm_info_corr1_3D_avg cm_info_corr2_3D_avg rlm_glnu_3D_avg rlm_glnu_norm_3D_avg rlm_rlnu_3D_avg
            rlm_gl_var_3D_avg rlm_rl_entr_3D_avg szm_sze_3D szm_lze_3D szm_glnu_3D szm_glnu_norm_3D
            szm_zsnu_norm_3D szm_z_perc_3D szm_zs_var_3D szm_zs_entr_3D ngt_contrast_3D ngt_complexity_3D
            ngt_strength_3D ngl_glnu_3D ngl_glnu_norm_3D ngl_dcnu_3D ngl_dcnu_norm_3D ngl_gl_var_3D
            ngl_dc_var_3D ngl_dc_entr_3D
            """,
        ),
        ((KURTOSIS, RESAMPLING), "stat_kurt"),
        (
            (BIN_NUMBERING, RESAMPLING),
            """
            cm_joint_avg_3D_avg cm_sum_avg_3D_avg cm_auto_corr_3D_avg rlm_lgre_3D_avg rlm_hgre_3D_avg
            rlm_srlge_3D_avg rlm_srhge_3D_avg rlm_lrlge_3D_avg rlm_lrhge_3D_avg szm_lgze_3D szm_hgze_3D
            szm_szlge_3D szm_szhge_3D szm_lzlge_3D szm_lzhge_3D ngt_busyness_3D ngl_lgce_3D ngl_hgce_3D
            ngl_ldlge_3D ngl_ldhge_3D ngl_hdlge_3D ngl_hdhge_3D
            """,
        ),
    ),
    "D": (
        (
            (RESAMPLING,),
            """
            int_mask_bb_dim_y_interp_roi int_mask_bb_dim_z_interp_roi morph_mask_bb_dim_y_interp_roi
            morph_mask_bb_dim_z_interp_roi int_mask_vox_count_interp_roi morph_mask_vox_count_interp_roi
            int_mask_mean_int_interp_roi int_mask_min_int_interp_roi int_mask_max_int_interp_roi
            int_mask_bb_dim_y_reseg_roi int_mask_bb_dim_z_reseg_roi morph_mask_bb_dim_y_reseg_roi
            morph_mask_bb_dim_z_reseg_roi int_mask_vox_count_reseg_roi morph_mask_vox_count_reseg_roi
            int_mask_mean_int_reseg_roi int_mask_min_int_reseg_roi int_mask_max_int_reseg_roi morph_volume
            morph_vol_approx morph_area_mesh morph_av morph_sphericity morph_pca_least_axis
            morph_pca_elongation morph_pca_flatness stat_mean stat_var stat_skew stat_median stat_min
            stat_p10 stat_p90 stat_max stat_range stat_mad stat_rmad stat_energy stat_rms ih_entropy
            ih_uniformity cm_joint_max_3D_avg cm_joint_avg_3D_avg cm_joint_var_3D_avg cm_joint_entr_3D_avg
            cm_diff_avg_3D_avg cm_diff_var_3D_avg cm_diff_entr_3D_avg cm_sum_avg_3D_avg cm_sum_var_3D_avg
            cm_sum_entr_3D_avg cm_energy_3D_avg cm_contrast_3D_avg cm_dissimilarity_3D_avg
            cm_inv_diff_3D_avg cm_inv_diff_norm_3D_avg cm_inv_diff_mom_3D_avg cm_inv_var_3D_avg
            cm_corr_3D_avg cm_auto_corr_3D_avg cm_clust_tend_3D_avg cm_clust_shade_3D_avg
            cm_clust_prom_3D_avg cm_info_corr1_3D_avg cm_info_corr2_3D_avg rlm_sre_3D_avg rlm_hgre_3D_avg
            rlm_srhge_3D_avg rlm_lrhge_3D_avg rlm_glnu_3D_avg rlm_glnu_norm_3D_avg rlm_rlnu_3D_avg
            rlm_rlnu_norm_3D_avg rlm_gl_var_3D_avg rlm_rl_var_3D_avg rlm_rl_entr_3D_avg szm_sze_3D
            szm_lze_3D szm_lgze_3D szm_hgze_3D szm_szlge_3D szm_szhge_3D szm_lzlge_3D szm_lzhge_3D
            szm_glnu_norm_3D szm_zsnu_3D szm_zsnu_norm_3D szm_z_perc_3D szm_gl_var_3D szm_zs_var_3D
            szm_zs_entr_3D ngt_coarseness_3D ngt_contrast_3D ngt_busyness_3D ngl_lde_3D ngl_hgce_3D
            ngl_ldlge_3D ngl_ldhge_3D ngl_hdhge_3D ngl_glnu_norm_3D ngl_dcnu_3D ngl_dcnu_norm_3D
            ngl_gl_var_3D ngl_dc_var_3D ngl_dc_entr_3D
            """,
        ),
        ((KURTOSIS, RESAMPLING), "stat_kurt"),
    ),
    "E": (
        (
            (RESAMPLING,),
            """
            int_mask_bb_dim_y_interp_roi int_mask_bb_dim_z_interp_roi morph_mask_bb_dim_y_interp_roi
            morph_mask_bb_dim_z_interp_roi int_mask_vox_count_interp_roi morph_mask_vox_count_interp_roi
            int_mask_mean_int_interp_roi int_mask_min_int_interp_roi int_mask_max_int_interp_roi
            int_mask_bb_dim_y_reseg_roi int_mask_bb_dim_z_reseg_roi morph_mask_bb_dim_y_reseg_roi
            morph_mask_bb_dim_z_reseg_roi int_mask_vox_count_reseg_roi morph_mask_vox_count_reseg_roi
            int_mask_mean_int_reseg_roi int_mask_min_int_reseg_roi morph_volume morph_vol_approx
            morph_area_mesh morph_av morph_sphericity morph_pca_least_axis morph_pca_elongation
            morph_pca_flatness stat_mean stat_var stat_skew stat_median stat_min stat_p10 stat_mad stat_rmad
            stat_energy stat_rms cm_corr_3D_avg szm_glnu_3D
            """,
        ),
        (
            (RESEGMENTATION, RESAMPLING),
            """
            int_mask_max_int_reseg_roi stat_max stat_range ih_entropy ih_uniformity cm_joint_max_3D_avg
            cm_joint_avg_3D_avg cm_joint_var_3D_avg cm_joint_entr_3D_avg cm_diff_avg_3D_avg
            cm_diff_var_3D_avg cm_diff_entr_3D_avg cm_sum_avg_3D_avg cm_sum_var_3D_avg cm_sum_entr_3D_avg
            cm_energy_3D_avg cm_contrast_3D_avg cm_dissimilarity_3D_avg cm_inv_diff_3D_avg
            cm_inv_diff_norm_3D_avg cm_inv_diff_mom_3D_avg cm_inv_diff_mom_norm_3D_avg cm_auto_corr_3D_avg
            cm_clust_tend_3D_avg cm_clust_shade_3D_avg cm_clust_prom_3D_avg cm_info_corr2_3D_avg
            rlm_sre_3D_avg rlm_lre_3D_avg rlm_lgre_3D_avg rlm_hgre_3D_avg rlm_srlge_3D_avg rlm_srhge_3D_avg
            rlm_lrlge_3D_avg rlm_lrhge_3D_avg rlm_glnu_3D_avg rlm_glnu_norm_3D_avg rlm_rlnu_3D_avg
            rlm_rlnu_norm_3D_avg rlm_r_perc_3D_avg rlm_gl_var_3D_avg rlm_rl_var_3D_avg rlm_rl_entr_3D_avg
            szm_sze_3D szm_lze_3D szm_lgze_3D szm_hgze_3D szm_szlge_3D szm_szhge_3D szm_lzlge_3D
            szm_lzhge_3D szm_glnu_norm_3D szm_zsnu_3D szm_zsnu_norm_3D szm_z_perc_3D szm_gl_var_3D
            szm_zs_var_3D szm_zs_entr_3D ngt_contrast_3D ngt_busyness_3D ngt_complexity_3D ngt_strength_3D
            ngl_lde_3D ngl_hde_3D ngl_hgce_3D ngl_ldlge_3D ngl_ldhge_3D ngl_hdlge_3D ngl_hdhge_3D
            ngl_glnu_3D ngl_glnu_norm_3D ngl_dcnu_3D ngl_dcnu_norm_3D ngl_gl_var_3D ngl_dc_var_3D
            ngl_dc_entr_3D
            """,
        ),
        ((KURTOSIS, RESAMPLING), "stat_kurt"),
    ),
}

KNOWN_DEVIATIONS: dict[str, dict[str, tuple[Reason, ...]]] = {
    key: {tag: reasons for reasons, tags in spec for tag in tags.split()} for key, spec in _DEVIATIONS.items()
}


# --------------------------------------------------------------------------------------------
# Measuring and comparing


class Run(NamedTuple):
    """One extraction, with pyradiomics' own names (the ``original_`` prefix removed)."""

    force2d: bool
    features: dict[str, float]
    diagnostics: dict[str, Any]


def resamples(dataset: DataSet) -> bool:
    return "resampledPixelSpacing" in (load_settings(params=dataset.params).get("setting") or {})


def resample_as_ibsi(volume: Volume, spacing: list[float], interpolator: str, *, mask: bool = False) -> Volume:
    """``volume`` resampled as the IBSI manual prescribes ("Interpolation grid", chapter 2).

    The grid keeps the direction, has ceil(n * old / new) voxels per axis (spacing 0 keeps an axis)
    and shares its centre with the original grid; intensities beyond the border are the nearest
    border's. Image intensities are rounded to integers; a mask is interpolated and voxels of at
    least 0.5 are kept.
    """
    image = sitk.Cast(volume.to_sitk(), sitk.sitkFloat32)
    old_size, old_spacing = np.array(image.GetSize()), np.array(image.GetSpacing())
    new_spacing = np.where(np.asarray(spacing, dtype=float) == 0, old_spacing, spacing)
    new_size = np.ceil(old_size * old_spacing / new_spacing).astype(int)
    centring = (old_spacing * (old_size - 1) - new_spacing * (new_size - 1)) / 2
    origin = np.array(image.GetOrigin()) + np.reshape(image.GetDirection(), (3, 3)) @ centring
    resampled = sitk.Resample(
        image,
        [int(n) for n in new_size],
        sitk.Transform(),
        getattr(sitk, interpolator),
        origin.tolist(),
        new_spacing.tolist(),
        image.GetDirection(),
        0.0,
        sitk.sitkFloat32,
        True,  # extrapolate with the nearest border voxel
    )
    array = sitk.GetArrayFromImage(resampled)
    array = (array >= 0.5).astype(np.uint8) if mask else np.round(array)
    return Volume(array, resampled.GetSpacing(), resampled.GetOrigin(), resampled.GetDirection())


@functools.lru_cache(maxsize=None)
def extract(dataset: DataSet, data_dir: Path, ibsi_resampling: bool = False) -> tuple[Run, ...]:
    """The data set's extractions; with ``ibsi_resampling`` on input resampled by ``resample_as_ibsi``."""
    image_path, mask_path = dataset.image_paths(data_dir)
    image = read_volume(image_path)
    mask = read_mask(mask_path, image)
    runs = []
    for overrides in dataset.runs:
        settings = load_settings(params=dataset.params)
        setting = settings["setting"] = {**(settings.get("setting") or {}), **dict(overrides)}
        run_image, run_mask = image, mask
        if ibsi_resampling:
            spacing = setting.pop("resampledPixelSpacing")
            run_image = resample_as_ibsi(image, spacing, setting.pop("interpolator", "sitkBSpline"))
            run_mask = resample_as_ibsi(mask, spacing, "sitkLinear", mask=True)
        result = FeatureExtractor(settings).extract(run_image, run_mask)
        features = {name.removeprefix("original_"): value for name, value in result.features.items()}
        runs.append(Run(bool(setting.get("force2D", False)), features, result.diagnostics))
    return tuple(runs)


def measure(dataset: DataSet, data_dir: Path, ibsi_resampling: bool = False) -> dict[str, tuple[float, str]]:
    """IBSI tag -> (our value, the pyradiomics feature or diagnostic it comes from)."""
    values: dict[str, tuple[float, str]] = {}
    for run in extract(dataset, Path(data_dir), ibsi_resampling):
        for feature, value in run.features.items():
            for tag in FEATURE_TAGS.get(feature, ()):
                # Shape and first-order values do not depend on force2D: the first run's are kept.
                values.setdefault(aggregated_tag(tag, run.force2d), (value, feature))
        diagnostics = diagnostic_values(run.diagnostics)
        if ibsi_resampling:
            # The input already is IBSI's interpolated image: what pyradiomics reports as loaded
            # describes IBSI's interpolated stage, and nothing describes IBSI's initial one.
            diagnostics = {
                tag.replace("_init_", "_interp_"): measured
                for tag, measured in diagnostics.items()
                if "_interp_" not in tag
            }
        for tag, measured in diagnostics.items():
            values.setdefault(tag, measured)
    return values


def unmapped_features(dataset: DataSet, data_dir: Path) -> set[str]:
    """pyradiomics features of ``dataset`` that are neither mapped to IBSI nor listed as not in IBSI."""
    computed = {feature for run in extract(dataset, Path(data_dir)) for feature in run.features}
    return computed - FEATURE_TAGS.keys() - NO_IBSI_TAG.keys()


# Reasons whose effect can be undone to check them: RESAMPLING by IBSI-resampled input, the others
# by arithmetic. BIN_NUMBERING and RESEGMENTATION cannot be undone through pyradiomics' settings.
VERIFIABLE = frozenset({RESAMPLING, KURTOSIS, AXIS_LENGTHS})


def reasons_verified(
    reasons: tuple[Reason, ...], value: float, resampled_value: float | None, reference: Reference, voxel_count: int
) -> bool | None:
    """Whether undoing the documented reasons reproduces the reference (None: cannot be checked)."""
    if not reasons or not set(reasons) <= VERIFIABLE:
        return None
    if RESAMPLING in reasons:
        if resampled_value is None:
            return None
        value = resampled_value
    if KURTOSIS in reasons:
        value -= 3
    if AXIS_LENGTHS in reasons:
        value *= math.sqrt(voxel_count / (voxel_count - 1))
    return within_tolerance(value, reference)


class Status(str, Enum):
    MATCHED = "matched"
    NOT_MATCHED = "not matched"
    NOT_COMPUTED = "not computed"
    NO_REFERENCE = "no reference"


@dataclass(frozen=True)
class Row:
    reference: Reference
    value: float | None
    source: str  # the pyradiomics feature or diagnostic
    status: Status
    reasons: tuple[Reason, ...]
    resampled_value: float | None = None  # with IBSI-resampled input, for configurations that resample
    verified: bool | None = None  # for deviations: see reasons_verified

    @property
    def resampled_matches(self) -> bool:
        """Whether the value with IBSI-resampled input is within tolerance."""
        value, reference = self.resampled_value, self.reference
        return value is not None and reference.value is not None and within_tolerance(value, reference)


def compare(dataset: DataSet, data_dir: Path) -> list[Row]:
    """One row per tag of the data set's IBSI reference file, in the file's order."""
    measured = measure(dataset, data_dir)
    resampled = measure(dataset, data_dir, ibsi_resampling=True) if resamples(dataset) else {}
    deviations = KNOWN_DEVIATIONS.get(dataset.key, {})
    # The ROI that shape features describe (after pyradiomics' resampling, if any).
    voxel_count = int(measured["morph_mask_vox_count_interp_roi"][0])
    rows = []
    for reference in read_reference(dataset.reference_path(data_dir)):
        value, source = measured.get(reference.tag, (None, ""))
        if reference.value is None:
            status, reasons = Status.NO_REFERENCE, (NO_REFERENCE_VALUE,)
        elif value is None:
            reason = not_computed_reason(reference.tag)
            status, reasons = Status.NOT_COMPUTED, (reason,) if reason else ()
        elif within_tolerance(value, reference):
            status, reasons = Status.MATCHED, ()
        else:
            status, reasons = Status.NOT_MATCHED, deviations.get(reference.tag, ())
        resampled_value = resampled.get(reference.tag, (None,))[0]
        verified = None
        if status is Status.NOT_MATCHED:
            verified = reasons_verified(reasons, value, resampled_value, reference, voxel_count)
        rows.append(Row(reference, value, source, status, reasons, resampled_value, verified))
    return rows


def documentation_gaps(dataset: DataSet, rows: list[Row]) -> dict[str, set[str]]:
    """Where the documented deviations and reasons disagree with what was measured (empty when none)."""
    not_matched = {row.reference.tag for row in rows if row.status is Status.NOT_MATCHED}
    documented = set(KNOWN_DEVIATIONS.get(dataset.key, {}))
    gaps = {
        "not matched, not documented": not_matched - documented,
        "documented as deviation, but matched or not compared": documented - not_matched,
        "not computed, no reason given": {
            row.reference.tag for row in rows if row.status is Status.NOT_COMPUTED and not row.reasons
        },
    }
    return {problem: tags for problem, tags in gaps.items() if tags}


def counts(rows: list[Row]) -> Counter[Status]:
    return Counter(row.status for row in rows)


def summary(rows: list[Row]) -> str:
    n = counts(rows)
    compared = n[Status.MATCHED] + n[Status.NOT_MATCHED]
    return (
        f"{n[Status.MATCHED]} matched / {compared} compared; {n[Status.NOT_COMPUTED]} not computed; "
        f"{n[Status.NO_REFERENCE]} without IBSI reference value ({len(rows)} IBSI tags)"
    )


# --------------------------------------------------------------------------------------------
# docs/IBSI.md


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _why(row: Row) -> str:
    why = " + ".join(reason.label for reason in row.reasons)
    return f"{why} (verified)" if row.verified else why


def _table(dataset: DataSet, rows: list[Row]) -> list[str]:
    cross_check = resamples(dataset)
    head = ["IBSI tag", "IBSI feature", "pyradiomics", "ours", "reference", "tolerance"]
    head += ["ours, IBSI-resampled input"] if cross_check else []
    head += ["status", "why"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        ref = row.reference
        cells = [f"`{ref.tag}`", f"{ref.family}: {ref.feature}", row.source, _number(row.value)]
        cells += [ref.value_text or "—", ref.tolerance_text or "—"]
        if cross_check:
            cells.append(_number(row.resampled_value) + (" (matched)" if row.resampled_matches else ""))
        status = f"**{row.status.value}**" if row.status is Status.NOT_MATCHED else row.status.value
        cells += [status, _why(row)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return lines


_METHOD = """\
## Method

- Images and masks are the IBSI-1 NIfTI files, read with `volume.read_volume` / `read_mask`;
  features come from `features.FeatureExtractor` (our engine, which gives pyradiomics 3.0.1's values
  with pyradiomics' settings and names; docs/features.md) with the parameter file named per data set,
  exactly as users run it. Where this page says "pyradiomics", it means pyradiomics' definitions,
  which the engine follows.
- Each pyradiomics feature is mapped to its IBSI tag(s) (`FEATURE_TAGS`). For texture, pyradiomics
  computes one aggregation: GLCM and GLRLM per direction over the whole ROI, features averaged over
  the directions (IBSI `_3D_avg`, or `_2_5D_avg` with `force2D`, where each in-plane direction's
  matrix gathers all slices); GLSZM, GLDM (IBSI NGLDM) and NGTDM as one matrix over the ROI (`_3D`,
  or `_2_5D` with `force2D`). The other IBSI aggregations are listed as not computed.
- The digital phantom is run with the `ibsi` preset (3D) and once more with `force2D: true` (its
  2.5D tags), which checks the aggregation that configurations A and B use. Diagnostic tags of the
  CT phantom come from pyradiomics' `diagnostics_*` entries.
- A value matches when |ours - reference| <= max(tolerance, half a unit in the reference's last
  significant digit, at most its third): IBSI rounds reference values to three significant digits,
  so a tolerance of 0 means "equal after rounding".
- Every value outside the tolerance is a documented deviation (`KNOWN_DEVIATIONS`, checked by the
  tests). "(verified)" marks a deviation whose documented reasons, once undone (IBSI-resampled
  input, kurtosis minus 3, axis lengths times sqrt(N / (N - 1))), give a matching value.
- For configurations that resample, the column "ours, IBSI-resampled input" repeats the extraction
  on an image and mask resampled as the IBSI manual prescribes (`resample_as_ibsi`), with
  pyradiomics' own resampling switched off; its initial-stage diagnostics then describe IBSI's
  interpolated stage.
"""


def _summary_table(results: dict[str, list[Row]]) -> list[str]:
    lines = [
        "| data set | parameters | matched / compared | not matched (documented) | not computed | no IBSI value "
        "| IBSI-resampled input: matched / compared |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, rows in results.items():
        dataset, n = DATASETS[key], counts(rows)
        documented = sum(1 for row in rows if row.status is Status.NOT_MATCHED and row.reasons)
        cross_check = "—"
        if resamples(dataset):
            checked = [row for row in rows if row.resampled_value is not None and row.reference.value is not None]
            cross_check = f"{sum(row.resampled_matches for row in checked)} / {len(checked)}"
        lines.append(
            f"| {dataset.title} | `{_relative(dataset.params)}` "
            f"| {n[Status.MATCHED]} / {n[Status.MATCHED] + n[Status.NOT_MATCHED]} "
            f"| {n[Status.NOT_MATCHED]} ({documented}) | {n[Status.NOT_COMPUTED]} | {n[Status.NO_REFERENCE]} "
            f"| {cross_check} |"
        )
    return lines


def render(results: dict[str, list[Row]], data_dir: Path) -> str:
    """docs/IBSI.md from the comparison rows of every data set."""
    diagnostics = extract(DATASETS["phantom"], Path(data_dir))[0].diagnostics
    versions = ", ".join(
        f"{name} {diagnostics.get(f'diagnostics_Versions_{name}', '?')}"
        for name in ("ResponsePredictor", "SimpleITK", "Numpy")
    )
    out = [
        "# IBSI-1 compliance of the radiomic features",
        "",
        "Generated by `scripts/ibsi_compliance.py`; do not edit by hand: every number below comes from",
        f"that script. Computed with {versions}.",
        "",
        "Rerun (needs the public data folder, `$RP_DATA_DIR`, default `../shared/data`):",
        "",
        "    .venv/bin/python scripts/ibsi_compliance.py          # rewrites this file",
        "    .venv/bin/python -m pytest -m realdata Testing/test_ibsi.py",
        "",
        _METHOD,
        "## Summary",
        "",
        *_summary_table(results),
    ]
    for title, status in (("Why values differ", Status.NOT_MATCHED), ("Why values are missing", Status.NOT_COMPUTED)):
        used = {reason for rows in results.values() for row in rows if row.status is status for reason in row.reasons}
        out += ["", f"## {title}", ""]
        out += [f"- **{reason.label}**: {reason.explanation}" for reason in sorted(used, key=lambda r: r.label)]
    out += ["", "## pyradiomics features without an IBSI tag", ""]
    out += [f"- `{feature}`: {why}" for feature, why in NO_IBSI_TAG.items()]
    for key, rows in results.items():
        dataset = DATASETS[key]
        runs = " (3D) and the same with `force2D: true` (2.5D tags)" if len(dataset.runs) > 1 else ""
        out += ["", f"## {dataset.title}", "", f"Parameters: `{_relative(dataset.params)}`{runs}.", ""]
        out += [f"**{summary(rows)}**", "", *_table(dataset, rows)]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="public data folder (holds ibsi/)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown file to write")
    args = parser.parse_args(argv)
    data_dir = args.data_dir.resolve()
    if not (data_dir / "ibsi" / "reference_values").is_dir():
        print(f"IBSI data not found under {data_dir}; set RP_DATA_DIR or pass --data-dir.", file=sys.stderr)
        return 2
    results = {key: compare(dataset, data_dir) for key, dataset in DATASETS.items()}
    problems = 0
    for key, rows in results.items():
        print(f"{DATASETS[key].title}: {summary(rows)}")
        for problem, tags in documentation_gaps(DATASETS[key], rows).items():
            problems += 1
            print(f"  {problem}: {' '.join(sorted(tags))}", file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(results, data_dir))
    print(f"wrote {args.output}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
