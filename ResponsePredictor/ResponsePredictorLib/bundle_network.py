"""A MONAI bundle's ``network_def``, reduced to plain data before ``monai.bundle`` builds it.

MONAI bundle configs may hold Python expressions (``"$..."``), imports, and ``_target_``s naming
any callable; building them runs that code. A bundle is a download like any other, so only this
much is accepted: plain values, references (``"@id"``) to plain values elsewhere in the config
(inlined here), and ``_target_``s that are network classes of ``monai.networks``, rewritten to
their full names so that MONAI builds exactly the class checked here. Arguments that make a MONAI
network download "pretrained" weights while it is built are refused too: a bundle's weights are
its ``models/model.pt``, and loading one must not reach the network.
"""

from __future__ import annotations

import importlib
import inspect
import pydoc
from collections.abc import Mapping
from typing import Any

import torch

from .errors import InputError

# Where short ``_target_`` names are looked up, in this order.
_SHORT_NAME_MODULES = ("monai.networks.nets", "monai.networks.blocks", "monai.networks.layers")


class BundleError(InputError):
    """A MONAI bundle folder that cannot be used as a segmentation model."""


def literal_network_def(config: Any, *, source: str) -> dict[str, Any]:
    """``config["network_def"]`` as plain data, or a ``BundleError`` saying what is not accepted."""
    from monai.bundle import ConfigParser

    if not isinstance(config, Mapping) or "network_def" not in config:
        raise BundleError(f"{source} has no 'network_def' (the network to build).")
    # A parser over the raw config only to look references up; nothing in it is parsed or evaluated.
    lookup = ConfigParser(dict(config))
    network_def = _literal(config["network_def"], lookup, source, ("network_def",), frozenset({"network_def"}))
    if not isinstance(network_def, dict) or "_target_" not in network_def:
        raise BundleError(f"{source}: 'network_def' must be an object with a '_target_' (a monai.networks.nets class).")
    return network_def


def _literal(value: Any, lookup: Any, source: str, path: tuple[str, ...], followed: frozenset[str]) -> Any:
    """``value`` with references inlined; ``followed`` holds the references on the way here (cycles)."""
    where = f"{source}, {'::'.join(path)}"
    if isinstance(value, str):
        if value.startswith(("$", "%")):
            raise BundleError(
                f"{where} is a Python expression or macro ({value[:60]!r}); a bundle's network definition must be "
                "plain values here, because evaluating it could run any code. Write the value itself."
            )
        if value.startswith("@"):
            ref = value[1:]
            if not ref or ref.startswith(("#", ":")) or ref in followed:
                raise BundleError(f"{where}: the reference {value!r} is relative or circular; write the value itself.")
            if ref not in lookup:
                raise BundleError(f"{where} refers to {value!r}, which the config does not define.")
            return _literal(lookup.get(ref), lookup, source, (ref,), followed | {ref})
        return value
    if isinstance(value, list):
        return [_literal(item, lookup, source, (*path, str(i)), followed) for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        literal = {}
        for name, item in value.items():
            key = str(name)  # YAML allows other key types; arguments are names
            if key == "_desc_" or (key == "_mode_" and item == "default"):
                continue  # a comment, and the ordinary way of building: nothing to keep
            if key == "_target_":
                literal[key] = _network_class_path(item, where)
            elif key.startswith("_") and key.endswith("_"):  # _disabled_, _requires_, other _mode_s
                raise BundleError(f"{where}: {key!r} is not supported in a network definition.")
            elif "pretrain" in key.lower() and item:
                raise BundleError(
                    f"{where}: {key!r} would make the network fetch weights of its own from elsewhere; remove it "
                    "(the bundle's models/model.pt holds the weights)."
                )
            else:
                literal[key] = _literal(item, lookup, source, (*path, key), followed)
        return literal
    return value


def _network_class_path(target: Any, where: str) -> str:
    """The full name of the ``monai.networks`` module class that ``target`` names."""
    refusal = BundleError(
        f"{where}: _target_ {target!r} is not a network class of monai.networks. Only MONAI's own network classes "
        "are built from bundles, because any other callable could run code."
    )
    if not isinstance(target, str):
        raise refusal
    if "." in target:
        # Checked before locating, since locating imports the named module.
        component = pydoc.locate(target) if target.startswith("monai.networks.") else None
    else:
        modules = (importlib.import_module(name) for name in _SHORT_NAME_MODULES)
        component = next((getattr(m, target) for m in modules if hasattr(m, target)), None)
    if not (
        inspect.isclass(component)
        and issubclass(component, torch.nn.Module)
        and component.__module__.startswith("monai.networks.")
    ):
        raise refusal
    return f"{component.__module__}.{component.__qualname__}"
