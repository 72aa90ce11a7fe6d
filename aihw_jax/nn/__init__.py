"""Analog and digital layers and losses, with aihwkit's and torch's names."""

from aihw_jax.nn._analog_linear import (
    ANALOG_COLLECTION as ANALOG_COLLECTION,
)
from aihw_jax.nn._analog_linear import (
    INPUTS_COLLECTION as INPUTS_COLLECTION,
)
from aihw_jax.nn._analog_linear import (
    AnalogLinear as AnalogLinear,
)
from aihw_jax.nn._container import (
    AnalogSequential as AnalogSequential,
)
from aihw_jax.nn._container import (
    iter_analog_layers as iter_analog_layers,
)
from aihw_jax.nn._digital import (
    Flatten as Flatten,
)
from aihw_jax.nn._digital import (
    LeakyReLU as LeakyReLU,
)
from aihw_jax.nn._digital import (
    Linear as Linear,
)
from aihw_jax.nn._digital import (
    LogSigmoid as LogSigmoid,
)
from aihw_jax.nn._digital import (
    LogSoftmax as LogSoftmax,
)
from aihw_jax.nn._digital import (
    ReLU as ReLU,
)
from aihw_jax.nn._digital import (
    Sigmoid as Sigmoid,
)
from aihw_jax.nn._digital import (
    Softmax as Softmax,
)
from aihw_jax.nn._digital import (
    Tanh as Tanh,
)
from aihw_jax.nn._losses import (
    BCELoss as BCELoss,
)
from aihw_jax.nn._losses import (
    CrossEntropyLoss as CrossEntropyLoss,
)
from aihw_jax.nn._losses import (
    MSELoss as MSELoss,
)
from aihw_jax.nn._losses import (
    NLLLoss as NLLLoss,
)

__all__ = [
    "ANALOG_COLLECTION",
    "INPUTS_COLLECTION",
    "AnalogLinear",
    "AnalogSequential",
    "BCELoss",
    "CrossEntropyLoss",
    "Flatten",
    "LeakyReLU",
    "Linear",
    "LogSigmoid",
    "LogSoftmax",
    "MSELoss",
    "NLLLoss",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "iter_analog_layers",
]
