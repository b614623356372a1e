"""Where a cohort's cases run: this process, a local process pool, or a Dask cluster.

Each yields one ``CaseOutcome`` per case as cases finish. Workers write their cases' folders
themselves, so with Dask the output folder must be on a file system every worker sees.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING

from ..pipeline import CaseInput, Pipeline, PipelineSettings
from .worker import FAILED, CaseOutcome, announced, process_case, process_case_on_dask, run_case, start_worker

if TYPE_CHECKING:
    from distributed import Client

WORKER_DIED = ("the worker process running this case stopped (a crash, or the system ran out of memory), "
               "again when the case ran alone; nothing was written for it. Run again to retry it, with fewer "
               "workers if memory is short.")
WORKER_START_FAILED = ("the pool's worker processes stopped before running any case, while loading the models "
                       "(their error, if they could say it, is printed above; often too little memory for this "
                       "many workers); nothing was written for it. Run again with fewer workers.")


def run_in_process(pipeline: Pipeline, cases: Sequence[CaseInput], out_dir: Path) -> Iterator[CaseOutcome]:
    for case in cases:
        yield run_case(pipeline, case, out_dir)


def run_in_pool(settings: PipelineSettings, cases: Sequence[CaseInput], out_dir: Path, workers: int,
                threads: int, task: Callable[..., CaseOutcome] = process_case) -> Iterator[CaseOutcome]:
    """The cases in a pool of ``workers`` processes (``task`` runs one case in a worker).

    A worker that dies (a crash in a native library, or the system killing it for memory) takes the
    whole pool with it. The cases no worker had begun go on in a new pool; those in flight at the
    time are run again at the end, one at a time, so that the case that kills its worker is the one
    reported failed and the others in flight with it are not lost.
    """
    waiting, suspects = list(cases), []
    while waiting:
        waiting, in_flight = yield from _pool_round(settings, waiting, out_dir, workers, threads, task)
        if waiting and not in_flight:
            # The pool broke before any case began: its workers could not start (e.g. out of memory
            # loading the models); another pool would do the same.
            for case in waiting:
                yield CaseOutcome(case.case, FAILED, 0.0, WORKER_START_FAILED)
            return
        suspects += in_flight
    while suspects:
        suspects, in_flight = yield from _pool_round(settings, suspects, out_dir, 1, threads, task)
        for case in in_flight:  # one worker, one case at a time: this case stopped its worker
            yield CaseOutcome(case.case, FAILED, 0.0, WORKER_DIED)


def _pool_round(settings: PipelineSettings, cases: list[CaseInput], out_dir: Path, workers: int, threads: int,
                task: Callable[..., CaseOutcome]) -> Generator[CaseOutcome, None, tuple[list[CaseInput], list[CaseInput]]]:
    """Runs ``cases`` in one pool, yielding their outcomes; if the pool breaks, returns the cases no
    worker had begun and those in flight (begun, not finished), else two empty lists."""
    # "spawn": fresh interpreters, so no worker inherits a copy of the parent's PyTorch or BLAS
    # thread state (forking those can deadlock), and the same on Linux, macOS and Windows.
    context = multiprocessing.get_context("spawn")
    begun_queue = context.SimpleQueue()  # workers announce each case as they begin it
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=start_worker,
                               initargs=(settings, threads, begun_queue))
    finished, broken = set(), False
    try:
        futures = [pool.submit(announced, task, settings, case, str(out_dir)) for case in cases]
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except BrokenProcessPool:
                broken = True  # every unfinished case fails so; the finished ones are still yielded
                continue
            finished.add(outcome.case)
            yield outcome
    finally:
        # On an interrupt the cases not started are dropped, not run to the end.
        pool.shutdown(wait=True, cancel_futures=True)
    if not broken:
        return [], []
    begun = set()
    while not begun_queue.empty():
        begun.add(begun_queue.get())
    unfinished = [case for case in cases if case.case not in finished]
    return [case for case in unfinished if case.case not in begun], [case for case in unfinished if case.case in begun]


def run_on_dask(client: Client, settings: PipelineSettings, cases: Sequence[CaseInput],
                out_dir: Path) -> Iterator[CaseOutcome]:
    from distributed import as_completed as dask_completed

    futures = {client.submit(process_case_on_dask, settings, case, str(out_dir), pure=False): case.case for case in cases}
    try:
        for future in dask_completed(futures):
            try:
                yield future.result()
            except Exception as error:  # KilledWorker and the like: the case's task itself never returned
                yield CaseOutcome(futures[future], FAILED, 0.0, f"{WORKER_DIED} ({type(error).__name__})")
            future.release()
    finally:
        client.cancel(list(futures))
