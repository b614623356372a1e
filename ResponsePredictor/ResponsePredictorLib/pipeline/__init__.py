"""One case end to end, as the Slicer module and the cohort runner both run it.

    from ResponsePredictorLib.pipeline import CaseInput, Pipeline, write_case

    pipeline = Pipeline.from_defaults(heatmap="contribution")     # models loaded once
    result = pipeline.run(CaseInput("case01", "ct.nrrd", seed=(-20.5, 31.0, -140.0),
                                    extra={"age": 68, "Tstage": 2, "Histology": "adenocarcinoma"}))
    result.prediction, result.timings, result.provenance
    pipeline.write(result, "out/cases/case01")                    # the case folder (see case_folder)
"""

from .case import CaseInput, CaseResult
from .case_folder import DONE, FAILED, RESULT_JSON, is_done, read_record, write_case, write_failure
from .case_pipeline import CaseFingerprint, Pipeline
from .settings import DEFAULT_MODEL, HEATMAP_METHODS, PipelineSettings

__all__ = [
    "DEFAULT_MODEL", "DONE", "FAILED", "HEATMAP_METHODS", "RESULT_JSON", "CaseFingerprint", "CaseInput", "CaseResult",
    "Pipeline", "PipelineSettings", "is_done", "read_record", "write_case", "write_failure",
]
