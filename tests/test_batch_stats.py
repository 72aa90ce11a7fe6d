"""Running statistics of BatchNorm2d through the training runner and weights files."""

import numpy as np
import pytest

from aihw_jax.datasets import ArrayDataset
from aihw_jax.experiments import BasicTraining
from aihw_jax.experiments.runners import run_local
from aihw_jax.nn import AnalogLinear, AnalogSequential, BatchNorm2d, Flatten, LogSoftmax


def _dataset(value: float, count: int) -> ArrayDataset:
    images = np.full((count, 4, 4, 1), value, np.float32)
    labels = np.arange(count, dtype=np.int32) % 2
    return ArrayDataset(train=(images, labels), test=(images, labels))


@pytest.mark.parametrize("momentum", [0.1, None], ids=["momentum", "cumulative"])
def test_training_moves_the_running_statistics(momentum):
    # Every image is the constant 0.5, so each batch has mean 0.5 and
    # variance 0: after k steps the running mean is 0.5 (1 - 0.9^k) and the
    # running variance 0.9^k (momentum 0.1), or 0.5 and 0 (cumulative).
    model = AnalogSequential(
        BatchNorm2d(1, momentum=momentum), Flatten(), AnalogLinear(16, 2), LogSoftmax()
    )
    experiment = BasicTraining(
        dataset=_dataset(0.5, 48), model=model, batch_size=16, epochs=2
    )
    result = run_local(experiment, seed=0, stdout=False)
    variables = experiment.load_weights(result["weights"])
    stats = variables["batch_stats"]["layers_0"]
    steps = 2 * 3
    if momentum is None:
        mean, var = 0.5, 0.0
    else:
        mean, var = 0.5 * (1 - 0.9**steps), 0.9**steps
    np.testing.assert_allclose(stats["running_mean"], [mean], rtol=1e-5)
    np.testing.assert_allclose(stats["running_var"], [var], rtol=1e-5, atol=1e-7)
    assert int(stats["num_batches_tracked"]) == steps
