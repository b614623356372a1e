"""Cohort runs on synthetic cases: the manifest's checks, failures isolated, resuming, results table, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from ResponsePredictorLib.cli import EXIT_INPUT, EXIT_OK, main
from ResponsePredictorLib.cohort import DONE, FAILED, ManifestError, read_manifest, run_cohort
from ResponsePredictorLib.cohort.store import training_rows
from ResponsePredictorLib.report.cohort_report import cohort_report
from ResponsePredictorLib.pipeline import PipelineSettings, read_record
from ResponsePredictorLib.volume import write_volume
from survival_model import radiomics_survival_model
from test_pipeline import LIGHT, tumor_case


def write_manifest(path, rows, header="case,image,mask"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("text, message", [
    ("case,mask\na,m.nrrd\n", "lacks the column"),
    ("case,image\na,i.nrrd\n", "needs a 'mask' column"),
    ("case,image,mask\na,i.nrrd,m.nrrd\na,j.nrrd,n.nrrd\n", "'a' appears on lines 2, 3"),
    ("case,image,mask\n../up,i.nrrd,m.nrrd\n", "names the case's folder"),
    ("case,image,mask\n.hidden,i.nrrd,m.nrrd\n", "names the case's folder"),
    ("case,image,mask\nx/y,i.nrrd,m.nrrd\n", "names the case's folder"),
    ("case,image,mask\n,i.nrrd,m.nrrd\n", "no case id"),
    ("case,image,seed\na,i.nrrd,\"1,2\"\n", "seed must be 3 numbers"),
    ("case,image,roi\na,i.nrrd,\"1,2,3,4,5,x\"\n", "roi must be 6 numbers"),
    ("case,image,mask,seed\na,i.nrrd,,\n", "give a mask, or a seed or roi"),
    ("case,image,seed\na,i.nrrd,\"1,2,3;4,5\"\n", "seed must be 3 numbers.*separated by ';'"),
    ("case,image,seed,negative\na,i.nrrd,\"1,2,3\",\"4,5,6;x\"\n", "negative must be 3 numbers"),
    ("case,image,mask\n", "lists no cases"),
])
def test_manifest_problems_are_said_before_anything_runs(tmp_path, text, message):
    (tmp_path / "manifest.csv").write_text(text)
    with pytest.raises(ManifestError, match=message):
        read_manifest(tmp_path / "manifest.csv")


def test_manifest_reads_cases_and_carries_other_columns(tmp_path):
    path = write_manifest(tmp_path / "m.csv", ['007,img/a.nrrd,,"1.5, -2,3",70,', "b,/abs/b,b.seg.dcm,,,1"],
                          header="case,image,mask,seed,age,Event")
    manifest = read_manifest(path)
    first, second = manifest.cases
    assert first.case == "007" and first.image == tmp_path / "img" / "a.nrrd" and first.mask is None
    assert first.seed == (1.5, -2.0, 3.0) and first.extra == {"age": "70", "Event": ""}
    assert str(second.image) == "/abs/b" and second.mask == tmp_path / "b.seg.dcm"
    assert manifest.carried == ["age", "Event"]


def test_manifest_takes_several_tumor_points_not_tumor_points_and_a_box_with_them(tmp_path):
    path = write_manifest(tmp_path / "m.csv", ['a,a.nrrd,"1,2,3; 4,5,6",,"7,8,9;-1,-2,-3.5"',
                                               'b,b.nrrd,"1,2,3","0,0,0,9,9,9",'],
                          header="case,image,seed,roi,negative")
    first, second = read_manifest(path).cases
    assert first.seed == ((1.0, 2.0, 3.0), (4.0, 5.0, 6.0)) and first.roi is None
    assert first.negative == ((7.0, 8.0, 9.0), (-1.0, -2.0, -3.5))
    assert second.seed == (1.0, 2.0, 3.0) and second.roi == (0, 0, 0, 9, 9, 9) and second.negative is None
    assert "negative" not in first.extra


def test_manifest_keeps_reading_points_and_boxes_written_with_semicolons(tmp_path):
    path = write_manifest(tmp_path / "m.csv", ['a,a.nrrd,"1;2;3",', 'b,b.nrrd,,"0,0,0;9,9,9"'], header="case,image,seed,roi")
    first, second = read_manifest(path).cases
    assert first.seed == (1.0, 2.0, 3.0) and second.roi == (0, 0, 0, 9, 9, 9)


@pytest.fixture
def light_settings(tmp_path):
    params = tmp_path / "light.yaml"
    params.write_text(yaml.safe_dump(LIGHT))
    return PipelineSettings(model=None, params=str(params), heatmap=None, report=False)


def synthetic_cohort(folder, count=3):
    """``count`` good cases, then one with a corrupt image, one with an empty mask, one with a missing file."""
    rows = []
    for index in range(count):
        image, mask = tumor_case(seed=index, radius=5 + index)
        write_volume(image, folder / f"c{index}.nrrd")
        write_volume(mask, folder / f"c{index}_mask.nrrd")
        rows.append(f"c{index},c{index}.nrrd,c{index}_mask.nrrd,{index % 2}")
    (folder / "corrupt.nrrd").write_bytes((folder / "c0.nrrd").read_bytes()[:300])
    rows.append("corrupt,corrupt.nrrd,c0_mask.nrrd,1")
    image, mask = tumor_case()
    write_volume(mask.with_array(np.zeros_like(mask.array)), folder / "empty_mask.nrrd")
    rows.append("empty,c0.nrrd,empty_mask.nrrd,0")
    rows.append("missing,absent.nrrd,c0_mask.nrrd,1")
    return write_manifest(folder / "manifest.csv", rows, header="case,image,mask,responder")


def test_failures_recorded_while_the_rest_completes_then_resume_skips(tmp_path, light_settings):
    manifest = synthetic_cohort(tmp_path)
    seen = []
    summary = run_cohort(manifest, tmp_path / "out", light_settings, workers=1, progress_bar=False,
                         progress=lambda outcome, completed, total: seen.append((outcome.case, outcome.status, completed, total)))
    assert (summary.done, summary.skipped, summary.failed) == (3, 0, 3)
    assert [completed for _, _, completed, _ in seen] == [1, 2, 3, 4, 5, 6] and {t for *_, t in seen} == {6}
    table = pd.read_csv(summary.results, dtype={"case": str})
    assert list(table.columns[:5]) == ["case", "status", "error", "warnings", "responder"]
    assert list(table["case"]) == ["c0", "c1", "c2", "corrupt", "empty", "missing"]
    assert list(table["status"]) == [DONE] * 3 + [FAILED] * 3
    errors = dict(zip(table["case"], table["error"].fillna("")))
    assert "truncated" in errors["corrupt"] or "Could not read" in errors["corrupt"]
    assert "empty" in errors["empty"] and "not found" in errors["missing"]
    assert all("Traceback" not in error and "\n" not in error for error in errors.values())
    assert table.loc[table.status == DONE, "original_shape_VoxelVolume"].notna().all()
    assert table.loc[table.status == FAILED, "original_shape_VoxelVolume"].isna().all()

    # Again with one input changed and the missing file supplied: only those two cases run; failures are retried.
    write_volume(tumor_case(seed=9)[0], tmp_path / "c2.nrrd")
    (tmp_path / "absent.nrrd").write_bytes((tmp_path / "c1.nrrd").read_bytes())
    again = run_cohort(manifest, tmp_path / "out", light_settings, workers=1, progress_bar=False)
    assert (again.done, again.skipped, again.failed) == (2, 2, 2)
    runs = {case: read_record(tmp_path / "out" / "cases" / case)["runs"] for case in ("c0", "c1", "c2", "missing")}
    assert runs == {"c0": 1, "c1": 1, "c2": 2, "missing": 2}


def test_each_cases_warnings_reach_the_results_table_and_never_a_model(tmp_path):
    image, mask = tumor_case(radius=7)
    write_volume(image, tmp_path / "c.nrrd")
    write_volume(mask, tmp_path / "c_mask.nrrd")
    # A survival model with only one of its clinical covariates given: the others are said unknown.
    model = radiomics_survival_model(tmp_path / "model")
    manifest = write_manifest(tmp_path / "manifest.csv", ["c,c.nrrd,c_mask.nrrd,70"], header="case,image,mask,age")
    summary = run_cohort(manifest, tmp_path / "out", PipelineSettings(model=str(model.directory), heatmap=None,
                                                                      report=False), workers=1, progress_bar=False)
    table = pd.read_csv(summary.results, dtype={"case": str}).set_index("case")
    warnings = table.loc["c", "warnings"]
    assert "'Tstage'" in warnings and "'Histology'" in warnings and " | " in warnings
    assert "'age'" not in warnings
    rows, note = training_rows(table)
    assert "warnings" not in rows.columns and "status, error, warnings" in note
    page = cohort_report(tmp_path / "out").read_text()
    assert "<th>warnings</th>" in page and "Tstage" in page


def test_run_command(tmp_path, capsys):
    manifest = synthetic_cohort(tmp_path, count=1)
    params = tmp_path / "light.yaml"
    params.write_text(yaml.safe_dump(LIGHT))
    out = tmp_path / "out"
    assert main(["run", str(manifest), "-o", str(out), "--model", "none", "--params", str(params), "--no-report",
                 "--workers", "1", "--quiet"]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "4 case(s): 1 done, 0 skipped" in printed and "3 failed" in printed
    assert json.loads((out / "cases" / "c0" / "result.json").read_text())["status"] == DONE
    (tmp_path / "bad.csv").write_text("case,image\na,b\n")
    assert main(["run", str(tmp_path / "bad.csv"), "-o", str(out), "--model", "none", "--params", str(params)]) == EXIT_INPUT
    assert "needs a 'mask' column" in capsys.readouterr().err

