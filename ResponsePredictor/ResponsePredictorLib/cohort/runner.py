"""Running a cohort: every case of a manifest into its folder, then the consolidated table."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, SettingsError
from ..optional_packages import DASK, needs
from ..pipeline import Pipeline, PipelineSettings
from .execution import run_in_pool, run_in_process, run_on_dask
from .manifest import Manifest, read_manifest
from .progress import Progress, ProgressCallback
from .store import write_results_table
from .worker import DONE, FAILED, SKIPPED

if TYPE_CHECKING:
    from distributed import Client

# Memory one worker needs with the segmentation network loaded and a CT in hand (measured peak ~1.5 GB).
WORKER_MEMORY_BYTES = 2 * 1024**3


@dataclass
class CohortSummary:
    total: int
    done: int
    skipped: int
    failed: int
    seconds: float
    results: Path
    failures: list[tuple[str, str]] = field(default_factory=list)  # (case, error)

    def __str__(self) -> str:
        text = (f"{self.total} case(s): {self.done} done, {self.skipped} skipped (already done with the same inputs and "
                f"settings), {self.failed} failed, in {self.seconds:.1f} s. Table: {self.results}")
        for case, error in self.failures:
            text += f"\n  failed: {case}: {error}"
        return text


def run_cohort(
    manifest: Manifest | str | Path,
    out_dir: str | Path,
    settings: PipelineSettings = PipelineSettings(),
    *,
    workers: int | None = None,
    client: Client | None = None,
    scheduler: str | None = None,
    progress: ProgressCallback | None = None,
    progress_bar: bool = True,
) -> CohortSummary:
    """Run every case of ``manifest`` into ``out_dir`` (cases already done are skipped) and write results.csv.

    Cases run in this process (``workers=1``), in a local pool of ``workers`` processes (default: one
    per CPU core, as memory allows), or on a Dask cluster: a ``client`` or a ``scheduler`` address.
    """
    clock = time.perf_counter()
    manifest = manifest if isinstance(manifest, Manifest) else read_manifest(manifest)
    out_dir = Path(out_dir)
    if client is not None and scheduler is not None:
        raise InputError("Give a Dask client or a scheduler address, not both.")
    # Built here first, so that a wrong model or setting is said once, before any case runs.
    pipeline = Pipeline.from_settings(settings)
    try:
        pipeline.recipe.with_scans(manifest.scans)  # every other scan's settings found (its name says its modality)
    except SettingsError as error:
        raise SettingsError(f"{error} (The manifest's image_<NAME> columns name the other scans; rename a column that "
                            "holds something else.)") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    tracker = Progress(len(manifest.cases), progress, bar=progress_bar)
    counts = {DONE: 0, SKIPPED: 0, FAILED: 0}
    failures: list[tuple[str, str]] = []
    try:
        for outcome in _outcomes(pipeline, settings, manifest, out_dir, workers, client, scheduler):
            counts[outcome.status] += 1
            if outcome.status == FAILED:
                failures.append((outcome.case, outcome.error or ""))
            tracker.update(outcome)
    finally:
        tracker.close()
        # Also after an interrupt: the table then shows what is done so far.
        results = write_results_table(out_dir, manifest)
    return CohortSummary(len(manifest.cases), counts[DONE], counts[SKIPPED], counts[FAILED],
                         time.perf_counter() - clock, results, failures)


def _outcomes(pipeline, settings, manifest, out_dir, workers, client, scheduler):
    if client is not None or scheduler is not None:
        if client is None:
            with needs(DASK, "A cohort on a Dask cluster (--scheduler)"):
                from distributed import Client

            with Client(scheduler) as own_client:
                yield from run_on_dask(own_client, settings, manifest.cases, out_dir)
        else:
            yield from run_on_dask(client, settings, manifest.cases, out_dir)
        return
    workers = min(workers or default_workers(), len(manifest.cases))
    if workers < 1:
        raise InputError(f"The number of workers must be 1 or more; got {workers}.")
    if workers == 1:
        yield from run_in_process(pipeline, manifest.cases, out_dir)
    else:
        threads = max(1, (os.cpu_count() or 1) // workers)
        yield from run_in_pool(settings, manifest.cases, out_dir, workers, threads)


def default_workers() -> int:
    """One worker per CPU core, as far as the available memory allows."""
    import psutil

    by_memory = int(psutil.virtual_memory().available // WORKER_MEMORY_BYTES)
    return max(1, min(os.cpu_count() or 1, by_memory))
