"""Cohorts of real NSCLC crops: killed and resumed, on Dask, and free of DICOM identifiers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import data_path
from ResponsePredictorLib.cohort import DONE, run_cohort
from ResponsePredictorLib.dicom_export import write_dicom_series
from ResponsePredictorLib.pipeline import PipelineSettings, read_record
from ResponsePredictorLib.volume import Volume, read_volume, write_volume
from survival_model import radiomics_survival_model
from test_pipeline import LIGHT

pytestmark = pytest.mark.realdata

# Crops with small tumors: quick to extract. The provider states 1 mm voxels.
CROPS = ("005", "008", "011", "018")
GRID = dict(spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))


def crop(patient: str) -> tuple[Volume, Volume]:
    data = np.load(data_path("nsclc_crops", "images", f"patient_{patient}.npz"), allow_pickle=False)
    return Volume(data["scan"], **GRID), Volume((data["mask"] > 0).astype(np.uint8), **GRID)


@pytest.fixture(scope="module")
def crop_files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("crops")
    for patient in CROPS:
        image, mask = crop(patient)
        write_volume(image, folder / f"{patient}.nrrd")
        write_volume(mask, folder / f"{patient}_mask.nrrd")
    (folder / "light.yaml").write_text(yaml.safe_dump(LIGHT))
    return folder


def light(folder: Path) -> PipelineSettings:
    return PipelineSettings(model=None, params=str(folder / "light.yaml"), heatmap=None, report=False)


def cohort_manifest(folder: Path, count: int, name: str = "manifest.csv") -> Path:
    """``count`` cases cycling through the crops, plus one whose image is missing."""
    rows = [f"case{index:02d},{CROPS[index % len(CROPS)]}.nrrd,{CROPS[index % len(CROPS)]}_mask.nrrd,{index % 2}"
            for index in range(count)]
    rows.append(f"missing,absent.nrrd,{CROPS[0]}_mask.nrrd,0")
    path = folder / name
    path.write_text("case,image,mask,responder\n" + "\n".join(rows) + "\n")
    return path


def assert_sound(out: Path) -> None:
    """No temporary file, every image readable, the table parseable."""
    assert not [p for p in out.rglob("*") if ".partial" in p.name]
    for image in out.rglob("*.nrrd"):
        read_volume(image)
    pd.read_csv(out / "results.csv")


def test_killed_midway_then_resumed_runs_every_case_once(crop_files, tmp_path):
    manifest = cohort_manifest(crop_files, 12, "kill.csv")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ResponsePredictorLib.cli",
               "run", str(manifest), "-o", str(out), "--model", "none", "--params", str(crop_files / "light.yaml"),
               "--no-report", "--workers", "2", "--quiet"]
    # Its own session, so that the kill takes the workers too, as a power cut would.
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("cases/*/result.json"))) < 2:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    first = {path.parent.name: path.read_bytes() for path in out.glob("cases/*/result.json")}
    assert 2 <= len(first) < 13, "the kill came after the first cases and before the last"

    summary = run_cohort(manifest, out, light(crop_files), workers=2, progress_bar=False)
    assert summary.done + summary.skipped == 12 and summary.failed == 1
    assert summary.skipped == len([case for case in first if case != "missing"])
    for case, content in first.items():
        if case != "missing":  # failures are retried; cases done are kept as they were
            assert (out / "cases" / case / "result.json").read_bytes() == content
    runs = {case.name: read_record(case)["runs"] for case in (out / "cases").iterdir()}
    assert len(runs) == 13 and all(count == 1 for case, count in runs.items() if case != "missing")
    table = pd.read_csv(out / "results.csv")
    assert (table["status"] == DONE).sum() == 12
    assert_sound(out)


def test_dask_cluster_gives_the_same_table(crop_files, tmp_path):
    from distributed import Client, LocalCluster

    manifest = cohort_manifest(crop_files, 4, "dask.csv")
    local = run_cohort(manifest, tmp_path / "local", light(crop_files), workers=1, progress_bar=False)
    with LocalCluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        on_dask = run_cohort(manifest, tmp_path / "dask", light(crop_files), client=client, progress_bar=False)
    assert (on_dask.done, on_dask.failed) == (local.done, local.failed) == (4, 1)
    assert (tmp_path / "dask" / "results.csv").read_bytes() == (tmp_path / "local" / "results.csv").read_bytes()
    assert_sound(tmp_path / "dask")


def test_dicom_identifiers_stay_out_of_every_output(crop_files, tmp_path):
    """A DICOM series carrying a patient's name and id, segmented from a click, through every stage."""
    from ResponsePredictorLib.segment.validation import central_seed

    image, mask = crop("011")
    name, patient_id = "Doe^Jane", "PID-4711-XYZ"
    series = tmp_path / "series"  # a folder name free of identifiers, as the case id is
    write_dicom_series(image, series, patient_name=name, patient_id=patient_id)
    seed = ",".join(f"{c:.2f}" for c in central_seed(mask))
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f'case,image,seed,age,Tstage,Histology\nanon01,{series},"{seed}",70,2,adenocarcinoma\n')
    out = tmp_path / "out"
    model = radiomics_survival_model(tmp_path / "model")  # radiomic inputs: a contribution heatmap to write
    summary = run_cohort(manifest, out, PipelineSettings(model=str(model.directory), heatmap="contribution", report=True),
                         workers=1, progress_bar=False)
    assert summary.done == 1, summary.failures
    record = read_record(out / "cases" / "anon01")
    assert record["provenance"]["mask_source"] == "segmented" and record["provenance"]["segmentation_model"]["id"]
    assert {"segment_s", "features_s", "predict_s", "heatmap_s", "report_s"} <= set(record["timings"])
    assert set(record["files"]) == {"mask.nrrd", "features.json", "prediction.json", "heatmap.nrrd", "heatmap.json",
                                    "report.png", "seg.dcm"}
    outputs = [path for path in out.rglob("*") if path.is_file()]  # the model is outside ``out``
    for path in outputs:
        content = path.read_bytes()
        for identifier in (name, "Doe", "Jane", patient_id):
            assert identifier.encode() not in content, f"{identifier} found in {path}"


def test_without_highdicom_a_dicom_case_is_done_and_says_why_no_seg(crop_files, tmp_path, monkeypatch):
    """Slicer leaves highdicom out (its DICOM module holds pydicom and highdicom at its own versions):
    the case is done all the same, its mask in mask.nrrd, and its warnings say why there is no seg.dcm."""
    from ResponsePredictorLib.segment.validation import central_seed

    monkeypatch.setitem(sys.modules, "highdicom", None)  # every import of it now fails
    image, mask = crop("011")
    series = tmp_path / "series"
    write_dicom_series(image, series)
    seed = ",".join(f"{c:.2f}" for c in central_seed(mask))
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f'case,image,seed\nanon01,{series},"{seed}"\n')
    summary = run_cohort(manifest, tmp_path / "out", PipelineSettings(heatmap=None, report=False), workers=1,
                         progress_bar=False)
    assert summary.done == 1, summary.failures
    record = read_record(tmp_path / "out" / "cases" / "anon01")
    assert "seg.dcm" not in record["files"] and "mask.nrrd" in record["files"]
    assert any(warning.startswith("No seg.dcm: Writing the mask as DICOM SEG (seg.dcm) needs highdicom")
               for warning in record["warnings"])
