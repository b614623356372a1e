"""A stand-in for ``responsepredictor segment-session`` in the panel's tests, that starts in a moment
(no torch): run as the Slicer module runs the engine,

    python session_engine_standin.py -m ResponsePredictorLib.cli segment-session IMAGE [--model M] [--device D]

it behaves as the engine does where the module depends on it: ``session_protocol``'s ready line, one
answer per request in order, a mask written only where asked and only as a new file, a refused request
answered with the engine's own prompt checks (``segment.prompts``) while the session goes on, end of
input ending it with the result marker written. Its mask is known exactly (``ball_mask``): a ball of
``RADIUS_MM`` around each tumor point, less one around each not-tumor point. Each request is echoed
to stderr ("request <line>"), so that a test reads in the log what was sent.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

RADIUS_MM = 4.0
MODEL = "standin"


def ball_mask(image, tumor, not_tumor) -> np.ndarray:
    """uint8 on the image's grid (k, j, i): within RADIUS_MM of a tumor point and not of a not-tumor point."""
    k, j, i = np.indices(image.shape)
    voxels = np.stack([i, j, k], axis=-1).reshape(-1, 3).astype(float)
    centres = voxels @ (np.reshape(image.direction, (3, 3)) * np.asarray(image.spacing)).T + np.asarray(image.origin)

    def near(points) -> np.ndarray:
        found = np.zeros(len(centres), bool)
        for point in points:
            found |= np.linalg.norm(centres - np.asarray(point), axis=1) <= RADIUS_MM
        return found

    return (near(tumor) & ~near(not_tumor)).reshape(image.shape).astype(np.uint8)


def main(argv: list[str]) -> None:
    from ResponsePredictorLib import engine_status
    from ResponsePredictorLib.cli.segment_session_command import write_new_file
    from ResponsePredictorLib.errors import InputError
    from ResponsePredictorLib.session_protocol import Answer, Ready, RequestError, answer_line, read_request
    from ResponsePredictorLib.volume import read_volume

    arguments = argv[argv.index("segment-session") + 1:]
    image = read_volume(arguments[0])
    print(answer_line(Ready(MODEL, "0", True, True, "cpu", 0.0)), flush=True)
    for line in iter(sys.stdin.readline, ""):
        if not line.strip():
            continue
        print(f"request {line.strip()}", file=sys.stderr, flush=True)
        try:
            request = read_request(line)
        except RequestError as error:
            print(answer_line(Answer(error.request_id, error=str(error))), flush=True)
            continue
        prompts = request.prompts
        try:
            prompts.check(image)
            mask = image.with_array(ball_mask(image, prompts.seeds, prompts.negatives))
            write_new_file(mask, Path(request.mask))
        except InputError as error:
            print(answer_line(Answer(request.id, error=str(error))), flush=True)
            continue
        print(answer_line(Answer(request.id, request.mask, int(mask.array.sum()), 0.01)), flush=True)
    engine_status.write_ending(engine_status.status_file(), engine_status.Ending(engine_status.EXIT_OK))


if __name__ == "__main__":
    main(sys.argv[1:])
