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
from aihw_jax.nn._conv import AnalogConv2d as AnalogConv2d
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
from aihw_jax.nn._digital_conv import (
    BATCH_STATS_COLLECTION as BATCH_STATS_COLLECTION,
    BatchNorm2d as BatchNorm2d,
    Conv2d as Conv2d,
    ConvTranspose2d as ConvTranspose2d,
    MaxPool2d as MaxPool2d,
    Unflatten as Unflatten,
)
from aihw_jax.nn._inference import (
    drift_analog_weights as drift_analog_weights,
    program_analog_weights as program_analog_weights,
)
from aihw_jax.nn._losses import (
    BCELoss as BCELoss,
    CrossEntropyLoss as CrossEntropyLoss,
    MSELoss as MSELoss,
    NLLLoss as NLLLoss,
)
from aihw_jax.nn._mapped import (
    AnalogConv2dMapped as AnalogConv2dMapped,
    AnalogLinearMapped as AnalogLinearMapped,
)

__all__ = [
    "ANALOG_COLLECTION",
    "BATCH_STATS_COLLECTION",
    "INPUTS_COLLECTION",
    "AnalogConv2d",
    "AnalogConv2dMapped",
    "AnalogLinear",
    "AnalogLinearMapped",
    "AnalogSequential",
    "BCELoss",
    "BatchNorm2d",
    "Conv2d",
    "ConvTranspose2d",
    "CrossEntropyLoss",
    "Flatten",
    "LeakyReLU",
    "Linear",
    "LogSigmoid",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "NLLLoss",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "Unflatten",
    "drift_analog_weights",
    "error_perturbations",
    "iter_analog_layers",
    "program_analog_weights",
]
