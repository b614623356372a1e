"""Validating a segmentation model on a site's own contoured cases, listed in a manifest.

Before a model segments a clinic's scans, the clinic can measure it on scans its experts have
contoured: the cohort manifest's rows (``case``, ``image``, ``mask``), each case segmented as
``validation.validate_case`` does (central click, random clicks, a drawn box) and scored against the
expert's mask, and corrected click by click by the interactive protocol's simulated user.
``responsepredictor models validate`` runs it from a terminal.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable

import numpy as np

from ..errors import InputError, MaskError
from ..pipeline.case import CaseInput
from ..pipeline.case_folder import error_message
from ..pipeline.inputs import read_case_mask, read_image
from .inference import Segmenter
from .corrective_clicks import PROTOCOL_CLICKS
from .validation import RANDOM_CLICKS, LabeledCase, summarize, validate_case


def read_labeled_case(case: CaseInput, label: int | None = None) -> LabeledCase:
    """A manifest case's scan and expert mask (a label image, DICOM SEG or RTSTRUCT on the scan's grid):
    the tumor is the voxels of ``label``, or every labelled voxel. The random clicks and box margins are
    seeded by the case id, so a case scores the same wherever it stands in the manifest."""
    if case.mask is None:
        raise MaskError(f"Case {case.case}: no expert mask; validation compares the model's mask with one.")
    image, from_dicom = read_image(case.image)
    mask, _ = read_case_mask(case.mask, image, dicom_image=case.image if from_dicom else None)
    if label is not None and not (mask.array == label).any():
        raise MaskError(f"Case {case.case}: the mask has no voxel of label {label} "
                        f"(it has {sorted(int(v) for v in np.unique(mask.array) if v)}).")
    tumor = mask.array == label if label is not None else mask.array > 0
    return LabeledCase(case.case, image, mask.with_array(tumor.astype(np.uint8)), seed=zlib.crc32(case.case.encode()))


def validate_cases(segmenter: Segmenter, cases: Iterable[CaseInput], label: int | None = None,
                   clicks: int = RANDOM_CLICKS, progress: Callable[[str, dict | str], None] | None = None,
                   protocol_clicks: int = PROTOCOL_CLICKS) -> dict:
    """Validates a segmentation model on contoured cases (``cohort.manifest`` rows with a mask): the figures
    (``summarize``), one row per case and the cases that could not be scored, with why. A case with bad
    input does not stop the others; ``progress(case, row or error)`` hears of each."""
    rows, failed = [], []
    for case in cases:
        try:
            row, _ = validate_case(segmenter, read_labeled_case(case, label), clicks, protocol_clicks)
        except InputError as error:
            failed.append({"id": case.case, "error": error_message(error)})
            outcome = failed[-1]["error"]
        else:
            rows.append(row)
            outcome = row
        if progress:
            progress(case.case, outcome)
    if not rows:
        reasons = "; ".join(f"{f['id']}: {f['error']}" for f in failed[:3])
        raise InputError(f"None of the {len(failed)} cases could be validated ({reasons}).")
    return {**summarize(rows), "cases": rows, "failed": failed}
