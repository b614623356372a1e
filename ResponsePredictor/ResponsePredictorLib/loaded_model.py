"""A segmentation model ready to run: its spec, its network with weights, and where they came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .segment.spec import ModelSpec


@dataclass(frozen=True)
class LoadedModel:
    spec: ModelSpec
    network: torch.nn.Module  # weights loaded, in eval mode, on the device asked for
    source: str  # for people and provenance: "embedded /path", "MONAI bundle /path", ...
    weights_sha256: str  # identifies the exact weights that produced a result
    card: Path | None = None  # the model card, when the model has one
