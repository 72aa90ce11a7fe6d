"""Analog and digital layers and losses, with aihwkit's and torch's names."""

from aihw_jax.nn._analog_linear import (
    ANALOG_COLLECTION as ANALOG_COLLECTION,
    INPUTS_COLLECTION as INPUTS_COLLECTION,
    AnalogLinear as AnalogLinear,
    error_perturbations as error_perturbations,
)
from aihw_jax.nn._container import (
    AnalogSequential as AnalogSequential,
    iter_analog_layers as iter_analog_layers,
)
from aihw_jax.nn._digital import (
    Flatten as Flatten,
    LeakyReLU as LeakyReLU,
    Linear as Linear,
    LogSigmoid as LogSigmoid,
    LogSoftmax as LogSoftmax,
    ReLU as ReLU,
    Sigmoid as Sigmoid,
    Softmax as Softmax,
    Tanh as Tanh,
)
from aihw_jax.nn._losses import (
    BCELoss as BCELoss,
    CrossEntropyLoss as CrossEntropyLoss,
    MSELoss as MSELoss,
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
    "error_perturbations",
    "iter_analog_layers",
]
