"""``responsepredictor report`` on the folder a real ``responsepredictor run`` wrote (two NSCLC crops and a
case whose image is missing): the page, its links, the failed case, and the redrawn case pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from conftest import data_path
from test_report_cohort import assert_links_resolve, parse
from ResponsePredictorLib.cli import EXIT_INPUT, EXIT_OK, main
from ResponsePredictorLib.volume import Volume, write_volume

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cohort")
    rows = ["case,image,mask,age,Tstage,Nstage,Mstage,Histology,SurvivalTime,Event"]
    for number in (5, 8):
        arrays = np.load(data_path("nsclc_crops", "images", f"patient_{number:03d}.npz"))
        scan = Volume(arrays["scan"], (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
        write_volume(scan, folder / f"p{number}.nrrd")
        write_volume(scan.with_array(arrays["mask"]), folder / f"p{number}_mask.nrrd")
        rows.append(f"p{number},p{number}.nrrd,p{number}_mask.nrrd,70,2,0,0,adenocarcinoma,400,1")
    rows.append("gone,/data/Doe_Jane/missing.nrrd,p5_mask.nrrd,70,2,0,0,adenocarcinoma,300,0")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    assert main(["run", str(folder / "manifest.csv"), "-o", str(folder / "out"), "--heatmap", "none",
                 "--workers", "1", "--quiet"]) == EXIT_OK
    return folder


def test_report_command_on_a_real_run(run_dir, capsys):
    out = run_dir / "out"
    for case in ("p5", "p8"):
        (out / "cases" / case / "report.png").unlink()
    assert main(["report", str(out), "--manifest", str(run_dir / "manifest.csv")]) == EXIT_OK
    assert "2 case picture(s) redrawn" in capsys.readouterr().out
    parser = parse(out / "index.html")
    assert_links_resolve(out / "index.html", parser)
    assert sorted(parser.links) == ["cases/p5/report.png", "cases/p8/report.png"]
    text = " ".join(parser.texts)
    assert "2 done, 1 failed of 3 cases" in text and "At least 10 are needed" in text
    assert "missing.nrrd" in text and "Doe_Jane" not in (out / "index.html").read_text()
    for case in ("p5", "p8"):
        assert imread(out / "cases" / case / "report.png").shape[1] > 1000


def test_report_command_errors(run_dir, capsys):
    assert main(["report", str(run_dir / "out"), "--outcome", "responder"]) == EXIT_INPUT
    assert "lack the outcome column(s) responder" in capsys.readouterr().err
    assert main(["report", str(run_dir / "nowhere")]) == EXIT_INPUT
