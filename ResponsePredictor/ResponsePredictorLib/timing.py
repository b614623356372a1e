"""Stage timings: the seconds each named stage of a job took, as results and benchmarks record them."""

from __future__ import annotations

import time


class StageClock:
    """Each ``lap`` records, under a stage's name, the seconds since the previous lap (or the start)."""

    def __init__(self, timings: dict[str, float] | None = None) -> None:
        self.timings: dict[str, float] = {} if timings is None else timings
        self.last = time.perf_counter()

    def lap(self, stage: str) -> float:
        now = time.perf_counter()
        # 0.1 ms is finer than anything a stage of this software takes; more digits are noise.
        self.timings[stage] = seconds = round(now - self.last, 4)
        self.last = now
        return seconds
