"""Render the example plots of the docs into ``docs/images``.

Run ``python docs/plots.py`` from the repository root (needs matplotlib and
the Fashion-MNIST data). It writes three images from small runs:

* ``training_curves.png``: the documented 3-layer analog network, trained
  on the first ``--train-elements`` images.
* ``inference_accuracy.png``: the shipped ``hwa-trained-lenet5-mapped``
  template over one year after programming, with and without global drift
  compensation, on the first ``--test-elements`` test images.
* ``tile_histograms.png``: the template's weights and the PCM conductances
  they are programmed to.
"""

from __future__ import annotations

import argparse
import pathlib

from aihw_jax.datasets import FashionMNIST
from aihw_jax.experiments import BasicInferencing, BasicTraining
from aihw_jax.experiments.demo import documented_model
from aihw_jax.experiments.runners import run_inference_local, run_local
from aihw_jax.experiments.templates import read_template
from aihw_jax.experiments.templates.lenet5 import (
    TEMPLATE_ID,
    lenet5_config,
    lenet5_mapped,
)
from aihw_jax.utils import (
    plot_inference_accuracy,
    plot_tile_histograms,
    plot_training_curves,
)

IMAGES = pathlib.Path(__file__).parent / "images"
# NOTE: run_inference_local evaluates all repeats and time points of a chunk
# of up to 500 test images at once. On CPU, 5 repeats of 500 images of this
# LeNet-5 grew to 19.5 GB of resident memory and were killed on a 23 GB
# machine, hence the small defaults of --test-elements and --repeats.
ONE_YEAR_S = 365 * 86400.0


def render_training_curves(max_elements: int, epochs: int) -> pathlib.Path:
    """Train the documented network briefly and plot its epochs."""
    experiment = BasicTraining(
        dataset=FashionMNIST, model=documented_model(), epochs=epochs
    )
    result = run_local(experiment, seed=0, max_elements=max_elements)
    path = IMAGES / "training_curves.png"
    plot_training_curves(
        result,
        path=path,
        title=(
            f"3-layer analog network, first {max_elements} Fashion-MNIST "
            "training and test images"
        ),
    )
    return path


def render_inference_accuracy(max_elements: int, repeats: int) -> pathlib.Path:
    """Evaluate the template with and without drift compensation and plot both."""
    results = {}
    for label, config in (
        ("global drift compensation", lenet5_config()),
        ("no drift compensation", lenet5_config().replace(drift_compensation=None)),
    ):
        experiment = BasicInferencing(
            dataset=FashionMNIST,
            model=lenet5_mapped(config),
            inference_repeats=repeats,
            inference_time=ONE_YEAR_S,
            weight_template_id=TEMPLATE_ID,
        )
        results[label] = run_inference_local(
            experiment, seed=0, max_elements=max_elements
        )
    path = IMAGES / "inference_accuracy.png"
    plot_inference_accuracy(
        results,
        path=path,
        title=(
            f"HWA-trained LeNet-5 on PCM, {repeats} chips, first {max_elements} "
            "test images"
        ),
    )
    return path


def render_tile_histograms() -> pathlib.Path:
    """Plot the template's weights and PCM conductances, layer by layer."""
    model = lenet5_mapped()
    experiment = BasicInferencing(dataset=FashionMNIST, model=model)
    variables = experiment.load_weights(read_template(TEMPLATE_ID))
    path = IMAGES / "tile_histograms.png"
    plot_tile_histograms(
        model,
        variables,
        path=path,
        title="HWA-trained LeNet-5: weights and PCM target conductances",
    )
    return path


def main(argv: list[str] | None = None) -> None:
    """Render the three images."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--train-elements",
        type=int,
        default=3000,
        help="training and validation images of the training run (default 3000)",
    )
    parser.add_argument(
        "--epochs", type=int, default=10, help="training epochs (default 10)"
    )
    parser.add_argument(
        "--test-elements",
        type=int,
        default=200,
        help="test images of the inference runs (default 200)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="simulated chips per inference curve (default 3)",
    )
    args = parser.parse_args(argv)
    IMAGES.mkdir(parents=True, exist_ok=True)
    for path in (
        render_training_curves(args.train_elements, args.epochs),
        render_inference_accuracy(args.test_elements, args.repeats),
        render_tile_histograms(),
    ):
        print(f"Wrote {path}")


if __name__ == "__main__":
    main()
