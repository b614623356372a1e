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
    network: torch.nn.Module, path: str | Path, *, model_id: str = "model", widen_inputs: bool = False
) -> torch.nn.Module:
    """``network`` with the weights of ``path``; every tensor must match by name and shape.

    ``widen_inputs`` (fine-tuning only) lets weights of a network with fewer input channels start
    one with more: the new channels' weights are zero, so it begins as the network the weights came from.
    """
    state = read_state_dict(path)
    expected = network.state_dict()
    if widen_inputs:
        state = {k: _zero_widened(v, expected.get(k)) for k, v in state.items()}
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


def _zero_widened(tensor: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    """``tensor`` padded with zeros along its input-channel axis (1) to ``target``'s shape, when that
    is the only difference; otherwise unchanged (and the shape check reports it)."""
    if target is None or tensor.ndim < 2 or tensor.shape == target.shape:
        return tensor
    if tensor.shape[0] != target.shape[0] or tensor.shape[2:] != target.shape[2:] or tensor.shape[1] > target.shape[1]:
        return tensor
    widened = torch.zeros(target.shape, dtype=tensor.dtype)
    widened[:, : tensor.shape[1]] = tensor
    return widened


def save_weights(network: torch.nn.Module, path: str | Path) -> Path:
    """Write the network's weights as safetensors (a format that cannot carry code)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}, str(path))
    return path
