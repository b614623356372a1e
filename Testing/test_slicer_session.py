"""The interactive segmentation session as the Slicer module drives it (slicer_module/segment_session.py):
through the stand-in for Slicer's ``PythonSlicer`` launcher, with the real engine and a small model
folder, or with the session's stand-in engine (session_engine_standin.py) where only the process matters."""

from __future__ import annotations

import time
from pathlib import Path

from slicer_run_helpers import THROUGH_LAUNCHER, RecordingLaunch, assert_all_ended, assert_failed

from ResponsePredictorLib.session_protocol import Prompts
from ResponsePredictorLib.slicer_module.segment_session import SegmentSession

STANDIN_ENGINE = [*THROUGH_LAUNCHER, str(Path(__file__).with_name("session_engine_standin.py"))]


def test_the_module_sends_only_the_latest_points_and_ends_the_whole_process_tree(tiny_case, tmp_path):
    model, _, image = tiny_case
    launch = RecordingLaunch(with_input=True)
    session = SegmentSession.start(image, model=str(model), device="cpu", python=THROUGH_LAUNCHER, launch=launch,
                                   work_root=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while session.ready is None:
            assert session.poll() is None and time.monotonic() < deadline, session.log()
            session.receive()
            time.sleep(0.05)
        assert session.ready.model == "tiny" and not session.busy
        first, between, latest = (Prompts(((20.0, 20.0, float(z)),)) for z in (14, 15, 16))
        for prompts in (first, between, latest):  # the first is sent; the others wait, the latest replacing
            session.submit(prompts)
        refined = []
        while len(refined) < 2 or session.busy:
            assert session.poll() is None and time.monotonic() < deadline, session.log()
            refined += session.receive()
            time.sleep(0.02)
        assert [each.prompts for each in refined] == [first, latest]
        assert all(each.answer.error is None and Path(each.answer.mask).parent == session.folder for each in refined)
        assert session.log().count("RP-SESSION {\"event\": \"mask\"") == 2  # nothing else was sent
        processes = launch.processes()
        assert len(processes) == 2  # the launcher and the engine under it
        session.close()
        session.wait(30)
        assert_all_ended(processes)
    finally:
        session.cleanup()
    assert not session.folder.exists()


def test_a_killed_session_says_it_stopped(tmp_path, sample):
    launch = RecordingLaunch(with_input=True)
    session = SegmentSession.start(sample[0], python=STANDIN_ENGINE, launch=launch, work_root=tmp_path)
    try:
        launch.wait_for_engine(session).kill()  # as the system does to a process out of memory
        session.wait(30)
        failure = assert_failed(session, "crashed", "The interactive segmentation session stopped")
        assert "crashed" in str(failure)
    finally:
        session.cleanup()
