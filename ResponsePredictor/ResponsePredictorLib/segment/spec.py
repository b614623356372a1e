"""What a segmentation model needs to be run: its network and its input conventions, as data.

A ``ModelSpec`` is one entry of ``Resources/Models.json`` (or a user's model folder): it says how to
build the network (a ``monai.networks.nets`` class and its arguments), at which voxel spacing and
intensity window the network was trained, how large a region it sees, whether it is guided by
a seed channel (clicks on the tumor), a box channel (the box a user drew), a negative channel
(clicks on what is not tumor) and a previous-mask channel (the mask being corrected), and how much scan
around the tumor its training images held.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError

INFERENCE_MODES = ("roi", "sliding_window")


class ModelSpecError(InputError):
    """A model description that is incomplete or inconsistent."""


@dataclass(frozen=True)
class ModelSpec:
    id: str
    version: str
    modality: str
    network: str
    network_args: Mapping[str, Any]
    spacing: tuple[float, float, float]
    roi_size: tuple[int, int, int]
    intensity_window: tuple[float, float]
    inference: str = "roi"
    seed_channel: bool = True
    # Width of the Gaussian that marks the click in the seed channel (mm).
    seed_sigma_mm: float = 3.0
    # A further input channel marking the user's box (1 inside, 0 outside; all 0 for a click), so
    # that the network learns where the tumor ends from the box rather than only cutting its mask there.
    box_channel: bool = False
    # An input channel marking "not tumor here" clicks (Gaussians as for the seed channel), with which a
    # user corrects what the network wrongly added; after the box channel, so that weights without it
    # start a network with it as the same network (``load_weights(widen=True)``).
    negative_channel: bool = False
    # A last input channel holding the mask the user is correcting (1 tumor, 0 elsewhere; empty for the
    # first prompt), as RITM and DeepEdit show it: a correction then edits that mask rather than
    # segmenting afresh from all the clicks, so one click can add or remove the whole region it sits in.
    previous_mask_channel: bool = False
    task: str = "tumor-segmentation"
    # Edge (mm) of the cube of scan around the tumor that each training image held, for a network
    # trained on crops; None for one trained on whole scans. Beyond the crop its training windows
    # saw only padding, never the anatomy a tumor borders farther out, so it never learned to stop
    # there: a clicked region is shown the same way (scan within the cube around the click, the
    # intensity window's floor beyond).
    context_mm: float | None = None
    # The network's modules whose outputs are the tumor's deep features (``embedding``), by their names in
    # ``named_modules()``, e.g. a U-Net's encoder levels; empty: the model offers no deep features.
    feature_layers: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def in_channels(self) -> int:
        return 1 + int(self.seed_channel) + int(self.box_channel) + int(self.negative_channel) + int(self.previous_mask_channel)

    @property
    def negative_index(self) -> int:
        """The negative channel's place among the input channels (it follows the image, seed and box)."""
        return 1 + int(self.seed_channel) + int(self.box_channel)

    @property
    def previous_index(self) -> int:
        """The previous-mask channel's place among the input channels (the last)."""
        return self.in_channels - 1

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "model description") -> ModelSpec:
        required = ("id", "version", "modality", "network", "spacing", "roi_size", "intensity_window")
        missing = [key for key in required if key not in data]
        if missing:
            raise ModelSpecError(f"{source} lacks {', '.join(missing)}.")
        network = data["network"]
        if not isinstance(network, Mapping) or "name" not in network:
            raise ModelSpecError(f"{source}: 'network' must be {{'name': <monai.networks.nets class>, 'args': {{...}}}}.")
        known = {f for f in cls.__dataclass_fields__ if f not in ("network", "network_args", "extra")}
        spec = cls(
            id=str(data["id"]),
            version=str(data["version"]),
            modality=str(data["modality"]).upper(),
            network=str(network["name"]),
            network_args=dict(network.get("args", {})),
            spacing=_triple(data["spacing"], float, "spacing", source),
            roi_size=_triple(data["roi_size"], int, "roi_size", source),
            intensity_window=tuple(float(v) for v in data["intensity_window"]),  # type: ignore[arg-type]
            inference=str(data.get("inference", "roi")),
            seed_channel=bool(data.get("seed_channel", True)),
            seed_sigma_mm=float(data.get("seed_sigma_mm", 3.0)),
            box_channel=bool(data.get("box_channel", False)),
            negative_channel=bool(data.get("negative_channel", False)),
            previous_mask_channel=bool(data.get("previous_mask_channel", False)),
            task=str(data.get("task", "tumor-segmentation")),
            context_mm=_context(data.get("context_mm"), source),
            feature_layers=_names(data.get("feature_layers", ()), source),
            extra={key: value for key, value in data.items() if key not in known and key != "network"},
        )
        spec.validate(source)
        return spec

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "id": self.id,
            "version": self.version,
            "task": self.task,
            "modality": self.modality,
            "inference": self.inference,
            "network": {"name": self.network, "args": dict(self.network_args)},
            "spacing": list(self.spacing),
            "roi_size": list(self.roi_size),
            "intensity_window": list(self.intensity_window),
            "seed_channel": self.seed_channel,
            "seed_sigma_mm": self.seed_sigma_mm,
            "box_channel": self.box_channel,
            "negative_channel": self.negative_channel,
            "previous_mask_channel": self.previous_mask_channel,
            "context_mm": self.context_mm,
            **({"feature_layers": list(self.feature_layers)} if self.feature_layers else {}),
        }

    def validate(self, source: str = "model description") -> None:
        if self.negative_channel and not self.seed_channel:
            raise ModelSpecError(f"{source}: a negative channel corrects a click-guided model; set seed_channel too.")
        if self.previous_mask_channel and not self.negative_channel:
            raise ModelSpecError(f"{source}: a previous-mask channel follows the negative channel; set negative_channel too.")
        if self.inference not in INFERENCE_MODES:
            raise ModelSpecError(f"{source}: inference must be one of {INFERENCE_MODES}; got {self.inference!r}.")
        low, high = self.intensity_window if len(self.intensity_window) == 2 else (0, 0)
        if not low < high:
            raise ModelSpecError(f"{source}: intensity_window must be [low, high] with low < high.")
        if min(self.spacing) <= 0 or min(self.roi_size) <= 0:
            raise ModelSpecError(f"{source}: spacing and roi_size must be positive.")
        declared = self.network_args.get("in_channels")
        if declared is not None and int(declared) != self.in_channels:
            guidance = [name for name, used in (("seed", self.seed_channel), ("box", self.box_channel),
                                                ("negative click", self.negative_channel),
                                                ("previous mask", self.previous_mask_channel)) if used]
            raise ModelSpecError(
                f"{source}: the network takes {declared} input channel(s) but the model has the image"
                f"{''.join(f' and a {name} channel' for name in guidance)} ({self.in_channels} expected)."
            )


def _names(value: Any, source: str) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(name, str) and name for name in value):
        raise ModelSpecError(f"{source}: feature_layers must be a list of module names (e.g. \"model.0\").")
    return tuple(value)


def _context(value: Any, source: str) -> float | None:
    if value is None:
        return None
    try:
        context = float(value)
    except (TypeError, ValueError):
        context = 0.0
    if not context > 0:
        raise ModelSpecError(f"{source}: context_mm must be a positive number of millimetres (or absent); got {value!r}.")
    return context


def _triple(values: Any, kind: type, name: str, source: str) -> tuple:
    try:
        triple = tuple(kind(v) for v in values)
    except (TypeError, ValueError):
        triple = ()
    if len(triple) != 3:
        raise ModelSpecError(f"{source}: {name} must hold 3 numbers; got {values!r}.")
    return triple
