"""Cohorts: many cases from a manifest, resumable, each failure isolated, locally or on Dask.

    from ResponsePredictorLib.cohort import run_cohort
    from ResponsePredictorLib.pipeline import PipelineSettings

    summary = run_cohort("manifest.csv", "out", PipelineSettings(heatmap=None), workers=2,
                         progress=lambda outcome, completed, total: print(completed, total))
    summary = run_cohort("manifest.csv", "out", client=dask_client)   # the same results on a Dask cluster

See ``manifest`` for the CSV, ``store`` for the output folder and ``pipeline.case_folder`` for a case's files.
"""

from .manifest import Manifest, ManifestError, read_manifest
from .progress import ProgressCallback
from .runner import CohortSummary, run_cohort
from .store import RESULTS_CSV, case_folder, write_results_table
from .worker import DONE, FAILED, SKIPPED, CaseOutcome

__all__ = [
    "DONE", "FAILED", "RESULTS_CSV", "SKIPPED", "CaseOutcome", "CohortSummary", "Manifest", "ManifestError",
    "ProgressCallback", "case_folder", "read_manifest", "run_cohort", "write_results_table",
]
