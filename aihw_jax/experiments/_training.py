"""BasicTraining: aihwkit's training experiment as an immutable pytree."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from aihw_jax import serialization
from aihw_jax.errors import ConfigError
from aihw_jax.experiments import _steps
from aihw_jax.nn import NLLLoss
from aihw_jax.simulator.parameters import _validation as v

__all__ = ["BasicTraining"]


@struct.dataclass
class BasicTraining:
    """Train ``model`` on ``dataset`` with AnalogSGD, as aihwkit's BasicTraining.

    The dataset, model, batch size, loss and number of epochs are static
    fields; ``learning_rate`` is the one pytree leaf. Change a field with
    ``.replace(epochs=5)``.

    Attributes:
        dataset: data set class, e.g. ``aihw_jax.datasets.FashionMNIST``.
        model: the network, e.g. an ``AnalogSequential``.
        batch_size: samples per mini-batch (shuffled each epoch).
        loss_function: loss class or instance (``NLLLoss`` by default).
        epochs: number of passes over the training set.
        learning_rate: learning rate of the analog and digital parameters.
    """

    dataset: Any = struct.field(pytree_node=False)
    model: nn.Module = struct.field(pytree_node=False)
    batch_size: int = struct.field(pytree_node=False, default=64)
    loss_function: Any = struct.field(pytree_node=False, default=NLLLoss)
    epochs: int = struct.field(pytree_node=False, default=30)
    learning_rate: float = 0.05

    def __post_init__(self) -> None:
        v.check_int(self, "batch_size", low=1)
        v.check_int(self, "epochs", low=1)
        v.check_number(self, "learning_rate", low=0.0, low_open=True)
        if not isinstance(self.model, nn.Module):
            raise ConfigError(
                f"`BasicTraining.model` must be a flax Module such as AnalogSequential, "
                f"got {type(self.model).__name__}."
            )
        if not hasattr(self.dataset, "load"):
            raise ConfigError(
                "`BasicTraining.dataset` must be a data set with a `load` method, such "
                "as aihw_jax.datasets.FashionMNIST, SVHN, TFDSDataset(...) or "
                f"ArrayDataset(...); got {self.dataset!r}."
            )

    @property
    def loss(self) -> Any:
        """The loss function instance."""
        loss = self.loss_function
        return loss() if isinstance(loss, type) else loss

    def init_variables(self, key: jax.Array) -> dict[str, Any]:
        """Initialise the model's variables (``params`` and ``analog``) from ``key``."""
        return init_model_variables(self.model, self.dataset, key)

    def load_weights(self, data: bytes) -> dict[str, Any]:
        """Restore variables serialised by a run of this experiment."""
        return load_model_weights(self.model, self.dataset, data)


def init_model_variables(model: nn.Module, dataset: Any, key: jax.Array) -> dict:
    """Initialise the variables of ``model`` for one sample of ``dataset``.

    Returns ``params``, ``analog`` and, for models with running statistics,
    ``batch_stats``; the inputs recorded by the initial forward are dropped.
    """
    shape = (1, *getattr(dataset, "image_shape", ()))
    return _init_function(model, shape)(key)


@_steps.cached
def _init_function(model: nn.Module, shape: tuple[int, ...]):
    @jax.jit
    def init(key):
        variables = model.init({"params": key}, jnp.zeros(shape, jnp.float32))
        return {
            name: variables[name]
            for name in serialization.SAVED_COLLECTIONS
            if name in variables
        }

    return init


def load_model_weights(model: nn.Module, dataset: Any, data: bytes) -> dict:
    """Restore serialised variables, checked against ``model``'s own shapes."""
    template = jax.eval_shape(
        lambda: init_model_variables(model, dataset, jax.random.key(0))
    )
    template = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), template)
    return serialization.variables_from_bytes(template, data)
