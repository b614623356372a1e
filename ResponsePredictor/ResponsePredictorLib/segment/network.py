"""Building a model's network from its spec and loading its weights safely.

Weights are read without running code: safetensors files as they are, PyTorch files only through
``torch.load(weights_only=True)``, which refuses any pickled object that is not a tensor container.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import InputError
from .spec import ModelSpec

SAFE_SUFFIXES = (".safetensors", ".pt", ".pth")


class WeightsError(InputError):
    """Weights that are missing, unreadable, unsafe or made for another network."""


def build_network(spec: ModelSpec) -> torch.nn.Module:
    """The spec's network (a ``monai.networks.nets`` class) with freshly initialised weights."""
    from monai.networks import nets

    network_class = getattr(nets, spec.network, None)
    if not isinstance(network_class, type) or not issubclass(network_class, torch.nn.Module):
        raise WeightsError(f"Model {spec.id}: {spec.network!r} is not a network of monai.networks.nets.")
    try:
        return network_class(**spec.network_args)
    except TypeError as error:
        raise WeightsError(f"Model {spec.id}: cannot build {spec.network} from its arguments: {error}") from None


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a weights file, read without executing anything from it."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"Weights file not found: {path}.")
    if path.suffix not in SAFE_SUFFIXES:
        raise WeightsError(f"{path}: weights must be a .safetensors file or a PyTorch state dict (.pt, .pth).")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - each reader has its own error types for a bad file
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "weights_only" in str(error) or "Unsupported global" in str(error):
            reason = "it holds Python objects besides tensors (a pickle), which are refused because loading them can run code"
        raise WeightsError(f"Cannot read the weights in {path}: {reason}.") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # checkpoints that wrap the weights
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a state dict (a mapping of names to tensors).")
    return state


def load_weights(
    network: torch.nn.Module, path: str | Path, *, model_id: str = "model", widen: bool = False
) -> torch.nn.Module:
    """``network`` with the weights of ``path``; every tensor must match by name and shape.

    ``widen`` (fine-tuning only) lets the weights of a narrower network start a wider one: more input
    channels (a box channel) or more feature channels per layer. The old weights keep their channels, and
    whatever leads from a new channel into an old one starts at zero, so the wider network begins as
    the network the weights came from (exactly) and learns to use its new channels.
    """
    state = read_state_dict(path)
    expected = network.state_dict()
    if widen:
        state = _widened_state(network, state)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong_shape:
        details = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("with another shape", wrong_shape)):
            if keys:
                details.append(f"{len(keys)} {label} (e.g. {keys[0]})")
        raise WeightsError(
            f"The weights in {path} do not fit the network of {model_id}: {'; '.join(details)}. They were made "
            "for another network or version; use the weights published with this model."
        )
    network.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    return network


def _widened_state(network: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` grown to ``network``'s shapes where they differ only in channel counts; other tensors
    are left as they are (and the shape check reports them)."""
    target = network.state_dict()
    modules = dict(network.named_modules())
    # A U-Net level concatenates its input (the down layer's output) with its inner levels' output
    # before the up layer: that layer's input channels are two runs, each widened at its own end.
    splits: dict[str, tuple[int, int]] = {}
    for name, module in modules.items():
        if type(module).__name__ == "SkipConnection" and "." in name:
            parent = name.rsplit(".", 1)[0]
            down, up = _first_kernel(target, f"{parent}.0."), _first_kernel(target, f"{parent}.2.")
            if down and up and down in state:
                splits[up] = (state[down].shape[0], target[down].shape[0])
    grown = {}
    for key, tensor in state.items():
        new = target.get(key)
        if new is None or new.shape == tensor.shape or new.ndim != tensor.ndim or any(
            a > b for a, b in zip(tensor.shape, new.shape)
        ):
            grown[key] = tensor
            continue
        transposed = isinstance(modules.get(key.rsplit(".", 1)[0]), torch.nn.modules.conv._ConvTransposeNd)
        in_axis = None if tensor.ndim == 1 else (0 if transposed else 1)
        grown[key] = _embedded(tensor, new, in_axis, splits.get(key))
    return grown


def _first_kernel(state: dict[str, torch.Tensor], prefix: str) -> str | None:
    return next((k for k, v in state.items() if k.startswith(prefix) and v.ndim >= 3), None)


def _embedded(old: torch.Tensor, new: torch.Tensor, in_axis: int | None, split: tuple[int, int] | None) -> torch.Tensor:
    """``new`` (a fresh initialisation) holding ``old`` at the old channels' places, with the weights
    from new input channels to old output channels set to zero."""
    places = [torch.arange(size) for size in old.shape]
    if in_axis is not None and split is not None:
        old_first, new_first = split
        places[in_axis] = torch.cat([torch.arange(old_first), new_first + torch.arange(old.shape[in_axis] - old_first)])
    grown = new.detach().clone()
    if in_axis is not None:
        out_axis = 1 - in_axis
        new_inputs = torch.ones(new.shape[in_axis], dtype=torch.bool)
        new_inputs[places[in_axis]] = False
        view = grown.movedim((out_axis, in_axis), (0, 1))
        view[places[out_axis][:, None], torch.nonzero(new_inputs)[:, 0][None, :]] = 0
    grown[torch.meshgrid(*places, indexing="ij")] = old.to(grown.dtype)
    return grown


def save_weights(network: torch.nn.Module, path: str | Path, *, half: bool = False) -> Path:
    """Write the network's weights as safetensors (a format that cannot carry code).

    ``half`` stores floating-point weights as float16, half the file for a model shipped with the
    extension: ``load_weights`` casts them back, and the rounding (a relative 5e-4) is far below what
    bfloat16 inference already rounds. A tensor beyond float16's range keeps float32.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    if half:
        state = {k: _as_half(v) for k, v in state.items()}
    save_file(state, str(path))
    return path


def _as_half(tensor: torch.Tensor) -> torch.Tensor:
    if not tensor.is_floating_point():
        return tensor
    half = tensor.half()
    return half if torch.isfinite(half).all() else tensor
