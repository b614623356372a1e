"""Stage timings: consecutive laps, recorded under their stage names."""

from __future__ import annotations

import time

from ResponsePredictorLib.timing import StageClock


def test_laps_are_consecutive_and_recorded_by_name():
    timings: dict[str, float] = {"before": 1.0}
    started = time.perf_counter()
    clock = StageClock(timings)
    time.sleep(0.02)
    first = clock.lap("first_s")
    second = clock.lap("second_s")
    elapsed = time.perf_counter() - started
    assert timings == {"before": 1.0, "first_s": first, "second_s": second}
    assert 0.015 < first < 1.0 and 0 <= second < first
    # Each moment counts once: the laps add up to the time since the clock started.
    assert first + second <= elapsed + 1e-3
    assert StageClock().lap("alone") >= 0
