"""BasicInferencing: aihwkit's drift-inference experiment as an immutable pytree."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import numpy as np
from flax import struct

from aihw_jax.errors import ConfigError
from aihw_jax.experiments._training import init_model_variables, load_model_weights
from aihw_jax.nn import CrossEntropyLoss
from aihw_jax.simulator.parameters import _validation as v

__all__ = ["BasicInferencing"]

N_INFERENCE_TIMES = 10
"""Time points of an experiment: 0 and 9 log-spaced times up to inference_time."""


@struct.dataclass
class BasicInferencing:
    """Evaluate ``model`` on simulated chips from programming until ``inference_time``.

    Each repeat programs the analog weights once (fresh programming noise
    and drift exponents), then evaluates the test set at 0 s and at 9
    log-spaced times from 1 s to ``inference_time``, as aihwkit's
    ``BasicInferencing``. ``inference_time`` is the one pytree leaf.

    Attributes:
        dataset: data set class, e.g. ``aihw_jax.datasets.FashionMNIST``.
        model: the network; its analog layers use ``InferenceRPUConfig``.
        batch_size: samples per evaluation batch. Every input vector has its
            own periphery, so the results do not depend on it.
        loss_function: loss class or instance (``CrossEntropyLoss`` by default).
        weight_template_id: where the trained weights come from: a shipped
            template id (``"hwa-trained-lenet5-mapped"``), a path to a
            weights file, an ``http(s)`` URL, or "" for freshly initialised
            weights.
        inference_repeats: number of chips (programmings) to simulate.
        inference_time: the last time point, in seconds after programming.
        remap_weights: accepted for aihwkit compatibility; loaded weights
            are used as stored (their mapping scales are in the template).
    """

    dataset: Any = struct.field(pytree_node=False)
    model: nn.Module = struct.field(pytree_node=False)
    batch_size: int = struct.field(pytree_node=False, default=10)
    loss_function: Any = struct.field(pytree_node=False, default=CrossEntropyLoss)
    weight_template_id: str = struct.field(pytree_node=False, default="")
    inference_repeats: int = struct.field(pytree_node=False, default=2)
    inference_time: float = 86400.0
    remap_weights: bool = struct.field(pytree_node=False, default=True)

    def __post_init__(self) -> None:
        v.check_int(self, "batch_size", low=1)
        v.check_int(self, "inference_repeats", low=1)
        v.check_number(self, "inference_time", low=1.0)
        v.check_bool(self, "remap_weights")
        if not isinstance(self.weight_template_id, str):
            raise ConfigError(
                "`BasicInferencing.weight_template_id` must be a path, a URL or '', "
                f"got {self.weight_template_id!r}."
            )
        if not isinstance(self.model, nn.Module):
            raise ConfigError(
                "`BasicInferencing.model` must be a flax Module such as "
                f"AnalogSequential, got {type(self.model).__name__}."
            )
        if not hasattr(self.dataset, "load"):
            raise ConfigError(
                "`BasicInferencing.dataset` must be a data set with a `load` method, "
                "such as aihw_jax.datasets.FashionMNIST, SVHN, TFDSDataset(...) or "
                f"ArrayDataset(...); got {self.dataset!r}."
            )

    @property
    def loss(self) -> Any:
        """The loss function instance."""
        loss = self.loss_function
        return loss() if isinstance(loss, type) else loss

    def times(self) -> np.ndarray:
        """Return the time points in seconds: 0, then 9 log-spaced values from 1 s.

        Examples:
            >>> from aihw_jax.datasets import FashionMNIST
            >>> from aihw_jax.nn import AnalogLinear
            >>> study = BasicInferencing(
            ...     dataset=FashionMNIST, model=AnalogLinear(784, 10),
            ...     inference_time=1e4)
            >>> study.times().round(1).tolist()
            [0.0, 1.0, 3.2, 10.0, 31.6, 100.0, 316.2, 1000.0, 3162.3, 10000.0]
        """
        last = float(self.inference_time)
        return np.concatenate(
            [[0.0], np.logspace(0.0, np.log10(last), N_INFERENCE_TIMES - 1)]
        )

    def init_variables(self, key: jax.Array) -> dict[str, Any]:
        """Initialise the model's variables (``params`` and ``analog``) from ``key``."""
        return init_model_variables(self.model, self.dataset, key)

    def load_weights(self, data: bytes) -> dict[str, Any]:
        """Restore variables serialised for this model (e.g. by a training run)."""
        return load_model_weights(self.model, self.dataset, data)
