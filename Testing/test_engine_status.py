"""What the engine tells the process that started it (engine_status): progress lines and the result
marker the command line writes as its last act, for every way it ends; nothing of it in a terminal."""

from __future__ import annotations

import json

import pytest

from ResponsePredictorLib import engine_status
from ResponsePredictorLib.cli import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, main
from ResponsePredictorLib.engine_status import Ending, Progress, parse_progress, progress_line, read_ending
from ResponsePredictorLib.resources import sample_case


@pytest.fixture
def status_file(tmp_path, monkeypatch):
    path = tmp_path / "status.json"
    monkeypatch.setenv(engine_status.STATUS_FILE_VARIABLE, str(path))
    return path


def test_progress_lines_round_trip_and_other_lines_are_not_progress():
    for progress in (Progress("segment", 0.25, "Segmenting the tumor"), Progress("report", None, "Writing the report")):
        assert parse_progress(progress_line(progress) + "\n") == progress
    assert progress_line(Progress("segment", 0.25, "Segmenting the tumor")) == "RP-PROGRESS segment 0.250 Segmenting the tumor"
    assert parse_progress("RP-PROGRESS cohort 7 all done") == Progress("cohort", 1.0, "all done")  # clamped to 0..1
    for line in ("tumor: 120 voxels", "RP-PROGRESS", "RP-PROGRESS segment half Segmenting", "x RP-PROGRESS a 0.1 b"):
        assert parse_progress(line) is None


def test_progress_lines_only_when_asked(capfd, monkeypatch):
    monkeypatch.delenv(engine_status.PROGRESS_VARIABLE, raising=False)
    engine_status.report_progress("read", 0.1, "Reading the scan")
    assert capfd.readouterr() == ("", "")  # a terminal sees what it always saw
    monkeypatch.setenv(engine_status.PROGRESS_VARIABLE, "1")
    engine_status.report_progress("read", 0.1, "Reading the scan")
    assert capfd.readouterr() == ("", "RP-PROGRESS read 0.100 Reading the scan\n")


def test_the_marker_records_done_and_bad_input(status_file, tmp_path):
    sample = sample_case()
    assert main(["features", str(sample.image), str(sample.mask), "--preset", "ct", "-o", str(tmp_path / "f.csv")]) == EXIT_OK
    assert read_ending(status_file) == Ending(EXIT_OK)
    assert main(["run", str(tmp_path / "absent.csv"), "-o", str(tmp_path / "out")]) == EXIT_INPUT
    ending = read_ending(status_file)
    assert ending.exit == EXIT_INPUT and "absent.csv" in ending.error


def test_the_marker_records_a_bad_command_line(status_file):
    with pytest.raises(SystemExit):
        main(["run"])
    assert read_ending(status_file) == Ending(EXIT_USAGE, "bad command line (see the log)")


@pytest.mark.parametrize("code", [5, "a library gave up"])
def test_another_exit_is_not_taken_for_a_bad_command_line(status_file, monkeypatch, code):
    from ResponsePredictorLib.cli import report_command

    def exits(args):
        raise SystemExit(code)  # as a library calling sys.exit would

    monkeypatch.setattr(report_command, "run", exits)
    with pytest.raises(SystemExit):
        main(["report", "anywhere"])
    ending = read_ending(status_file)
    assert ending.exit == (code if code == 5 else EXIT_INTERNAL)
    assert ending.error.startswith("internal error") and "report it" in ending.error and "command line" not in ending.error


def test_the_marker_records_an_internal_error_and_the_traceback_still_shows(status_file, monkeypatch):
    from ResponsePredictorLib.cli import report_command

    def bug(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(report_command, "run", bug)
    with pytest.raises(ZeroDivisionError):  # Python prints it and exits with 1, as without the marker
        main(["report", "anywhere"])
    assert json.loads(status_file.read_text()) == {
        "exit": 1, "error": "internal error (ZeroDivisionError: division by zero); the log has the traceback"}


def test_no_marker_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(engine_status.STATUS_FILE_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "absent.csv", "-o", "out"]) == EXIT_INPUT
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_marker_counts_as_none(tmp_path):
    assert read_ending(tmp_path / "absent.json") is None
    for text in ("{", "[]", '{"error": "x"}', '{"exit": "three"}'):
        (tmp_path / "status.json").write_text(text)
        assert read_ending(tmp_path / "status.json") is None
