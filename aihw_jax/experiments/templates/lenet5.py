"""The hardware-aware-trained LeNet-5 of aihwkit's inference example.

``python -m aihw_jax.experiments.templates.lenet5 --epochs N --output FILE``
trains it on Fashion-MNIST and writes the weights template. The network and
its config follow aihwkit's mapped LeNet-5 example; images are channels last.
"""

from __future__ import annotations

import argparse
import pathlib

from aihw_jax.datasets import FashionMNIST
from aihw_jax.experiments._training import BasicTraining
from aihw_jax.inference import PCMLikeNoiseModel
from aihw_jax.nn import (
    AnalogConv2dMapped,
    AnalogLinearMapped,
    AnalogSequential,
    Flatten,
    LogSoftmax,
    MaxPool2d,
    Tanh,
)
from aihw_jax.nn._digital_conv import Unflatten
from aihw_jax.simulator.configs import (
    InferenceRPUConfig,
    MappingParameter,
    WeightClipParameter,
    WeightClipType,
    WeightModifierParameter,
    WeightModifierType,
    WeightRemapParameter,
    WeightRemapType,
)

TEMPLATE_ID = "hwa-trained-lenet5-mapped"
"""Id of the shipped template."""


def lenet5_config() -> InferenceRPUConfig:
    """Return the inference config of the example: PCM, remap, clip, modifier."""
    return InferenceRPUConfig(
        noise_model=PCMLikeNoiseModel(g_max=25.0),
        remap=WeightRemapParameter(type=WeightRemapType.CHANNELWISE_SYMMETRIC),
        clip=WeightClipParameter(type=WeightClipType.LAYER_GAUSSIAN, sigma=2.5),
        modifier=WeightModifierParameter(
            type=WeightModifierType.ADD_NORMAL, std_dev=0.1397
        ),
        mapping=MappingParameter(
            digital_bias=True,
            learn_out_scaling=True,
            max_input_size=512,
            max_output_size=512,
        ),
    )


def lenet5_mapped(config: InferenceRPUConfig | None = None) -> AnalogSequential:
    """Build the mapped LeNet-5 for ``[N, 28, 28]`` images (10 classes)."""
    config = lenet5_config() if config is None else config
    return AnalogSequential(
        Unflatten(2, (28, 1)),
        AnalogConv2dMapped(1, 16, kernel_size=5, rpu_config=config),
        Tanh(),
        MaxPool2d(kernel_size=2),
        AnalogConv2dMapped(16, 32, kernel_size=5, rpu_config=config),
        Tanh(),
        MaxPool2d(kernel_size=2),
        Tanh(),
        Flatten(),
        AnalogLinearMapped(512, 128, rpu_config=config),
        Tanh(),
        AnalogLinearMapped(128, 10, rpu_config=config),
        LogSoftmax(dim=1),
    )


def main(argv: list[str] | None = None) -> None:
    """Train the template and write its weights."""
    from aihw_jax.experiments.runners import run_local

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--max-elements", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=pathlib.Path, required=True)
    args = parser.parse_args(argv)

    experiment = BasicTraining(
        dataset=FashionMNIST,
        model=lenet5_mapped(),
        epochs=args.epochs,
        batch_size=64,
        learning_rate=args.learning_rate,
    )
    result = run_local(experiment, seed=args.seed, max_elements=args.max_elements)
    args.output.write_bytes(result["weights"])
    print(f"Wrote {args.output} ({len(result['weights'])} bytes).")


if __name__ == "__main__":
    main()
