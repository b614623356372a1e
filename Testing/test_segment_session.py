"""The interactive segmentation session: ``responsepredictor segment-session`` and its messages
(session_protocol), in process with a network whose masks are known exactly, and as a real process with
a small synthetic model folder (``tiny_case``, also used by test_slicer_session.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_segment import SPEC, ThresholdNetwork, sphere_case

from ResponsePredictorLib.cli.segment_session_command import answer, serve
from ResponsePredictorLib.engine_status import PROGRESS_VARIABLE
from ResponsePredictorLib.segment.inference import Segmenter
from ResponsePredictorLib.segment.interactive import InteractiveSegmenter
from ResponsePredictorLib.segment.spec import ModelSpec
from ResponsePredictorLib.segment.validation import dice
from ResponsePredictorLib.session_protocol import (PROTOCOL, Answer, Prompts, Ready, Request, read_answer,
                                                   request_line)
from ResponsePredictorLib.volume import read_volume

READY = Ready("t", "0", True, True, "cpu", 0.0)


def request(request_id: int, mask: Path, tumor=(), not_tumor=(), box=None) -> str:
    return request_line(Request(request_id, Prompts(tuple(tumor), tuple(not_tumor), box), str(mask)))


def messages(lines: list[str]) -> list[Ready | Answer]:
    return [read_answer(line) for line in lines]


# --- the engine's answers, in process ---------------------------------------------------------


def test_requests_are_answered_in_order_and_a_refused_one_leaves_the_session_going(tmp_path):
    spec = ModelSpec.from_dict({**SPEC, "seed_channel": True, "negative_channel": True})
    segmenter = Segmenter(spec, ThresholdNetwork(), device="cpu")  # the image channel: the bright sphere
    image, truth, centre = sphere_case()
    inside = tuple(image.index_to_physical(centre))
    users = tmp_path / "users_mask.nrrd"
    users.write_bytes(b"the user's own file")
    said: list[str] = []
    serve(InteractiveSegmenter(segmenter, image), [
        request(1, tmp_path / "m1.nrrd", tumor=[inside]),
        request(2, tmp_path / "m2.nrrd", tumor=[inside], not_tumor=[inside]),  # one voxel, both kinds
        "not json\n",
        "\n",  # blank lines are skipped, not answered
        request(3, users, tumor=[inside]),
        request(4, tmp_path / "m4.nrrd", tumor=[inside]),
    ], said.append, READY)

    ready, first, both, garbage, existing, last = messages(said)
    assert ready == READY and len(said) == 6
    assert (first.id, first.error, first.mask) == (1, None, str(tmp_path / "m1.nrrd"))
    mask = read_volume(first.mask)
    assert mask.same_grid(image) and dice(mask.array, truth) > 0.97 and first.voxels == int(mask.array.sum())
    assert both.id == 2 and "same voxel" in both.error and not (tmp_path / "m2.nrrd").exists()
    assert garbage.id is None and "Not a JSON request" in garbage.error
    assert existing.id == 3 and "already exists" in existing.error
    assert users.read_bytes() == b"the user's own file"  # never replaced
    assert last.id == 4 and last.error is None and (tmp_path / "m4.nrrd").is_file()


def test_not_tumor_points_need_a_model_that_takes_them(tmp_path):
    image, _, centre = sphere_case()
    tumor, beside = tuple(image.index_to_physical(centre)), tuple(image.index_to_physical(centre + [8, 0, 0]))
    line = request(1, tmp_path / "m.nrrd", tumor=[tumor], not_tumor=[beside])
    without = Segmenter(ModelSpec.from_dict({**SPEC, "seed_channel": True}), ThresholdNetwork(), device="cpu")
    refused = answer(InteractiveSegmenter(without, image), line)
    assert "takes no not-tumor points" in refused.error and not (tmp_path / "m.nrrd").exists()
    spec = ModelSpec.from_dict({**SPEC, "seed_channel": True, "negative_channel": True})
    taken = answer(InteractiveSegmenter(Segmenter(spec, ThresholdNetwork(), device="cpu"), image), line)
    assert taken.error is None and Path(taken.mask).is_file()


class FailingNetwork(ThresholdNetwork):
    def forward(self, x):
        raise RuntimeError("out of memory")


def test_an_internal_failure_is_answered_and_the_next_request_still_served(tmp_path, capsys):
    image, _, centre = sphere_case()
    tumor = tuple(image.index_to_physical(centre))
    failed = answer(InteractiveSegmenter(Segmenter(ModelSpec.from_dict(SPEC), FailingNetwork(), device="cpu"), image),
                    request(1, tmp_path / "a.nrrd", tumor=[tumor]))
    assert failed.error == "internal error (RuntimeError): out of memory" and not (tmp_path / "a.nrrd").exists()
    assert "Traceback" in capsys.readouterr().err  # for the log
    served = answer(InteractiveSegmenter(Segmenter(ModelSpec.from_dict(SPEC), ThresholdNetwork(), device="cpu"), image),
                    request(2, tmp_path / "b.nrrd", tumor=[tumor]))
    assert served.error is None and Path(served.mask).is_file()


@pytest.mark.parametrize("line, message", [
    ('{"id": 1, "tumor": [[1, 2]], "mask": "/x.nrrd"}', "tumor point is 3 finite numbers"),
    ('{"id": 1, "tumor": [[1, 2, 3]], "box": [1, 2, 3], "mask": "/x.nrrd"}', "box is 6 finite numbers"),
    ('{"id": 1, "tumor": [[1, 2, 3]]}', "names the mask file"),
    ('{"id": "one", "tumor": [[1, 2, 3]], "mask": "/x.nrrd"}', "id is a whole number"),
    ('[1, 2, 3]', "is a JSON object"),
    ('{"id": 1, "not_tumor": [[1, 2, 3]], "mask": "/x.nrrd"}', "Show the tumor"),  # the engine's own check
    ('{"id": 1, "tumor": [[1, 2, 3]], "mask": "relative.nrrd"}', "not absolute"),
])
def test_bad_requests_say_what_is_wrong(line, message):
    image, _, _ = sphere_case()
    refused = answer(InteractiveSegmenter(Segmenter(ModelSpec.from_dict(SPEC), ThresholdNetwork(), device="cpu"), image), line)
    assert refused.error is not None and message in refused.error


def test_messages_read_back_as_written_and_other_lines_are_not_messages():
    from ResponsePredictorLib.session_protocol import answer_line, read_request

    sent = Request(7, Prompts(((-1.5, 2.0, 3.25),), ((4.0, 5.0, 6.0),), (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)), "/t/m.nrrd")
    assert read_request(request_line(sent)) == sent
    for message in (READY, Answer(7, "/t/m.nrrd", 12, 0.3, ("reaches the edge",)), Answer(None, error="bad")):
        assert read_answer(answer_line(message)) == message
    assert read_answer("RP-PROGRESS load 0.000 Loading the segmentation model") is None
    assert read_answer("UserWarning: something from a library") is None
    assert READY.protocol == PROTOCOL


# --- the real process, with a small model folder ----------------------------------------------------


def read_message(process: subprocess.Popen, timeout: float = 120) -> Ready | Answer:
    """The next session message on the process's output (progress lines and warnings skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, f"the session ended (exit {process.wait()})"
        message = read_answer(line)
        if message is not None:
            return message
    pytest.fail("no answer in time")


def test_the_session_process_answers_each_line_and_ends_with_its_input(tiny_case, tmp_path):
    model, scan, _ = tiny_case
    environment = {**os.environ, PROGRESS_VARIABLE: "1",  # progress lines share the output with the answers
                   "PYTHONPATH": str(Path(__file__).parents[1] / "ResponsePredictor")}
    process = subprocess.Popen([sys.executable, "-m", "ResponsePredictorLib.cli", "segment-session", str(scan),
                                "--model", str(model), "--device", "cpu", "--offline"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=environment)
    try:
        ready = read_message(process)
        assert isinstance(ready, Ready) and (ready.model, ready.not_tumor_points, ready.protocol) == ("tiny", True, PROTOCOL)
        for line in (request(1, tmp_path / "m1.nrrd", tumor=[(20.0, 20.0, 15.0)], not_tumor=[(24.0, 20.0, 15.0)]),
                     request(2, tmp_path / "m2.nrrd", tumor=[(200.0, 20.0, 15.0)])):
            process.stdin.write(line + "\n")
        process.stdin.flush()
        done, refused = read_message(process), read_message(process)
        assert (done.id, done.error) == (1, None)
        assert read_volume(done.mask).same_grid(read_volume(scan))
        assert refused.id == 2 and "outside the image" in refused.error
        assert process.poll() is None  # still there for the next request
        process.stdin.close()
        assert process.wait(60) == 0
    finally:
        process.kill()
        process.wait()
