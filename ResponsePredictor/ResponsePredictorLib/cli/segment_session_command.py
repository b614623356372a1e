"""``responsepredictor segment-session IMAGE``: interactive segmentation, one JSON request per line.

A process per click cannot answer in under a second: importing torch and MONAI and loading the model
take seconds. This one loads them and the scan once, says it is ready, then answers each request on
stdin (tumor points, not-tumor points, a box, where to write the mask) with one line on stdout, until
its input ends. The messages are ``session_protocol``'s. It remembers the masks it made, so that a
model that is shown the mask a click corrects gets it in one pass (``segment.interactive``). A request the engine refuses (``InputError``:
a point outside the image or outside what the network sees, a tumor and a not-tumor point on one
voxel...) is answered with its message, and the session goes on.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..engine_status import report_progress
from ..errors import InputError
from ..session_protocol import Answer, Ready, RequestError, answer_line, read_request
from ..volume import Volume, read_volume, write_volume

if TYPE_CHECKING:
    from ..segment.inference import Segmenter
    from ..segment.interactive import InteractiveSegmenter


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "segment-session",
        help="interactive segmentation: load once, then answer tumor / not-tumor points, one JSON line each",
        description="Load the segmentation model and the scan once, print a ready line, then read one JSON request "
        "per line on stdin (tumor points, not-tumor points, an optional box, in LPS mm, and the mask file to "
        "write) and answer each with one line on stdout, prefixed RP-SESSION. End of input ends the session. "
        "The messages are described in ResponsePredictorLib/session_protocol.py.",
    )
    parser.add_argument("image", type=Path, help="image file (NRRD, NIfTI, MHA) or DICOM series folder")
    parser.add_argument("--model", help="catalog id, model folder, MONAI bundle or weights file (default: the catalog's default)")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    parser.add_argument("--series", help="DICOM SeriesInstanceUID when the image folder holds several series")
    parser.add_argument("--offline", action="store_true", help="never download model weights")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    clock = time.perf_counter()
    report_progress("load", 0.0, "Loading the segmentation model")
    # torch and MONAI load here, not when the command line starts.
    from ..catalog import load_model
    from ..segment.inference import Segmenter
    from ..segment.interactive import InteractiveSegmenter

    model = load_model(args.model, device="cpu", allow_download=not args.offline)
    segmenter = Segmenter(model.spec, model.network, device=args.device)
    report_progress("read", 0.6, "Reading the scan")
    image = read_volume(args.image, series_uid=args.series)
    report_progress("warm-up", 0.8, "Preparing the network")
    warm_up(segmenter, image)
    spec = model.spec
    ready = Ready(spec.id, spec.version, spec.negative_channel, spec.box_channel, str(segmenter.device),
                  round(time.perf_counter() - clock, 3))
    serve(InteractiveSegmenter(segmenter, image), iter(sys.stdin.readline, ""), lambda line: print(line, flush=True), ready)


def warm_up(segmenter: Segmenter, image: Volume) -> None:
    """One segmentation at the scan's centre, thrown away: the first pass through the network (and
    MONAI's transforms) builds what later ones reuse, and would otherwise delay the user's first click."""
    centre = image.index_to_physical((np.asarray(image.size) - 1) / 2)
    try:
        segmenter.segment_roi(image, seed=tuple(float(c) for c in centre))
    except InputError:  # a model that cannot segment from the centre alone: the first request warms it
        pass


def serve(interactive: InteractiveSegmenter, lines: Iterable[str], say: Callable[[str], None], ready: Ready) -> None:
    """Say ``ready``, then answer each request line until ``lines`` end."""
    say(answer_line(ready))
    for line in lines:
        if line.strip():
            say(answer_line(answer(interactive, line)))


def answer(interactive: InteractiveSegmenter, line: str) -> Answer:
    """One request done: the mask written where it asks, or the reason it was refused."""
    clock = time.perf_counter()
    try:
        request = read_request(line)
    except RequestError as error:
        return Answer(error.request_id, error=str(error))
    prompts = request.prompts
    try:
        result = interactive.segment(prompts)
        write_new_file(result.mask, Path(request.mask))
    except InputError as error:
        return Answer(request.id, error=str(error))
    except Exception as error:  # noqa: BLE001 - an internal failure (out of memory...) must not end the session
        traceback.print_exc(file=sys.stderr)
        return Answer(request.id, error=f"internal error ({type(error).__name__}): {error}")
    return Answer(request.id, request.mask, int(result.mask.array.sum()), round(time.perf_counter() - clock, 4),
                  tuple(result.warnings))


def write_new_file(volume: Volume, path: Path) -> None:
    """Write ``volume`` to ``path``, which must not exist yet: a session never replaces a file, the
    user's or its own. The name is claimed first (created exclusively), so that no other writer can
    take it in between; the image then replaces the empty claim atomically."""
    try:
        with open(path, "xb"):
            pass
    except FileExistsError:
        raise InputError(f"{path} already exists; the session writes only new files and never replaces one. "
                         "Name a new file.") from None
    except OSError as error:
        raise InputError(f"Cannot write the mask {path}: {error.strerror or error}.") from None
    try:
        write_volume(volume, path)
    except BaseException:
        path.unlink(missing_ok=True)  # the claim was this session's own empty file
        raise
