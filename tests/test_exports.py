"""The public import paths, which mirror aihwkit's."""

from __future__ import annotations

import aihw_jax.datasets
import aihw_jax.experiments
import aihw_jax.experiments.runners
import aihw_jax.nn
import aihw_jax.optim
import aihw_jax.simulator.configs


def test_public_names():
    assert set(aihw_jax.experiments.__all__) == {"BasicInferencing", "BasicTraining"}
    assert set(aihw_jax.experiments.runners.__all__) == {
        "CloudRunner",
        "InferenceCloudRunner",
        "InferenceLocalRunner",
        "LocalRunner",
        "run_cloud",
        "run_inference_local",
        "run_inference_sweep",
        "run_local",
        "run_sweep",
    }
    assert set(aihw_jax.optim.__all__) == {"AnalogSGD", "AnalogSGDState"}
    assert {"FashionMNIST", "SVHN", "TFDSDataset", "ArrayDataset"} <= set(
        aihw_jax.datasets.__all__
    )
    assert {
        "AnalogLinear",
        "AnalogSequential",
        "Flatten",
        "Linear",
        "Sigmoid",
        "Tanh",
        "ReLU",
        "LeakyReLU",
        "LogSigmoid",
        "Softmax",
        "LogSoftmax",
        "NLLLoss",
        "CrossEntropyLoss",
        "MSELoss",
        "BCELoss",
        "AnalogConv2d",
        "AnalogConv2dMapped",
        "AnalogLinearMapped",
        "Conv2d",
        "MaxPool2d",
        "BatchNorm2d",
        "program_analog_weights",
        "drift_analog_weights",
    } <= set(aihw_jax.nn.__all__)
    assert {
        "IOParameters",
        "UpdateParameters",
        "ConstantStepDevice",
        "SingleRPUConfig",
        "FloatingPointRPUConfig",
        "MappingParameter",
        "NoiseManagementType",
        "BoundManagementType",
        "PulseType",
        "WeightNoiseType",
    } <= set(aihw_jax.simulator.configs.__all__)


def test_every_exported_name_exists():
    for module in (
        aihw_jax.datasets,
        aihw_jax.experiments,
        aihw_jax.experiments.runners,
        aihw_jax.nn,
        aihw_jax.optim,
        aihw_jax.simulator.configs,
    ):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
