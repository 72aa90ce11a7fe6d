"""AnalogSGD: pulsed updates for analog tiles, an optax optimizer for the rest."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from aihw_jax.errors import ConfigError
from aihw_jax.nn._analog_linear import (
    ANALOG_COLLECTION,
    INPUT_PERTURBATION_NAME,
    PERTURBATION_NAME,
    update_analog_state,
)
from aihw_jax.nn._container import iter_analog_layers

__all__ = ["AnalogSGD", "AnalogSGDState"]


class AnalogSGDState(NamedTuple):
    """State of :class:`AnalogSGD`: the digital optimizer's state."""

    digital: optax.OptState


def _lookup(tree: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        tree = tree[name]
    return tree


def _replace(tree: dict, path: tuple[str, ...], value: Any) -> dict:
    if not path:
        return value
    head, *rest = path
    return {**tree, head: _replace(tree[head], tuple(rest), value)}


def _check_rate(value: Any, where: str) -> None:
    """Raise ConfigError unless ``value`` is a finite number >= 0 (or traced)."""
    if isinstance(value, jax.core.Tracer):
        return
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, (str, bool)) or not 0.0 <= number < math.inf:
        raise ConfigError(f"`{where}` must be a finite number >= 0, got {value!r}.")


@dataclasses.dataclass(frozen=True)
class AnalogSGD:
    """Stochastic gradient descent with aihwkit's split between analog and digital.

    Digital parameters (``params``: digital layers, digital biases) follow
    torch's SGD with ``momentum`` and ``weight_decay``, or any optax
    optimizer given as ``digital``. Analog tiles get their pulsed update
    with learning rate ``lr`` from each sample's input ``x`` and error
    ``d``. Momentum and weight decay never act on them, as in aihwkit.

    Attributes:
        lr: learning rate of the analog tiles and of the default digital SGD.
        momentum: momentum of the default digital SGD.
        weight_decay: L2 weight decay of the default digital SGD.
        digital: optax optimizer of the digital parameters (replaces the
            default SGD when given).
        update_method: ``"sequential"`` (aihwkit's per-sample order) or
            ``"summed"`` (faster, ignores pulse order at the bounds).
        layer_lr: learning rates of single analog layers, by variable path
            (``"layers_1"``, or ``"layers_0/layers_2"`` when nested), like
            aihwkit's per-layer parameter groups. Other analog layers use
            ``lr``. Given as a dict, stored as sorted pairs.
    """

    lr: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    digital: optax.GradientTransformation | None = None
    update_method: str = "sequential"
    layer_lr: Any = ()

    def __post_init__(self) -> None:
        pairs = self.layer_lr
        if isinstance(pairs, dict):
            pairs = tuple(sorted(pairs.items()))
        if not isinstance(pairs, tuple) or not all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)
            for p in pairs
        ):
            raise ConfigError(
                "`AnalogSGD.layer_lr` must map layer paths such as 'layers_1' to "
                f"learning rates, got {self.layer_lr!r}."
            )
        for path, value in pairs:
            _check_rate(value, f"AnalogSGD.layer_lr[{path!r}]")
        object.__setattr__(self, "layer_lr", pairs)
        for name in ("lr", "momentum", "weight_decay"):
            _check_rate(getattr(self, name), f"AnalogSGD.{name}")
        if self.update_method not in ("sequential", "summed"):
            raise ConfigError(
                "`AnalogSGD.update_method` must be 'sequential' or 'summed', "
                f"got {self.update_method!r}."
            )

    def _digital(self) -> optax.GradientTransformation:
        if self.digital is not None:
            return self.digital
        momentum = self.momentum if self.momentum else None
        return optax.chain(
            optax.add_decayed_weights(self.weight_decay),
            optax.sgd(self.lr, momentum=momentum),
        )

    def init(self, variables: dict[str, Any]) -> AnalogSGDState:
        """Create the optimizer state for a model's variables."""
        return AnalogSGDState(self._digital().init(variables.get("params", {})))

    def step(
        self,
        model: nn.Module,
        variables: dict[str, Any],
        grads: dict[str, Any],
        recorded: dict[str, Any],
        state: AnalogSGDState,
        *,
        key: jax.Array,
    ) -> tuple[dict[str, Any], AnalogSGDState]:
        """Apply one optimizer step.

        Args:
            model: the model definition (an analog layer or ``AnalogSequential``).
            variables: the model's variables.
            grads: gradients of the loss with respect to ``params`` and
                ``perturbations`` (the latter are the per-sample errors ``d``).
            recorded: the ``analog_inputs`` collection of the training forward.
            state: the optimizer state.
            key: key of the pulsed updates' random draws.

        Returns:
            The new variables and optimizer state.
        """
        params = variables.get("params", {})
        updates, digital_state = self._digital().update(
            grads.get("params", {}), state.digital, params
        )
        new_variables = dict(variables)
        new_variables["params"] = optax.apply_updates(params, updates)

        analog = variables.get(ANALOG_COLLECTION, {})
        layers = list(iter_analog_layers(model))
        rates = dict(self.layer_lr)
        unknown = set(rates) - {"/".join(path) for path, _ in layers}
        if unknown:
            known = ", ".join("/".join(path) or "''" for path, _ in layers)
            raise ConfigError(
                f"`AnalogSGD.layer_lr` names {sorted(unknown)}, which are not analog "
                f"layers of this model; its analog layers are: {known}."
            )
        for index, (path, layer) in enumerate(layers):
            layer_recorded = _lookup(recorded, path)
            inputs = layer_recorded["x"]
            x_tiles = jnp.concatenate(inputs, axis=1) if len(inputs) > 1 else inputs[0]
            errors = _lookup(grads["perturbations"], path)
            d = errors[PERTURBATION_NAME]
            ranges = layer_recorded.get("input_range")
            layer_state = _lookup(analog, path)["state"]
            new_state = update_analog_state(
                layer,
                layer_state,
                x_tiles,
                d,
                rates.get("/".join(path), self.lr),
                key=jax.random.fold_in(key, index),
                method=self.update_method,
                dx=errors.get(INPUT_PERTURBATION_NAME),
                input_range=ranges[-1] if ranges else None,
            )
            analog = _replace(analog, (*path, "state"), new_state)
        new_variables[ANALOG_COLLECTION] = analog
        return new_variables, AnalogSGDState(digital_state)
