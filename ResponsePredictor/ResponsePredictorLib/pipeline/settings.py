"""What a pipeline is built from, as plain values: a worker process or a Dask worker rebuilds the same
pipeline from them (models are loaded where they run, never sent over the wire)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODEL = "default"  # the outcome model embedded in the module (Resources/Models/nsclc_os_ct)
HEATMAP_METHODS = ("contribution", "occlusion")


@dataclass(frozen=True)
class PipelineSettings:
    """``model``: an outcome model folder, ``DEFAULT_MODEL``, or None for features only.
    ``segmentation_model``: a catalog id or model folder (None: the catalog's default), loaded the
    first time a case needs segmenting. ``preset``/``params``: feature settings, only for a pipeline
    without an outcome model or with one that does not record its own. ``heatmap``: one of
    ``HEATMAP_METHODS`` or None. ``report``: write each case's picture. ``keep_identifiers``: let
    DICOM identifiers into the outputs (DICOM SEG)."""

    model: str | None = DEFAULT_MODEL
    segmentation_model: str | None = None
    preset: str | None = None
    params: str | None = None
    heatmap: str | None = "contribution"
    report: bool = True
    device: str = "auto"
    keep_identifiers: bool = False
    scan_presets: tuple[tuple[str, str], ...] = ()
    scan_params: tuple[tuple[str, str], ...] = ()
    peritumoral: tuple[float, ...] = ()
    peritumoral_body: bool = False
    deep_features: str | None = None
