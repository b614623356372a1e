"""The Slicer module's background processes outside Slicer (engine_run, process, work_folders,
cohort_run): started through a stand-in for Slicer's ``PythonSlicer`` launcher, their output
drained into the log, their whole process tree ended on cancel, timeout and exit, their work
folders removed (also those a crashed Slicer left), and cohorts run in the background."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from slicer_run_helpers import THROUGH_LAUNCHER, RecordingLaunch, assert_cancel_ends_them, assert_failed

from ResponsePredictorLib.engine_status import PROGRESS_VARIABLE, STATUS_FILE_VARIABLE, Progress
from ResponsePredictorLib.pipeline import DONE, read_record
from ResponsePredictorLib.resources import resource_path, sample_case
from ResponsePredictorLib.slicer_module import process, work_folders
from ResponsePredictorLib.slicer_module.cohort_run import CohortRun, cohort_arguments
from ResponsePredictorLib.slicer_module.engine_run import EngineRun

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
# The engine's last act when it ends done.
WRITE_DONE = "from ResponsePredictorLib import engine_status as s; s.write_ending(s.status_file(), s.Ending(0))"


def python_run(tmp_path: Path, *codes: str, **options) -> EngineRun:
    """Each of ``codes`` run in turn by the launcher stand-in's python, as the engine's commands would be."""
    folder = work_folders.new_run_folder(tmp_path)
    return EngineRun([[*THROUGH_LAUNCHER, "-c", textwrap.dedent(code)] for code in codes], folder=folder,
                     log_path=folder / "log.txt", **options)


def is_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_run_that_prints_a_lot_does_not_block_and_its_log_has_it_all(tmp_path):
    run = python_run(tmp_path, """
        for i in range(200_000):  # 10 MB: far more than a pipe holds
            print(f"line {i} " + "x" * 40)
        """)
    try:
        assert run.wait(60) == 0
        lines = run.log().splitlines()
        assert len(lines) == 200_000 and lines[-1].startswith("line 199999 ")
        # Exit code 0 but no result marker: not taken as done (the marker is written by the engine's CLI).
        assert_failed(run, "crashed", "stopped without finishing")
    finally:
        run.cleanup()


def test_output_that_is_not_utf8_does_not_stop_the_log(tmp_path):
    run = python_run(tmp_path, r"""
        import sys
        sys.stdout.buffer.write(b"bad \xff\xfe bytes\nafter\n")
        """)
    try:
        assert run.wait(60) == 0
        assert run.log().splitlines()[-1] == "after"
    finally:
        run.cleanup()


def test_the_engines_words_reach_the_log_as_written_whatever_the_locale(tmp_path):
    def windows_locale(args, useStartupEnvironment=True, updateEnvironment=None, cwd=None):
        # Slicer's launchConsoleProcess reads the pipe in the locale's encoding: cp1252 on many Windows.
        return subprocess.Popen(args, env={**os.environ, **updateEnvironment}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, encoding="cp1252", cwd=cwd)

    run = python_run(tmp_path, """
        import sys
        print("Tumör: 12 µm, Gray’s")
        print("after", file=sys.stderr)
        """, launch=windows_locale)
    try:
        assert run.wait(60) == 0
        assert run.log().splitlines() == ["Tumör: 12 µm, Gray’s", "after"]
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
    finally:
        run.cleanup()


def test_the_launch_is_called_as_slicers_launch_console_process(tmp_path):
    launch = RecordingLaunch()
    run = python_run(tmp_path, "print('hello')", launch=launch)
    try:
        run.wait(60)
    finally:
        run.cleanup()
    (launched,) = launch.launched
    # Not in the run folder: Windows cannot remove a folder that a process has as its working folder.
    assert launched.args[-1] == "print('hello')" and launched.cwd == str(tmp_path)
    environment = launched.environment
    assert environment[PROGRESS_VARIABLE] == "1"
    assert environment[STATUS_FILE_VARIABLE] == str(run.folder / "status.json")
    assert str(Path(process.__file__).parents[2]) in environment["PYTHONPATH"].split(os.pathsep)
    # Progress as it happens, and the engine's words in the encoding the log is read in.
    assert environment["PYTHONUNBUFFERED"] == "1" and environment["PYTHONIOENCODING"] == "utf-8"


def test_cancel_returns_at_once_and_the_run_ends_with_every_process_under_the_launcher(tmp_path, monkeypatch):
    monkeypatch.setattr(process, "END_GRACE_SECONDS", 1.5)
    launch = RecordingLaunch()
    run = python_run(tmp_path, f"""
        import signal, subprocess, time
        subprocess.Popen({SLEEPER!r})
        # A grandchild that ignores SIGTERM, as a stuck worker might: it must be killed.
        subprocess.Popen({SLEEPER!r}, preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # so does the engine
        print("started", flush=True)
        time.sleep(120)
        """, launch=launch)
    try:
        while len(processes := launch.processes()) < 4:  # launcher, engine, two grandchildren
            assert run.poll() is None, run.log()
            time.sleep(0.05)
        started = time.monotonic()
        run.cancel()
        assert time.monotonic() - started < 0.5  # not the grace: the panel goes on meanwhile
        assert run.poll() is None  # still ending: the grace is not over
        assert_cancel_ends_them(run, processes)
    finally:
        run.cleanup()
    assert not run.folder.exists()


def test_workers_a_pool_starts_anew_while_it_is_ended_are_ended_too(tmp_path, monkeypatch):
    monkeypatch.setattr(process, "END_GRACE_SECONDS", 1.0)
    pids = tmp_path / "workers.txt"
    run = python_run(tmp_path, f"""
        import signal, subprocess
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:  # as a process pool does: a worker that ends is replaced (the worker takes SIGTERM)
            worker = subprocess.Popen({SLEEPER!r}, preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))
            with open({str(pids)!r}, "a") as pids:
                print(worker.pid, file=pids)
            worker.wait()
        """)
    try:
        while not pids.exists():
            time.sleep(0.05)
        run.cancel()
        run.wait(60)
        workers = [int(pid) for pid in pids.read_text().split()]
        assert len(workers) >= 2 and all(is_gone(pid) for pid in workers)  # the first was replaced, then ended
    finally:
        run.cleanup()


def test_processes_left_behind_by_an_engine_that_ended_are_ended_at_cleanup(tmp_path):
    # The engine ends by itself, leaving a process that no longer shows under the launcher.
    run = python_run(tmp_path, f"""
        import subprocess, time
        print(subprocess.Popen({SLEEPER!r}, stdout=subprocess.DEVNULL).pid, flush=True)
        time.sleep(1)  # long enough for the run to see it
        """)
    try:
        assert run.wait(60) == 0
        orphan = int(run.log().split()[0])
        assert not is_gone(orphan)
    finally:
        run.cleanup()
    assert is_gone(orphan)


def test_cancel_stops_a_run_between_its_commands_and_keeps_a_finished_runs_result(tmp_path):
    launch = RecordingLaunch()
    run = python_run(tmp_path, WRITE_DONE, "print('the report')", launch=launch)
    try:
        psutil.Process(launch.launched[0].pid).wait(60)  # the first command has ended done; nobody polled
        run.cancel()
        run.wait(60)
        assert len(launch.launched) == 1  # the next command never started
        assert_failed(run, "cancelled")
    finally:
        run.cleanup()

    run = python_run(tmp_path, WRITE_DONE, launch=launch)
    try:
        psutil.Process(launch.launched[-1].pid).wait(60)
        run.cancel()  # too late: it ended by itself
        assert run.wait(60) == 0 and not run.cancelled
        run.check()
    finally:
        run.cleanup()


def open_paths() -> list[str]:
    """What this process has open, files since deleted included (which psutil leaves out)."""
    paths = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # the listing's own, closed by now
            pass
    return paths


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="the open files are read from /proc")
def test_the_log_is_closed_at_cleanup_even_while_a_process_that_escaped_holds_its_pipe(tmp_path, monkeypatch):
    monkeypatch.setattr(process, "DRAIN_SECONDS", 0.5)
    # sh starts sleep in the background and exits at once: sleep leaves the tree holding the pipe.
    run = python_run(tmp_path, """
        import subprocess
        subprocess.run(["sh", "-c", "sleep 60 & echo $!"])
        """)
    try:
        assert run.wait(60) == 0
        escaped = int(run.log().split()[0])
        run.cleanup()
        # Windows refuses to remove an open file: the folder could not go while the log stayed open.
        assert not [path for path in open_paths() if path.startswith(str(run.log_path))]
        assert not run.folder.exists()
    finally:
        psutil.Process(escaped).kill()


def test_python_exiting_ends_runs_never_cleaned_up(tmp_path):
    # Slicer closing with a run going: its process tree ends and its folder goes.
    script = f"""
        import time, psutil
        from ResponsePredictorLib.slicer_module.engine_run import EngineRun
        from ResponsePredictorLib.slicer_module.work_folders import new_run_folder
        from slicer_run_helpers import RecordingLaunch
        folder = new_run_folder({str(tmp_path)!r})
        launch = RecordingLaunch()
        run = EngineRun([{[*THROUGH_LAUNCHER, *SLEEPER[1:]]!r}], folder=folder, log_path=folder / "log.txt",
                        launch=launch)
        while len(launch.processes()) < 2:
            time.sleep(0.05)
        print(*(process.pid for process in launch.processes()))
        """
    output = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                            timeout=60, check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}).stdout
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


def test_a_folder_this_process_could_not_remove_is_removed_at_the_next_run(tmp_path, monkeypatch, caplog):
    # Windows: a file in the folder is held beyond the attempts of the run's cleanup.
    monkeypatch.setattr(work_folders, "REMOVE_PAUSE_SECONDS", 0.01)
    remove = work_folders.shutil.rmtree

    def held(path):
        raise PermissionError(13, "The process cannot access the file", str(path))

    monkeypatch.setattr(work_folders.shutil, "rmtree", held)
    run = python_run(tmp_path, "pass")
    run.wait(60)
    with caplog.at_level(logging.WARNING):
        run.cleanup()
    assert run.folder.exists() and "could not be removed yet" in caplog.text
    monkeypatch.setattr(work_folders.shutil, "rmtree", remove)  # the file is let go of
    # Its owner, this process, lives: only remembering the folder gets it removed while Slicer runs.
    later = python_run(tmp_path, "pass")
    try:
        assert not run.folder.exists()
    finally:
        later.cleanup()


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
    assert (args.scheduler, args.workers, args.heatmap, args.no_report) == ("tcp://127.0.0.1:8786", None, "none", True)
    assert args.model == str(Path.cwd() / "my_model")  # absolute: the engine runs in another folder
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
    launch = RecordingLaunch()
    run = CohortRun.start(cohort_manifest, out, python=THROUGH_LAUNCHER, work_root=tmp_path / "work", workers=2,
                          launch=launch, **CHEAP)
    try:
        launch.wait_for_engine(run, stage="cohort", timeout=120)
        while run.progress().fraction < 0.5:  # c1 and c2 done, the workers stuck on the others
            assert run.poll() is None, run.log()
            time.sleep(0.05)
        processes = launch.processes()
        assert len(processes) >= 4  # the launcher, the engine and its two pool workers at least
        failure = assert_cancel_ends_them(run, processes)
        assert str(out) in str(failure) and str(run.log_path) in str(failure)
    finally:
        run.cleanup()
    assert [read_record(out / "cases" / case)["status"] for case in ("c1", "c2")] == [DONE, DONE]
    assert not (out / "index.html").exists()  # the report step never started
    assert not run.folder.exists() and run.log_path.is_file()
