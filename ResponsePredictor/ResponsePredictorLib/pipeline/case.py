"""What goes into one case and what comes out of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..volume import Volume

if TYPE_CHECKING:  # explain is imported only by pipelines that make heatmaps
    from ..explain import Heatmap
    from .scans import ScanResult

Point = tuple[float, float, float]
Box = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class ScanInput:
    """Another scan of the case, co-registered with the primary (the same physical coordinates): a file,
    DICOM series folder or ``Volume``, with its own tumor mask or None (the primary's is carried onto it)."""

    image: str | Path | Volume
    mask: str | Path | Volume | None = None


@dataclass(frozen=True)
class CaseInput:
    """One case: a scan, and either its tumor mask or where to find the tumor.

    ``image``: a file (NRRD, NIfTI, MetaImage), a DICOM series folder or a ``Volume``. ``mask``: a
    label image, a DICOM SEG or RTSTRUCT file, or a ``Volume``; without it the tumor is segmented from
    ``seed`` (a point on the tumor, or several) and/or ``roi`` (two opposite corners), corrected by
    ``negative`` points (not tumor there), in LPS millimetres. ``extra``: the case's other values
    (clinical covariates the model needs, outcomes and anything else carried into the results).
    ``scans``: the case's other scans by name (``PET``, ``MR_T1``); None for a scan the case lacks.
    """

    case: str
    image: str | Path | Volume
    mask: str | Path | Volume | None = None
    seed: Point | Sequence[Point] | None = None
    roi: Box | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    negative: Sequence[Point] | None = None
    scans: Mapping[str, ScanInput | None] = field(default_factory=dict)


@dataclass
class CaseResult:
    """Everything one case produced. ``timings`` and ``provenance`` grow as the case is written."""

    case: str
    image: Volume
    mask: Volume
    probability: Volume | None  # the network's tumor probability x 255 when the mask was segmented
    features: dict[str, float]
    prediction: dict[str, float]  # the model's outputs (empty without an outcome model)
    contributions: dict[str, float]  # each model input's share of the decision value, plus "(baseline)"
    heatmap: Heatmap | None
    timings: dict[str, float]  # stage -> seconds
    provenance: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    covariates: dict[str, Any] = field(default_factory=dict)  # the clinical values the model was given
    extra: dict[str, Any] = field(default_factory=dict)
    prediction_kind: str | None = None  # "binary", "survival", or None without an outcome model
    image_was_dicom: bool = False
    source_image: Path | None = None  # the file or DICOM folder read, when the image came from disk
    scans: dict[str, ScanResult] = field(default_factory=dict)  # the other scans, by name
