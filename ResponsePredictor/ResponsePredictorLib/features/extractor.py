"""Features of a whole tumor: one row per label, by our own engine or, where installed, pyradiomics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..devices import resolve_device
from ..volume import Volume
from .checks import checked_region, mask_labels, on_image_grid
from .preprocessing import check_image_types
from .settings import check_backend, load_settings, parse_settings
from .whole_tumor import whole_tumor_features


@dataclass(frozen=True)
class FeatureResult:
    """Features of one label of one case."""

    label: int
    features: dict[str, float]
    diagnostics: dict[str, Any] = field(default_factory=dict)


class FeatureExtractor:
    """Radiomic features with one set of pyradiomics settings, checked once and reused over cases.

    ``backend``: "fast" (our engine: pyradiomics' values, names and order, no pyradiomics needed) or
    "pyradiomics" (pyradiomics itself, where installed; it also has the LBP image types).
    ``device``: where the feature formulas run ("auto": a CUDA GPU when PyTorch sees one).
    """

    def __init__(self, settings: Mapping[str, Any], *, backend: str = "fast", device: str = "auto") -> None:
        check_backend(backend)
        self.settings = dict(settings)
        self.backend = backend
        self.parsed = parse_settings(self.settings)
        if backend == "pyradiomics":
            from .pyradiomics_backend import PyradiomicsWholeTumor

            self._pyradiomics = PyradiomicsWholeTumor(self.settings)
        else:
            check_image_types(self.parsed.image_types)
            self.device = resolve_device(device)

    @classmethod
    def from_preset(cls, name: str, **options: Any) -> FeatureExtractor:
        return cls(load_settings(preset=name), **options)

    @classmethod
    def from_file(cls, path: str | Path, **options: Any) -> FeatureExtractor:
        return cls(load_settings(params=path), **options)

    def extract(self, image: Volume, mask: Volume, label: int | None = None) -> FeatureResult:
        """Features of ``label`` (the mask's only label when ``None``)."""
        mask, label = checked_region(image, mask, self.parsed, label)
        if self.backend == "pyradiomics":
            features, diagnostics = self._pyradiomics.extract(image, mask, label)
        else:
            features, diagnostics = whole_tumor_features(image, mask, label, self.parsed, self.device)
        return FeatureResult(label=label, features=features, diagnostics=diagnostics)

    def extract_labels(self, image: Volume, mask: Volume, labels: list[int] | None = None) -> list[FeatureResult]:
        """Features of several labels of one mask (all present labels when ``labels`` is None)."""
        mask = on_image_grid(image, mask, self.parsed)
        return [self.extract(image, mask, label) for label in (mask_labels(mask) if labels is None else labels)]


def extract_features(
    image: Volume,
    mask: Volume,
    *,
    preset: str | None = "ct",
    params: str | Path | None = None,
    label: int | None = None,
    backend: str = "fast",
) -> FeatureResult:
    """One-call extraction for the console: features of one label with a preset or parameter file."""
    extractor = FeatureExtractor(load_settings(preset=None if params else preset, params=params), backend=backend)
    return extractor.extract(image, mask, label)
