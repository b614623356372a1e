"""The local process pool when a worker process dies: the case that kills it is found and reported,
every other case still runs, each exactly once."""

from __future__ import annotations

import os
import time

from ResponsePredictorLib.cohort import DONE, FAILED
from ResponsePredictorLib.cohort.execution import WORKER_DIED, WORKER_START_FAILED, run_in_pool
from ResponsePredictorLib.cohort.worker import CaseOutcome
from ResponsePredictorLib.pipeline import CaseInput, PipelineSettings

NO_MODELS = PipelineSettings(model=None, heatmap=None, report=False)


def exit_on_bad_cases(settings: PipelineSettings, case: CaseInput, out_dir: str) -> CaseOutcome:
    """Stands in for a case that crashes its worker (a native library's crash, the kernel's OOM killer)."""
    if case.case.startswith("bad"):
        os._exit(70)
    time.sleep(0.3)  # long enough for other cases to be in flight when a bad one crashes
    return CaseOutcome(case.case, DONE, 0.3)


def cases(names: list[str]) -> list[CaseInput]:
    return [CaseInput(name, "never-read.nrrd") for name in names]


def test_the_case_that_kills_its_worker_fails_alone_and_every_other_case_runs_once(tmp_path):
    names = ["c0", "c1", "bad1", "c2", "c3", "c4", "bad2", "c5"]
    outcomes = list(run_in_pool(NO_MODELS, cases(names), tmp_path, workers=2, threads=1, task=exit_on_bad_cases))
    assert sorted(outcome.case for outcome in outcomes) == sorted(names)
    status = {outcome.case: outcome.status for outcome in outcomes}
    assert status == {name: FAILED if name.startswith("bad") else DONE for name in names}
    assert all(outcome.error == WORKER_DIED for outcome in outcomes if outcome.status == FAILED)


def refuse_to_start(*args) -> None:
    os._exit(71)


def test_workers_that_cannot_start_fail_every_case_without_looping(tmp_path, monkeypatch):
    from ResponsePredictorLib.cohort import execution

    # The pool's initializer is looked up when the pool is made: a worker dies before its first case.
    monkeypatch.setattr(execution, "start_worker", refuse_to_start)
    outcomes = list(run_in_pool(NO_MODELS, cases(["a", "b", "c"]), tmp_path, workers=2, threads=1))
    assert sorted(outcome.case for outcome in outcomes) == ["a", "b", "c"]
    assert {(outcome.status, outcome.error) for outcome in outcomes} == {(FAILED, WORKER_START_FAILED)}
