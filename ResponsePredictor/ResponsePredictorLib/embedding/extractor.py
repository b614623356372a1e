"""The tumor's embedding from a segmentation network's encoder.

The scan is shown to the network exactly as for segmenting it from a click (``Segmenter.roi_input``:
the same crop, spacing, intensity window and guidance channels), the click being the tumor voxel
nearest the mask's centroid. The outputs of the model's feature layers (``ModelSpec.feature_layers``,
e.g. a U-Net's encoder levels) are averaged over the tumor at each layer's resolution, each voxel of
a coarse layer weighted by the share of it the tumor covers (so a tumor smaller than one coarse voxel
still has its value), and the layers' averages are concatenated: ``deep_0`` ... ``deep_<n-1>``.

Float32 on every device: the same case gives the same numbers run after run, and CPU and GPU agree
to float32 round-off.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import MaskError, SettingsError
from ..volume import Volume

if TYPE_CHECKING:
    from ..loaded_model import LoadedModel
    from ..segment.inference import NetworkInput

DEEP_PREFIX = "deep_"
DEFAULT_SOURCE = "default"  # the catalog's default segmentation network


@dataclass(frozen=True)
class DeepView:
    """A case as the feature layers see it: each layer's output (channels, i, j, k) and the tumor's share
    of each of its voxels (i, j, k), on that layer's grid."""

    layers: list[torch.Tensor]
    weights: list[torch.Tensor]
    shown: NetworkInput
    tumor_outside: float  # share of the tumor's voxels outside what the network is shown

    def pooled(self) -> np.ndarray:
        """The embedding: each layer's weighted mean over the tumor, concatenated (NaN for a layer the tumor
        does not reach)."""
        parts = []
        for layer, weight in zip(self.layers, self.weights):
            total = weight.sum()
            parts.append((layer * weight).sum(dim=(1, 2, 3)) / total if total > 0
                         else torch.full(layer.shape[:1], torch.nan, device=layer.device))
        return torch.cat(parts).double().cpu().numpy()

    @property
    def features(self) -> dict[str, float]:
        """``deep_0`` ... of the tumor."""
        return named(self.pooled())


class DeepFeatureExtractor:
    """The deep features of a model with named feature layers. Build once; it keeps the network loaded."""

    def __init__(self, model: LoadedModel, *, device: str | torch.device = "auto") -> None:
        from ..segment.inference import Segmenter

        spec = model.spec
        if not spec.feature_layers:
            raise SettingsError(
                f"Model {spec.id} {spec.version} names no feature layer, so it gives no deep features. A MONAI bundle "
                "names them in configs/metadata.json, e.g. \"responsepredictor\": {\"feature_layers\": [\"model.0\"]} "
                "(module names of the network, as named_modules() lists them)."
            )
        modules = dict(model.network.named_modules())
        unknown = [name for name in spec.feature_layers if name not in modules]
        if unknown:
            raise SettingsError(f"Model {spec.id} names feature layers its network does not have: {', '.join(unknown)}. "
                                "Use module names as the network's named_modules() lists them.")
        self.model = model
        self.segmenter = Segmenter(spec, model.network, device=device, precision="float32")
        self.modules = [modules[name] for name in spec.feature_layers]

    @property
    def source(self) -> dict[str, Any]:
        """What the features come from, as a model and a case's provenance record it."""
        spec = self.model.spec
        return {"model": spec.id, "version": spec.version, "weights_sha256": self.model.weights_sha256,
                "layers": list(spec.feature_layers), "pooling": "mean over the tumor at each layer"}

    def view(self, image: Volume, mask: Volume) -> DeepView:
        """The feature layers' outputs for the tumor of ``mask`` (on ``image``'s grid)."""
        from ..segment.validation import central_seed

        tumor = np.asarray(mask.array) > 0
        if not tumor.any():
            raise MaskError("The mask is empty: deep features need a tumor to pool over.")
        shown = self.segmenter.roi_input(image, seed=central_seed(mask.with_array(tumor.astype(np.uint8))))
        on_input = shown.mask_on_input(mask.with_array(tumor.astype(np.uint8)))
        with torch.inference_mode(), _captured(self.modules) as outputs:
            self.segmenter.infer_window(shown.inputs)
        layers = [output[0].float() for output in outputs]
        weights = [_shares(on_input.to(layer.device), layer.shape[1:]) for layer in layers]
        seen = float(on_input.sum()) * float(np.prod(self.model.spec.spacing))
        outside = max(0.0, 1.0 - seen / (float(tumor.sum()) * float(np.prod(mask.spacing))))
        return DeepView(layers, weights, shown, outside)

    def extract(self, image: Volume, mask: Volume) -> dict[str, float]:
        """``deep_0`` ... of the tumor of ``mask``."""
        return self.view(image, mask).features



def deep_extractor(source: LoadedModel | str | Path | None = DEFAULT_SOURCE, *, device: str = "auto") -> DeepFeatureExtractor:
    """The extractor of a loaded model, a catalog id or a model folder ("default" or None: the catalog's default),
    loaded from what is installed (never downloaded during a run)."""
    if isinstance(source, (str, Path)) or source is None:
        from ..catalog import load_model

        source = load_model(None if source in (None, DEFAULT_SOURCE) else source, device=device, allow_download=False)
    return DeepFeatureExtractor(source, device=device)


def named(values: Sequence[float]) -> dict[str, float]:
    return {f"{DEEP_PREFIX}{index}": float(value) for index, value in enumerate(values)}


def _shares(mask: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """The share of each voxel of a grid of ``shape`` that ``mask`` (a finer grid over the same extent) covers."""
    return F.interpolate(mask[None, None].float(), size=tuple(shape), mode="area")[0, 0]


@contextmanager
def _captured(modules: list[torch.nn.Module]) -> Iterator[list[torch.Tensor]]:
    """The outputs of ``modules`` during the forward passes run inside the block (the last pass's, in order)."""
    outputs: list[torch.Tensor | None] = [None] * len(modules)

    def keeper(index: int):
        def hook(_module, _inputs, output):
            outputs[index] = output.detach()
        return hook

    handles = [module.register_forward_hook(keeper(index)) for index, module in enumerate(modules)]
    captured: list[torch.Tensor] = []
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()
    captured.extend(output for output in outputs if output is not None)
