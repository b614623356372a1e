"""Interactive segmentation benchmark: one refinement's round trip through the session process, on 2 CPU threads.

    python benchmarks/bench_interactive_session.py [--clicks 20]

The Slicer module refines the tumor at each point through ``responsepredictor segment-session``, started
once per scan as the module starts it (``segment_session.SegmentSession``: a child process, requests
on its stdin, one answer line each, the mask written to a file). Measured on the shipped sample case
(NSCLC-Radiogenomics 070, 92 mm crop) and, when the public data folder has it (``$RP_DATA_DIR``,
default ``../shared/data``), on pyradiomics' full CT lung2 (512 x 512 x 61), with the default
segmentation model:

- the session's start until it says it is ready (torch and MONAI imported, model and scan loaded,
  one warm-up segmentation);
- ``--clicks`` refinements, round trip: from writing the request to reading the answer, the mask
  written; then the panel's read of the mask file back. The clicks are the simulated user's of the
  engine's validation (``segment.corrective_clicks``): the first at the tumor's centre, each next one
  in the largest region where the mask and the expert's disagree, a tumor point in missed tumor or a
  not-tumor point in what was wrongly added. A model without a not-tumor channel (such as 1.5.1,
  the default before 1.6.1) gets tumor points only: the largest missed region, or a random tumor voxel when none
  is missed;
- its peer in the same run, interleaved step by step: the bare ``Segmenter.segment_roi`` call with the
  same points in this process (warmed up first), and the mask the newest point corrects (the
  session's last answer), the work the session does minus the process boundary and the mask file. Each timed call, of either, comes after a pause (``PAUSE_S``), as a
  user's click comes after a pause, and which of the two goes first alternates.

The goal: every refinement under 1 s. Threads: ``$RP_BENCH_THREADS`` (default 2), for the session
process and the peer alike. Results: ``benchmarks/results/interactive_session.{json,md}``.
"""

from __future__ import annotations

from bench_threads import THREADS  # first: it caps the thread pools before numpy and torch load

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "ResponsePredictor"))

from ResponsePredictorLib.catalog import load_model  # noqa: E402
from ResponsePredictorLib.errors import InputError  # noqa: E402
from ResponsePredictorLib.resources import sample_case  # noqa: E402
from ResponsePredictorLib.segment.corrective_clicks import next_click  # noqa: E402
from ResponsePredictorLib.segment.inference import Segmenter  # noqa: E402
from ResponsePredictorLib.segment.validation import central_seed, dice, random_clicks  # noqa: E402
from ResponsePredictorLib.session_protocol import Prompts  # noqa: E402
from ResponsePredictorLib.slicer_module.segment_session import SegmentSession  # noqa: E402
from ResponsePredictorLib.volume import Volume, read_mask, read_volume  # noqa: E402
from revision import git_revision  # noqa: E402

DATA = Path(os.environ.get("RP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
RESULTS = REPO_ROOT / "benchmarks" / "results"
GOAL_S = 1.0
READY_TIMEOUT_S = 600
# Before each timed call, of the session or of its peer: a user's pause between clicks, which also lets
# the other process's OpenMP threads stop spinning, so that neither call is slowed by the other's. Its
# length is drawn at random (seeded), so that the calls do not keep step with a periodic load on the machine.
PAUSE_S = (0.5, 1.5)
PAUSES = np.random.default_rng(0)
POLL_S = 0.002  # how often the answer is looked for: the round trip's resolution


def cases() -> list[tuple[str, Volume, Volume]]:
    """(name, scan, expert mask): the shipped sample, and lung2 when the data folder has it."""
    sample = sample_case()
    image = read_volume(sample.image)
    found = [(f"{sample.case} (shipped sample, {image.size} voxels)", image, read_mask(sample.mask, image))]
    lung2 = DATA / "pyradiomics" / "lung2_image.nrrd"
    if lung2.is_file():
        image = read_volume(lung2)
        found.append((f"lung2 (pyradiomics full CT, {image.size} voxels)", image,
                      read_mask(DATA / "pyradiomics" / "lung2_label.nrrd", image)))
    else:
        print(f"public data not found at {lung2} (set RP_DATA_DIR): lung2 skipped, the sample case only")
    return found


def next_point(mask: np.ndarray, truth: Volume, negatives: bool, clicked: set, seed: int) -> tuple[tuple, bool]:
    """The simulated user's next click (LPS mm, True for a tumor point), within what ``negatives`` allows."""
    spacing = tuple(reversed(truth.spacing))  # the arrays' axis order
    expert = truth.array > 0
    click = next_click(mask, expert, spacing) if negatives else next_click(mask & expert, expert, spacing)
    if click is not None and click.index not in clicked:
        clicked.add(click.index)
        return tuple(float(c) for c in truth.index_to_physical(click.index[::-1])), click.positive
    point = random_clicks(truth, 1, seed)[0]  # nothing (new) to correct: another point on the tumor
    return point, True


def wait_ready(session: SegmentSession) -> float:
    started = time.monotonic()
    while session.ready is None:
        if session.poll() is not None or time.monotonic() - started > READY_TIMEOUT_S:
            sys.exit(f"the session did not start:\n{session.log()}")
        session.receive()
        time.sleep(0.005)
    return time.monotonic() - started


def refine(session: SegmentSession, prompts: Prompts):
    time.sleep(PAUSES.uniform(*PAUSE_S))
    session.submit(prompts)
    while True:
        refined = session.receive()
        if refined:
            return refined[0]
        if session.poll() is not None:
            sys.exit(f"the session stopped:\n{session.log()}")
        time.sleep(POLL_S)


def bare_call(segmenter: Segmenter, image: Volume, prompts: Prompts, previous: Volume | None) -> float:
    time.sleep(PAUSES.uniform(*PAUSE_S))
    clock = time.perf_counter()
    segmenter.segment_roi(image, seed=prompts.seeds, negative=prompts.negatives or None, previous=previous)
    return time.perf_counter() - clock


def run_case(name: str, image: Volume, truth: Volume, segmenter: Segmenter, clicks: int) -> dict:
    negatives = segmenter.spec.negative_channel
    tumor, not_tumor, clicked, steps = [central_seed(truth)], [], set(), []
    last = tumor  # the list the newest point went into
    previous = None  # the mask the newest point corrects, as the session remembers it
    with tempfile.TemporaryDirectory() as work_root:
        clock = time.monotonic()
        session = SegmentSession.start(image, device="cpu", work_root=work_root)
        start_s = time.monotonic() - clock
        ready_s = start_s + wait_ready(session)
        segmenter.segment_roi(image, seed=tumor)  # the peer's warm-up
        try:
            for step in range(clicks):
                prompts = Prompts(tuple(tumor), tuple(not_tumor))
                # Which of the two goes first alternates, so that a change in the machine's load between
                # them favours neither.
                bare_s = bare_call(segmenter, image, prompts, previous) if step % 2 else None
                refined = refine(session, prompts)
                answer = refined.answer
                if answer.error is not None:  # a point the engine refuses (outside what it sees): dropped
                    if len(tumor) + len(not_tumor) == 1:
                        sys.exit(f"the engine refused the first click: {answer.error}")
                    print(f"  step {step + 1}: refused ({answer.error}); the point is dropped")
                    last.pop()
                    continue
                clock = time.perf_counter()
                answered = read_volume(answer.mask)
                mask = answered.array > 0
                read_s = time.perf_counter() - clock
                Path(answer.mask).unlink()
                if bare_s is None:
                    bare_s = bare_call(segmenter, image, prompts, previous)
                previous = answered
                steps.append({"tumor_points": len(prompts.seeds), "not_tumor_points": len(prompts.negatives),
                              "round_trip_s": refined.round_trip_seconds, "engine_s": answer.seconds,
                              "read_back_s": read_s, "bare_segment_roi_s": bare_s,
                              "dice": dice(mask, truth.array > 0)})
                print(f"  step {step + 1}: {len(prompts.seeds)} tumor + {len(prompts.negatives)} not-tumor points, "
                      f"round trip {refined.round_trip_seconds:.3f} s, bare {bare_s:.3f} s, Dice {steps[-1]['dice']:.3f}")
                point, positive = next_point(mask, truth, negatives, clicked, seed=step)
                last = tumor if positive else not_tumor
                last.append(point)
        finally:
            session.close()
            session.wait(30)
            session.cleanup()
    round_trips = [s["round_trip_s"] for s in steps]
    bare = [s["bare_segment_roi_s"] for s in steps]
    return {
        "case": name, "start_s": start_s, "ready_s": ready_s, "ready_reported_s": session.ready.seconds,
        "refinements": len(steps),
        "round_trip_median_s": float(np.median(round_trips)), "round_trip_max_s": float(np.max(round_trips)),
        "bare_median_s": float(np.median(bare)), "bare_max_s": float(np.max(bare)),
        "overhead_median_s": float(np.median(np.subtract(round_trips, bare))),
        "process_boundary_median_s": float(np.median([s["round_trip_s"] - s["engine_s"] for s in steps])),
        "read_back_median_s": float(np.median([s["read_back_s"] for s in steps])),
        "under_goal": bool(np.max(round_trips) < GOAL_S), "steps": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=20, help="refinements per case (default 20)")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    try:
        model = load_model(allow_download=False)
    except InputError as error:
        sys.exit(f"the default segmentation model is not here: {error}")
    segmenter = Segmenter(model.spec, model.network, device="cpu")
    load_start = os.getloadavg()
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {THREADS} threads; "
                   f"{platform.platform()}; Python {platform.python_version()}",
        "repository": git_revision(),
        "model": f"{model.spec.id} {model.spec.version}", "not_tumor_points": model.spec.negative_channel,
        "precision": "bfloat16 mixed" if segmenter.bfloat16 else "float32", "goal_s": GOAL_S,
        "cases": [],
    }
    for name, image, truth in cases():
        print(name)
        results["cases"].append(run_case(name, image, truth, segmenter, args.clicks))
    results["load_average"] = {"start": [round(v, 2) for v in load_start], "end": [round(v, 2) for v in os.getloadavg()]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "interactive_session.json").write_text(json.dumps(results, indent=2))
    report = markdown(results)
    (RESULTS / "interactive_session.md").write_text(report)
    print(report)


def markdown(results: dict) -> str:
    points = "tumor and not-tumor points" if results["not_tumor_points"] else "tumor points only (the model takes no not-tumor points)"
    lines = [
        "# Interactive segmentation benchmark (session process, CPU)", "",
        f"Written by `benchmarks/bench_interactive_session.py` on {results['date']}; rerun it to refresh.", "",
        f"- Machine: {results['machine']}; repository {results['repository']}",
        f"- Load average (1, 5, 15 min) at start: {results['load_average']['start']}; at end: {results['load_average']['end']}",
        f"- Model: {results['model']}, {results['precision']}; the simulated user's corrective clicks, {points}",
        "", "| case | session ready after | refinements | round trip median / max | under 1 s | peer: bare "
        "`segment_roi` median / max | round trip - bare (median) | round trip - time in the engine (median) "
        "| reading the mask back (median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in results["cases"]:
        lines.append(f"| {case['case']} | {case['ready_s']:.1f} s | {case['refinements']} | "
                     f"{case['round_trip_median_s']:.3f} / {case['round_trip_max_s']:.3f} s | "
                     f"{'yes' if case['under_goal'] else 'no'} | {case['bare_median_s']:.3f} / {case['bare_max_s']:.3f} s "
                     f"| {case['overhead_median_s']:+.3f} s | {case['process_boundary_median_s']:.3f} s "
                     f"| {case['read_back_median_s']:.3f} s |")
    for case in results["cases"]:
        lines += ["", f"## {case['case']}", "", "| step | tumor points | not-tumor points | round trip | in the engine "
                  "| bare `segment_roi` | Dice with the expert's mask |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {index} | {s['tumor_points']} | {s['not_tumor_points']} | {s['round_trip_s']:.3f} s | "
                  f"{s['engine_s']:.3f} s | {s['bare_segment_roi_s']:.3f} s | {s['dice']:.3f} |"
                  for index, s in enumerate(case["steps"], 1)]
    lines += ["", f"Each timed call, of the session or of its peer, comes after a pause of {PAUSE_S[0]:g} to "
              f"{PAUSE_S[1]:g} s (drawn at random), as a user's click does; which of the two goes first alternates "
              "from step to step. The round trip runs from writing the request on the session's stdin to reading "
              "its answer line, the mask file written; the engine's own time (segmentation and writing the mask) is in the answer, "
              "so the round trip less that time is what the process boundary costs. On a machine busy with other work "
              "the segmentation's time varies from call to call by as much as the round trip differs from its peer: "
              "compare the medians of runs on an idle machine. "
              "The panel then reads the mask back (last column of the first table) and shows it; that step "
              "needs Slicer and is not measured here. The session's start (torch, MONAI, model, scan, a "
              "warm-up segmentation) happens once per scan, while the user looks for the tumor."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
