"""Where a cohort's cases run: this process, a local process pool, or a Dask cluster.

Each yields one ``CaseOutcome`` per case as cases finish. Workers write their cases' folders
themselves, so with Dask the output folder must be on a file system every worker sees.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING

from ..pipeline import CaseInput, Pipeline, PipelineSettings
from .worker import FAILED, CaseOutcome, process_case, run_case, start_worker

if TYPE_CHECKING:
    from distributed import Client

WORKER_DIED = ("the worker process running this case stopped (a crash, or the system ran out of memory); "
               "nothing was written for it. Run again to retry it, with fewer workers if memory is short.")


def run_in_process(pipeline: Pipeline, cases: Sequence[CaseInput], out_dir: Path) -> Iterator[CaseOutcome]:
    for case in cases:
        yield run_case(pipeline, case, out_dir)


def run_in_pool(settings: PipelineSettings, cases: Sequence[CaseInput], out_dir: Path, workers: int,
                threads: int) -> Iterator[CaseOutcome]:
    # "spawn": fresh interpreters, so no worker inherits a copy of the parent's PyTorch or BLAS
    # thread state (forking those can deadlock), and the same on Linux, macOS and Windows.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=start_worker, initargs=(settings, threads))
    try:
        futures = {pool.submit(process_case, settings, case, str(out_dir)): case.case for case in cases}
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool:
                yield CaseOutcome(futures[future], FAILED, 0.0, WORKER_DIED)
    finally:
        # On an interrupt the cases not started are dropped, not run to the end.
        pool.shutdown(wait=True, cancel_futures=True)


def run_on_dask(client: Client, settings: PipelineSettings, cases: Sequence[CaseInput],
                out_dir: Path) -> Iterator[CaseOutcome]:
    from distributed import as_completed as dask_completed

    futures = {client.submit(process_case, settings, case, str(out_dir), pure=False): case.case for case in cases}
    try:
        for future in dask_completed(futures):
            try:
                yield future.result()
            except Exception as error:  # KilledWorker and the like: the case's task itself never returned
                yield CaseOutcome(futures[future], FAILED, 0.0, f"{WORKER_DIED} ({type(error).__name__})")
            future.release()
    finally:
        client.cancel(list(futures))
