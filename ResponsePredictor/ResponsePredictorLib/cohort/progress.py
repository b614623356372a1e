"""Cohort progress: a bar in the terminal and a callback for whoever else is watching (Slicer)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from .worker import FAILED, CaseOutcome

# Called after each case: its outcome, how many cases are finished, how many there are.
ProgressCallback = Callable[[CaseOutcome, int, int], None]


class Progress:
    def __init__(self, total: int, callback: ProgressCallback | None = None, *, bar: bool = True) -> None:
        from tqdm import tqdm

        self.total = total
        self.completed = 0
        self.failed = 0
        self.callback = callback
        self.bar = tqdm(total=total, unit="case", file=sys.stderr, disable=not bar, dynamic_ncols=True)

    def update(self, outcome: CaseOutcome) -> None:
        self.completed += 1
        if outcome.status == FAILED:
            self.failed += 1
            self.bar.write(f"case {outcome.case} failed: {outcome.error}", file=sys.stderr)
            self.bar.set_postfix(failed=self.failed)
        self.bar.update(1)
        if self.callback is not None:
            self.callback(outcome, self.completed, self.total)

    def close(self) -> None:
        self.bar.close()
