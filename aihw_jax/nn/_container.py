"""AnalogSequential: layers applied in order, with analog-layer discovery."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import flax.linen as nn
import jax

from aihw_jax.errors import ConfigError

__all__ = ["AnalogSequential", "iter_analog_layers"]


class AnalogSequential(nn.Module):
    """Apply ``layers`` in order, as torch's and aihwkit's ``Sequential`` do.

    Construct it like aihwkit's: ``AnalogSequential(Flatten(), AnalogLinear(784,
    256), Sigmoid(), ...)``. Sub-modules are named ``layers_0``,
    ``layers_1``, ... in the variables.
    """

    layers: tuple[nn.Module, ...] = ()

    def __call__(self, x: jax.Array) -> jax.Array:
        if not self.layers:
            raise ConfigError("AnalogSequential has no layers; pass at least one.")
        for layer in self.layers:
            x = layer(x)
        return x


_dataclass_init = AnalogSequential.__init__


def _init_with_positional_layers(self, *layers: nn.Module, **kwargs: Any) -> None:
    # Linen generates a keyword-only dataclass __init__ (and clones modules
    # through it); this wrapper adds torch's positional form on top.
    if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
        layers = tuple(layers[0])
    if layers:
        kwargs["layers"] = tuple(layers)
    _dataclass_init(self, **kwargs)


AnalogSequential.__init__ = _init_with_positional_layers


def iter_analog_layers(
    module: nn.Module, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], nn.Module]]:
    """Yield ``(variable path, layer)`` for every ``AnalogLinear`` of a model.

    Walks ``AnalogSequential`` containers (nested too) and the inner layers
    of convolutions (``AnalogConv2d``, whose ``AnalogLinear`` sits at
    ``(*path, "linear")``). A bare analog layer is its own model, with the
    empty path.
    """
    from aihw_jax.nn._analog_linear import AnalogLinear
    from aihw_jax.nn._conv import AnalogConv2d

    if isinstance(module, AnalogLinear):
        yield path, module
    elif isinstance(module, AnalogConv2d):
        for name, layer in module.analog_sublayers():
            yield (*path, name), layer
    elif isinstance(module, AnalogSequential):
        for index, layer in enumerate(module.layers):
            yield from iter_analog_layers(layer, (*path, f"layers_{index}"))
