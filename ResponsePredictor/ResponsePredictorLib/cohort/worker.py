"""Running one case of a cohort wherever it is sent: in this process, a pool worker or a Dask worker.

Each process builds its pipeline once (the models stay loaded) and keeps it for every case it is
given. The case runs under its lock; a case already done with the same inputs and settings is
skipped, and any failure is written to the case's result.json instead of stopping the cohort.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..pipeline import CaseInput, Pipeline, PipelineSettings, is_done, write_failure
from ..pipeline.case_folder import error_message, remove_partial_files
from .store import case_folder, case_lock

DONE, SKIPPED, FAILED = "done", "skipped", "failed"
# Thread pools of the libraries a case uses: numerical (OpenMP, BLAS), PyTorch and ITK.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS")


@dataclass(frozen=True)
class CaseOutcome:
    case: str
    status: str  # DONE, SKIPPED or FAILED
    seconds: float
    error: str | None = None


def run_case(pipeline: Pipeline, case: CaseInput, out_dir: str | Path) -> CaseOutcome:
    """Run and write one case unless it is already done; never raises for a case's own failure."""
    folder = case_folder(out_dir, case.case)
    clock = time.perf_counter()
    with case_lock(out_dir, case.case):
        fingerprint = None
        try:
            fingerprint = pipeline.fingerprint(case)
            if is_done(folder, fingerprint.key):
                remove_partial_files(folder)
                return CaseOutcome(case.case, SKIPPED, time.perf_counter() - clock)
            pipeline.write(pipeline.run(case, fingerprint), folder)
            return CaseOutcome(case.case, DONE, time.perf_counter() - clock)
        except Exception as error:  # one case's failure, whatever it is, must not stop the cohort
            write_failure(folder, case.case, error, fingerprint, {"total_s": round(time.perf_counter() - clock, 4)})
            return CaseOutcome(case.case, FAILED, time.perf_counter() - clock, error_message(error))


@functools.lru_cache(maxsize=1)
def pipeline_for(settings: PipelineSettings) -> Pipeline:
    """This process's pipeline for ``settings``, built on first use."""
    return Pipeline.from_settings(settings)


def process_case(settings: PipelineSettings, case: CaseInput, out_dir: str) -> CaseOutcome:
    """The task sent to pool workers (and, through ``process_case_on_dask``, to Dask workers)."""
    return run_case(pipeline_for(settings), case, out_dir)


def process_case_on_dask(settings: PipelineSettings, case: CaseInput, out_dir: str) -> CaseOutcome:
    """The task sent to Dask workers: ``process_case`` in a worker whose threads are capped."""
    cap_dask_worker_threads()
    return process_case(settings, case, out_dir)


@functools.lru_cache(maxsize=1)
def cap_dask_worker_threads() -> int | None:
    """Cap a Dask worker process's compute threads, once; returns the cap (None: left alone).

    distributed's nanny starts each worker process with one OpenMP, MKL and OpenBLAS thread per
    task (``OMP_NUM_THREADS``, its ``pre-spawn-environ``), but ITK and PyTorch would still each use
    every core, for each of the worker's tasks at once. They get the same cap here (or, where the
    nanny set none, the worker's share of the cores per task). A worker running inside the
    client's own process (``LocalCluster(processes=False)``, e.g. in Slicer's console) is left
    alone: the cap would slow the user's session too.
    """
    import multiprocessing

    if multiprocessing.parent_process() is None:
        return None
    from distributed import get_worker

    share = max(1, (os.cpu_count() or 1) // get_worker().state.nthreads)
    count = int(os.environ.get("OMP_NUM_THREADS") or share)
    limit_threads(count)
    return count


# In a pool worker: where it announces each case it begins, so that the pool knows which cases
# a worker had in hand should it die (a process-wide setting, as the worker's pipeline is).
_begun_cases: Any = None


def start_worker(settings: PipelineSettings, threads: int, begun_cases: Any = None) -> None:
    """Pool worker initializer: cap its threads (N workers x all cores would oversubscribe the CPUs),
    then load the models once. ``begun_cases``: a multiprocessing queue for ``announced``."""
    global _begun_cases
    _begun_cases = begun_cases
    limit_threads(threads)
    pipeline_for(settings)


def announced(task: Callable[[PipelineSettings, CaseInput, str], CaseOutcome], settings: PipelineSettings,
              case: CaseInput, out_dir: str) -> CaseOutcome:
    """``task`` for ``case``, after telling the pool that this worker begins it."""
    if _begun_cases is not None:
        _begun_cases.put(case.case)
    return task(settings, case, out_dir)


def limit_threads(count: int) -> None:
    """Cap this process's compute threads. Environment variables reach libraries not loaded yet."""
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(count)
    import SimpleITK as sitk
    from threadpoolctl import threadpool_limits

    threadpool_limits(count)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(count)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)
