"""Progress bars and summary lines of the runners and of data preparation."""

from __future__ import annotations

import ast
import logging
import pathlib

import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core.utils import tqdm_utils

import aihw_jax
from aihw_jax.datasets import ArrayDataset, __main__ as datasets_cli
from aihw_jax.datasets._fashion_mnist import _tfds_output
from aihw_jax.experiments import BasicInferencing, BasicTraining, _steps
from aihw_jax.experiments.runners import (
    _inference,
    _inference_sweep,
    run_inference_local,
    run_inference_sweep,
    run_local,
    run_sweep,
)
from aihw_jax.nn import AnalogLinear, AnalogSequential, Flatten, LogSoftmax
from aihw_jax.simulator.configs import FloatingPointRPUConfig, InferenceRPUConfig
from aihw_jax.utils.progress import progress_bar, write_summary

PACKAGE = pathlib.Path(aihw_jax.__file__).parent

# Modules that are command-line programs: printing is their output.
CLI_MODULES = {
    "cli.py",
    "cloud/client/cli.py",
    "datasets/__main__.py",
    "experiments/demo.py",
    "experiments/templates/lenet5.py",
}


def _dataset() -> ArrayDataset:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(48, 4, 4), dtype=np.uint8)
    labels = rng.integers(0, 3, size=48)
    return ArrayDataset(
        train=(images, labels), test=(images[:16], labels[:16]), mean=0.5, std=0.25
    )


def _model(rpu_config=None) -> AnalogSequential:
    return AnalogSequential(
        Flatten(), AnalogLinear(16, 3, rpu_config=rpu_config), LogSoftmax(dim=1)
    )


@pytest.fixture(scope="module")
def training() -> BasicTraining:
    # Floating-point tiles compile fastest; the output does not depend on them.
    model = _model(FloatingPointRPUConfig())
    return BasicTraining(dataset=_dataset(), model=model, epochs=2, batch_size=8)


@pytest.fixture(scope="module")
def inferencing() -> BasicInferencing:
    return BasicInferencing(
        dataset=_dataset(),
        model=_model(InferenceRPUConfig()),
        inference_repeats=2,
        inference_time=100,
    )


def test_progress_bar_disabled_writes_nothing(capsys):
    with progress_bar(False, total=3, desc="Work", unit="step") as bar:
        bar.update(3)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_progress_bar_enabled_draws_on_stderr(capsys):
    with progress_bar(True, total=3, desc="Work", unit="step") as bar:
        bar.update(3)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Work" in captured.err
    assert "3/3" in captured.err


def test_write_summary_logs_always(capsys, caplog):
    logger = logging.getLogger("aihw_jax.test_progress")
    with caplog.at_level(logging.INFO, logger="aihw_jax.test_progress"):
        write_summary(logger, "shown", stdout=True)
        write_summary(logger, "logged only", stdout=False)
    assert capsys.readouterr().out == "shown\n"
    assert [record.getMessage() for record in caplog.records] == [
        "shown",
        "logged only",
    ]


def test_run_local_stdout_shows_bar_and_epochs(training, capsys, caplog):
    with caplog.at_level(logging.INFO, logger="aihw_jax"):
        run_local(training, max_elements=48)
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2: train_loss")
    assert lines[1].startswith("Epoch 2/2: train_loss")
    assert "Epoch 1/2" in captured.err
    assert "6/6" in captured.err  # 48 samples in batches of 8.
    logged = [record.getMessage() for record in caplog.records]
    assert logged == lines


def test_run_local_silent_without_stdout(training, capfd):
    run_local(training, max_elements=48, stdout=False)
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def _fake_sweep_steps(monkeypatch):
    """Replace the compiled steps of run_sweep, whose results these tests ignore."""

    def train_chunk(carries, images, labels, order, mask, keys, rates, values):
        return carries, jnp.zeros(order.shape[:2])

    def make_eval_chunk(model, loss):
        return lambda variables, x, y, mask, key: (jnp.sum(mask), jnp.sum(mask))

    monkeypatch.setattr(_steps, "make_sweep_train_chunk", lambda *_: train_chunk)
    monkeypatch.setattr(_steps, "make_eval_chunk", make_eval_chunk)


def test_run_sweep_stdout_and_silence(training, capsys, monkeypatch):
    _fake_sweep_steps(monkeypatch)
    run_sweep(training, learning_rates=[0.05, 0.1], max_elements=48)
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2: accuracies 1.0000 1.0000")
    assert lines[1].startswith("Epoch 2/2: accuracies 1.0000 1.0000")
    assert "6/6" in captured.err
    run_sweep(training, learning_rates=[0.05, 0.1], max_elements=48, stdout=False)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def _all_correct(variables, batches, times, *rest):
    """Stand in for the compiled evaluation: every sample correct, zero loss."""
    keys = rest[-1]
    correct = jnp.sum(batches[2])
    shape = (len(keys), len(times))
    return np.zeros(shape), np.full(shape, correct)


def test_run_inference_local_stdout_and_silence(inferencing, capsys, monkeypatch):
    monkeypatch.setattr(_inference, "make_evaluate", lambda _: _all_correct)
    run_inference_local(inferencing)
    captured = capsys.readouterr()
    ending = "accuracy 100.00% at t = 0 s, 100.00% at t = 100 s"
    assert captured.out.splitlines() == [
        f"Repeat 1/2: {ending}",
        f"Repeat 2/2: {ending}",
    ]
    assert "Inference" in captured.err
    assert "2/2" in captured.err
    run_inference_local(inferencing, stdout=False)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_run_inference_sweep_stdout_and_silence(inferencing, capsys, monkeypatch):
    monkeypatch.setattr(_inference_sweep, "_pair_function", lambda _: _all_correct)
    values = {"noise_model.prog_noise_scale": [0.5, 1.0]}
    run_inference_sweep(inferencing, values)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    run_inference_sweep(inferencing, values, stdout=True)
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    ending = "mean accuracy over 2 repeats 100.00% at t = 0 s, 100.00% at t = 100 s"
    assert lines == [
        f"Value 1/2 (noise_model.prog_noise_scale = 0.5): {ending}",
        f"Value 2/2 (noise_model.prog_noise_scale = 1): {ending}",
    ]
    assert "4/4" in captured.err


def test_tfds_output_is_scoped_and_logged(capsys, caplog):
    before = tqdm_utils._active
    with caplog.at_level(logging.INFO, logger="aihw_jax"):
        with _tfds_output(False):
            assert tqdm_utils._active is False
            print("Downloading and preparing dataset")
        with _tfds_output(True):
            assert tqdm_utils._active is True
    assert tqdm_utils._active is before
    assert capsys.readouterr().out == ""
    assert "TFDS: Downloading and preparing dataset" in caplog.messages


def test_tfds_output_restores_after_error():
    tfds.display_progress_bar(True)
    with pytest.raises(RuntimeError), _tfds_output(False):
        raise RuntimeError("build failed")
    assert tqdm_utils._active is True


def test_prepare_command_progress_option():
    assert datasets_cli._parse_args(["prepare"]).progress is True
    assert datasets_cli._parse_args(["prepare", "--no-progress"]).progress is False


def _print_calls(path: pathlib.Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
    ]


def test_no_print_in_library_code():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in CLI_MODULES or path.name == "__main__.py":
            continue
        offenders += [f"{relative}:{line}" for line in _print_calls(path)]
    assert offenders == []
