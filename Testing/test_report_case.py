"""The case report picture, from a real pipeline result and from its case folder on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from conftest import data_path
from ResponsePredictorLib.errors import InputError
from ResponsePredictorLib.report.case_report import (
    LOWERS, RAISES, case_report, model_line, readable_feature,
)
from ResponsePredictorLib.volume import Volume
from survival_model import radiomics_survival_model

CLINICAL = {"age": 70, "Tstage": 2, "Nstage": 0, "Mstage": 0, "Histology": "adenocarcinoma"}


def colour_share(pixels: np.ndarray, colour: str) -> float:
    """The fraction of the picture's pixels within a small distance of ``colour`` (#rrggbb)."""
    target = np.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return float((np.abs(pixels[..., :3] - target).max(axis=2) < 0.03).mean())


def assert_report_picture(path: Path) -> np.ndarray:
    pixels = imread(path)
    assert pixels.shape[0] > 800 and pixels.shape[1] > 1000
    grey = pixels[..., :3].mean(axis=2)
    assert grey.std() > 0.1 and (grey < 0.3).mean() > 0.01  # text, scan and bars, not a blank page
    return pixels


@pytest.fixture(scope="module")
def crop() -> tuple[Volume, Volume]:
    arrays = np.load(data_path("nsclc_crops", "images", "patient_005.npz"))
    scan = Volume(arrays["scan"], (1.0, 1.0, 1.0), (-46.0, -46.0, -46.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    return scan, scan.with_array(arrays["mask"])


@pytest.fixture(scope="module")
def case_result(crop, tmp_path_factory):
    """A pipeline's result on a real crop with a model of radiomics and clinical covariates (no heatmap: it
    takes seconds), with a signed heatmap added."""
    from ResponsePredictorLib.explain import Heatmap
    from ResponsePredictorLib.pipeline import CaseInput, Pipeline

    scan, mask = crop
    model = radiomics_survival_model(tmp_path_factory.mktemp("model") / "survival")
    result = Pipeline(model, heatmap=None).run(CaseInput("c005", scan, mask=mask, extra=CLINICAL))
    k, j, i = np.indices(scan.shape)
    centre = np.argwhere(mask.array).mean(axis=0)
    field = np.where(mask.array > 0, np.tanh((i - centre[2]) / 5.0), 0.0).astype(np.float32)  # left lowers, right raises
    result.heatmap = Heatmap(scan.with_array(field), "signed", "test", "a left-right gradient", (-1.0, 1.0))
    return result


@pytest.mark.realdata
def test_report_from_a_pipeline_result(case_result, tmp_path):
    path = case_report(case_result, tmp_path)
    assert path == tmp_path / "report.png"
    pixels = assert_report_picture(path)
    # Both signs among the model's top contributions: red and blue bars.
    assert colour_share(pixels, RAISES) > 0.001 and colour_share(pixels, LOWERS) > 0.001


@pytest.mark.realdata
def test_report_redrawn_from_the_case_folder(case_result, crop, tmp_path):
    from ResponsePredictorLib.pipeline import write_case

    folder = tmp_path / "cases" / "c005"
    record = json.loads(write_case(case_result, folder, report=True).read_text())
    assert "report.png" in record["files"]
    first = imread(folder / "report.png")
    (folder / "report.png").unlink()
    assert case_report(folder, image=crop[0]) == folder / "report.png"
    again = assert_report_picture(folder / "report.png")
    assert again.shape == first.shape
    with pytest.raises(InputError, match="does not keep the scan"):
        case_report(folder)
    record["status"], record["error"] = "failed", "Mask is empty"
    (folder / "result.json").write_text(json.dumps(record))
    with pytest.raises(InputError, match="did not complete \\(Mask is empty\\)"):
        case_report(folder, image=crop[0])
    with pytest.raises(InputError, match="result.json does not exist"):
        case_report(tmp_path / "elsewhere", image=crop[0])


def test_model_and_feature_names_in_words():
    model = {"name": "NSCLC OS", "outcome": {"kind": "survival", "time": "SurvivalTime", "event": "Event"},
             "intended_use": "Research use only: not a medical device. For adults with NSCLC."}
    assert model_line(model) == "Model: NSCLC OS. Research use only: not a medical device."
    assert readable_feature("log-sigma-1-0-mm-3D_glcm_Imc1") == "LoG 1.0 mm glcm Imc1"
    assert readable_feature("original_shape_Sphericity") == "shape Sphericity"
