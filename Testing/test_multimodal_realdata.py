"""The sarcoma patients of ``sts_dev`` end to end as multimodal cases: PET primary with its mask, CT with its
own mask, MR T1 with the PET mask carried, peritumoral shells; missing scans recorded; every case done."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import data_path, script_module
from ResponsePredictorLib.cohort import run_cohort
from ResponsePredictorLib.features import FeatureExtractor, load_settings
from ResponsePredictorLib.pipeline import PipelineSettings
from ResponsePredictorLib.volume import read_mask, read_volume

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def sts_run(tmp_path_factory):
    data = data_path("sts_dev", "cases.csv").parents[1]
    folder = tmp_path_factory.mktemp("sts")
    manifest = script_module("sts_manifest").write_manifest(data, folder)
    settings = PipelineSettings(model=None, heatmap=None, report=True, preset="pet", peritumoral=(5.0,))
    summary = run_cohort(manifest, folder / "run", settings, workers=2, progress_bar=False)
    return folder, summary


def test_every_case_done_with_missing_scans_recorded(sts_run):
    folder, summary = sts_run
    assert summary.failed == 0 and summary.done == 10
    table = pd.read_csv(summary.results, keep_default_na=False).set_index("case")
    assert table.loc["STS_007", "missing_scans"] == "CT"
    assert table.loc["STS_009", "missing_scans"] == "CT;MR_T1"
    assert (table.drop(index=["STS_007", "STS_009"])["missing_scans"] == "").all()
    assert table.loc["STS_009", "CT_original_firstorder_Mean"] == ""
    for prefix in ("", "CT_", "MR_T1_", "peri5mm_", "CT_peri5mm_", "MR_T1_peri5mm_"):
        assert (table.loc["STS_001", f"{prefix}original_firstorder_Mean"] != ""), prefix
    record = json.loads((folder / "run" / "cases" / "STS_001" / "result.json").read_text())
    assert record["provenance"]["scans"]["MR_T1"]["mask_source"] == "carried from the primary scan"
    assert record["provenance"]["scans"]["CT"]["mask_source"] == "own mask"
    assert (folder / "run" / "cases" / "STS_001" / "report.png").is_file()


def test_a_scan_with_its_own_mask_matches_features_run_on_it_alone(sts_run):
    folder, summary = sts_run
    table = pd.read_csv(summary.results).set_index("case")
    scans = data_path("sts_dev", "nifti", "STS_002")
    image = read_volume(scans / "CT_image.nii.gz")
    alone = FeatureExtractor(load_settings(preset="ct")).extract(image, read_mask(scans / "CT_mask.nii.gz", image)).features
    for name in ("original_shape_MeshVolume", "original_firstorder_Mean", "log-sigma-1-0-mm-3D_glcm_Imc1"):
        assert table.loc["STS_002", f"CT_{name}"] == pytest.approx(alone[name], rel=1e-9)


def test_the_carried_mask_agrees_with_the_contour_drawn_on_the_mr(sts_run):
    folder, _ = sts_run
    scans = data_path("sts_dev", "nifti", "STS_001")
    mr = read_volume(scans / "MR_T1_image.nii.gz")
    carried = read_mask(folder / "run" / "cases" / "STS_001" / "scans" / "MR_T1" / "mask.nrrd", mr).array > 0
    own = read_mask(scans / "MR_T1_mask.nii.gz", mr).array > 0
    assert 2 * np.count_nonzero(carried & own) / (carried.sum() + own.sum()) > 0.8
