"""The Slicer module's background processes outside Slicer (engine_run, process, work_folders,
cohort_run): started through a stand-in for Slicer's ``PythonSlicer`` launcher, their output
drained into the log, their whole process tree ended on cancel, timeout and exit, their work
folders removed (also those a crashed Slicer left), and cohorts run in the background."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from slicer_run_helpers import THROUGH_LAUNCHER, assert_all_ended, job_processes, wait_for_engine

from ResponsePredictorLib.engine_status import PROGRESS_VARIABLE, STATUS_FILE_VARIABLE, Progress
from ResponsePredictorLib.pipeline import DONE, read_record
from ResponsePredictorLib.resources import resource_path, sample_case
from ResponsePredictorLib.slicer_module import process, work_folders
from ResponsePredictorLib.slicer_module.cohort_run import CohortRun, cohort_arguments
from ResponsePredictorLib.slicer_module.engine_run import EngineRun, JobFailed

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def python_run(tmp_path: Path, code: str, **options) -> EngineRun:
    """``code`` run by the launcher stand-in's python, as the engine would be."""
    folder = work_folders.new_run_folder(tmp_path)
    return EngineRun([[*THROUGH_LAUNCHER, "-c", textwrap.dedent(code)]], folder=folder,
                     log_path=folder / "log.txt", **options)


def test_a_run_that_prints_a_lot_does_not_block_and_its_log_has_it_all(tmp_path):
    run = python_run(tmp_path, """
        for i in range(200_000):  # 10 MB: far more than a pipe holds
            print(f"line {i} " + "x" * 40)
        """)
    try:
        assert run.wait(60) == 0
        lines = run.log().splitlines()
        assert len(lines) == 200_000 and lines[-1].startswith("line 199999 ")
        assert run.last_line() == lines[-1]
        # Exit code 0 but no result marker: not taken as done (the marker is written by the engine's CLI).
        with pytest.raises(JobFailed, match="stopped without finishing") as failure:
            run.check()
        assert failure.value.kind == "crashed"
    finally:
        run.cleanup()


def test_output_the_locale_cannot_decode_does_not_stop_the_log(tmp_path):
    run = python_run(tmp_path, r"""
        import sys
        sys.stdout.buffer.write(b"bad \xff\xfe bytes\nafter\n")
        """)
    try:
        assert run.wait(60) == 0
        assert run.log().splitlines()[-1] == "after"
    finally:
        run.cleanup()


def test_progress_and_the_marker_reach_the_run_through_its_environment(tmp_path):
    run = python_run(tmp_path, """
        from ResponsePredictorLib import engine_status as status
        status.report_progress("features", 0.4, "Computing the radiomic features")
        print("computed")
        status.report_progress("cohort", 0.5, "1 of 2 cases done")
        status.write_ending(status.status_file(), status.Ending(status.EXIT_OK))
        """)
    try:
        assert run.wait(60) == 0, run.log()
        run.check()  # the marker says done
        assert run.progress() == Progress("cohort", 0.5, "1 of 2 cases done")
        assert run.last_line() == "1 of 2 cases done"
    finally:
        run.cleanup()


def test_the_launch_is_called_as_slicers_launch_console_process(tmp_path):
    calls = []

    def launch(args, useStartupEnvironment=True, updateEnvironment=None, cwd=None):
        calls.append((args, useStartupEnvironment, updateEnvironment, cwd))
        return process.launch_console_process(args, useStartupEnvironment, updateEnvironment, cwd)

    run = python_run(tmp_path, "print('hello')", launch=launch)
    try:
        run.wait(60)
    finally:
        run.cleanup()
    ((args, startup, environment, cwd),) = calls
    assert args[-1] == "print('hello')" and startup is True and cwd == str(run.folder)
    assert environment[PROGRESS_VARIABLE] == "1"
    assert environment[STATUS_FILE_VARIABLE] == str(run.folder / "status.json")
    assert str(Path(process.__file__).parents[2]) in environment["PYTHONPATH"].split(os.pathsep)


def test_cancel_ends_every_process_under_the_launcher(tmp_path, monkeypatch):
    monkeypatch.setattr(process, "END_GRACE_SECONDS", 1.0)
    run = python_run(tmp_path, f"""
        import signal, subprocess, time
        subprocess.Popen({SLEEPER!r})
        # A grandchild that ignores SIGTERM, as a stuck worker might: it must be killed.
        subprocess.Popen({SLEEPER!r}, preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
        print("started", flush=True)
        time.sleep(120)
        """)
    try:
        while len(processes := job_processes(run)) < 4:  # launcher, engine, two grandchildren
            assert run.poll() is None, run.log()
            time.sleep(0.05)
        run.cancel()
        assert_all_ended(processes)
        with pytest.raises(JobFailed, match="Cancelled") as failure:
            run.check()
        assert failure.value.kind == "cancelled"
    finally:
        run.cleanup()
    assert not run.folder.exists()


def test_python_exiting_ends_runs_never_cleaned_up(tmp_path):
    # Slicer closing with a run going: its process tree ends and its folder goes.
    script = f"""
        import time, psutil
        from ResponsePredictorLib.slicer_module.engine_run import EngineRun
        from ResponsePredictorLib.slicer_module.work_folders import new_run_folder
        folder = new_run_folder({str(tmp_path)!r})
        run = EngineRun([{[*THROUGH_LAUNCHER, *SLEEPER[1:]]!r}], folder=folder, log_path=folder / "log.txt")
        while len(psutil.Process(run.pid).children()) < 1:
            time.sleep(0.05)
        print(run.pid, psutil.Process(run.pid).children()[0].pid)
        """
    output = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                            timeout=60, check=True).stdout
    pids = [int(pid) for pid in output.split()]
    assert len(pids) == 2
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)
    assert list(tmp_path.iterdir()) == []


def test_stale_run_folders_are_removed_only_when_their_owner_has_ended(tmp_path):
    ours = work_folders.new_run_folder(tmp_path)  # this process: alive
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    started = int(psutil.Process(ended.pid).create_time())
    ended.wait()
    dead = tmp_path / f"{work_folders.PREFIX}{ended.pid}-{started}-abc123"
    (dead / "out").mkdir(parents=True)
    (dead / "image.nrrd").write_bytes(b"a copy of a patient's scan")
    # A live process id with another start time: the id was reused, the owner has ended.
    reused = tmp_path / f"{work_folders.PREFIX}{os.getpid()}-{started - 1000}-def456"
    reused.mkdir()
    other = tmp_path / "ResponsePredictor-run-notes"  # the prefix, but not a run folder's name
    other.mkdir()

    assert sorted(work_folders.remove_stale_run_folders(tmp_path)) == sorted([dead, reused])
    assert ours.is_dir() and other.is_dir() and not dead.exists() and not reused.exists()
    with pytest.raises(ValueError, match="not a ResponsePredictor run folder"):
        work_folders.remove_run_folder(other)


def test_a_folder_still_held_for_a_moment_is_removed_on_a_later_try(tmp_path, monkeypatch):
    folder = work_folders.new_run_folder(tmp_path)
    refusals = []
    remove = work_folders.shutil.rmtree

    def held_twice(path):  # Windows: a process that just ended still holds a file
        if len(refusals) < 2:
            refusals.append(path)
            raise PermissionError(13, "The process cannot access the file", str(path))
        remove(path)

    monkeypatch.setattr(work_folders.shutil, "rmtree", held_twice)
    monkeypatch.setattr(work_folders, "REMOVE_PAUSE_SECONDS", 0.01)
    assert work_folders.remove_run_folder(folder) and not folder.exists() and len(refusals) == 2


def test_cohort_command_lines_are_ones_the_engine_accepts(tmp_path):
    from ResponsePredictorLib.cli import build_parser

    args = build_parser().parse_args(cohort_arguments(tmp_path / "m.csv", tmp_path / "out", workers=2))
    assert (args.command, args.workers, args.scheduler, args.no_report, args.quiet) == ("run", 2, None, False, True)
    assert Path(args.model) == resource_path("Models", "nsclc_os_ct")  # "default", as a folder
    args = build_parser().parse_args(cohort_arguments(
        "m.csv", "out", scheduler="tcp://127.0.0.1:8786", heatmap="none", report=False, model="my_model"))
    assert (args.scheduler, args.workers, args.heatmap, args.no_report, args.model) == (
        "tcp://127.0.0.1:8786", None, "none", True, "my_model")
    assert build_parser().parse_args(cohort_arguments("m.csv", "out", model="none", heatmap="none")).model == "none"


@pytest.fixture
def cohort_manifest(tmp_path) -> Path:
    """Two cases with their masks: features only, a fraction of a second each."""
    sample = sample_case()
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("case,image,mask\n" + "".join(f"c{i},{sample.image},{sample.mask}\n" for i in (1, 2)))
    return manifest


CHEAP = {"model": "none", "heatmap": "none", "report": False}


def test_a_cohort_runs_in_the_background_to_its_report(cohort_manifest, tmp_path):
    out = tmp_path / "out"
    run = CohortRun.start(cohort_manifest, out, python=THROUGH_LAUNCHER, work_root=tmp_path / "work", workers=1,
                          **CHEAP)
    seen = []
    try:
        assert run.progress().fraction is None  # nothing reported yet
        assert run.wait(300, idle=lambda: seen.append(run.progress())) == 0, run.log()
        assert run.result() == out / "index.html" and (out / "index.html").is_file()
    finally:
        run.cleanup()
    cohort = [progress for progress in seen if progress.stage in ("load", "cohort")]
    assert cohort[0] == Progress("load", 0.0, "Loading the models; 2 case(s) to run")
    assert cohort[-1] == Progress("cohort", 1.0, "2 of 2 cases done")
    assert seen[-1].stage == "report"
    assert {progress.stage for progress in seen} <= {"start", "load", "cohort", "report"}  # not each case's stages
    # The log stays in the output folder; the work folder (the result marker) goes.
    (log,) = (out / "logs").iterdir()
    assert log == run.log_path and "Cohort report:" in log.read_text()
    assert not run.folder.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="a case that never ends is made of a named pipe")
def test_cancelling_a_cohort_ends_its_workers_and_keeps_the_cases_done(cohort_manifest, tmp_path):
    # Cases 3 and 4 read a named pipe that nobody writes: their workers wait until they are ended.
    for case in ("stuck3", "stuck4"):
        os.mkfifo(tmp_path / f"{case}.nrrd")
    with open(cohort_manifest, "a") as manifest:
        manifest.write(f"stuck3,{tmp_path / 'stuck3.nrrd'},{sample_case().mask}\n"
                       f"stuck4,{tmp_path / 'stuck4.nrrd'},{sample_case().mask}\n")
    out = tmp_path / "out"
    run = CohortRun.start(cohort_manifest, out, python=THROUGH_LAUNCHER, work_root=tmp_path / "work", workers=2,
                          **CHEAP)
    try:
        wait_for_engine(run, stage="cohort", timeout=120)
        while run.progress().fraction < 0.5:  # c1 and c2 done, the workers stuck on the others
            assert run.poll() is None, run.log()
            time.sleep(0.05)
        processes = job_processes(run)
        assert len(processes) >= 4  # the launcher, the engine and its two pool workers at least
        run.cancel()
        assert_all_ended(processes)
        with pytest.raises(JobFailed, match="Cancelled") as failure:
            run.result()
        assert failure.value.kind == "cancelled"
        assert str(out) in str(failure.value) and str(run.log_path) in str(failure.value)
    finally:
        run.cleanup()
    assert [read_record(out / "cases" / case)["status"] for case in ("c1", "c2")] == [DONE, DONE]
    assert not (out / "index.html").exists()  # the report step never started
    assert not run.folder.exists() and run.log_path.is_file()
