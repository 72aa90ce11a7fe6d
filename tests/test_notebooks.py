"""Execute every notebook top to bottom in a Jupyter kernel, at a small size.

Each notebook runs in its own ipykernel process, started from this Python
(a kernelspec written to a temporary directory), with ``notebooks/`` as the
working directory. The ``AIHW_JAX_NOTEBOOK_*`` variables turn the sizes
down, ``MPLBACKEND=Agg`` keeps matplotlib off any display, and
``AIHW_API_URL``/``AIHW_API_TOKEN`` are removed so that the cloud notebook
starts its own service on 127.0.0.1. The last code cell of every notebook
prints ``summary {json}``, and the tests check those values.

The notebooks run concurrently, two kernels at a time, because most of
their time goes to single-threaded XLA compilation. One module fixture
executes every notebook that the session selected, so the first test also
waits for the others.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import socket
import sys
import time
import urllib.parse

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL_NAME = "aihw-jax-notebook-tests"
CONCURRENT_KERNELS = 2
CELL_TIMEOUT_S = 600
"""Seconds one cell may run before nbclient stops the notebook."""

SMALL_SIZE = {
    "AIHW_JAX_NOTEBOOK_SAMPLES": "256",
    "AIHW_JAX_NOTEBOOK_EPOCHS": "2",
    "AIHW_JAX_NOTEBOOK_REPEATS": "2",
}
"""Sizes for notebooks without an entry in SIZES."""
SIZES = {
    # 2 repeats x 50 images x 10 times: about 1000 LeNet-5 evaluations at once,
    # about 2 GB (estimated from 1 MB per evaluation, measured on CPU).
    "local_inference_drift": {
        "AIHW_JAX_NOTEBOOK_SAMPLES": "50",
        "AIHW_JAX_NOTEBOOK_REPEATS": "2",
    },
    "cloud_training_inference": {
        "AIHW_JAX_NOTEBOOK_SAMPLES": "256",
        "AIHW_JAX_NOTEBOOK_EPOCHS": "1",
        "AIHW_JAX_NOTEBOOK_REPEATS": "2",
    },
    # 4 repeats x 4 noise scales fill one call of 16 pairs, so the sweep
    # compiles one function.
    "vmap_sweeps": {
        "AIHW_JAX_NOTEBOOK_SAMPLES": "256",
        "AIHW_JAX_NOTEBOOK_EPOCHS": "2",
        "AIHW_JAX_NOTEBOOK_REPEATS": "4",
    },
    "device_presets": {"AIHW_JAX_NOTEBOOK_SAMPLES": "50"},
}
EXPECTED_SECONDS = {
    "local_inference_drift": 100,
    "vmap_sweeps": 75,
    "cloud_training_inference": 55,
    "local_training": 45,
    "device_presets": 20,
}
"""Run times measured on a busy 2-core CPU, used only to start the longest first."""
INFERENCE_TIMES = 10
"""Time points of every BasicInferencing: t = 0 and 9 log-spaced times."""


def _size(path: pathlib.Path) -> dict[str, str]:
    return SIZES.get(path.stem, SMALL_SIZE)


def _kernel_environment(path: pathlib.Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("AIHW_API_URL", "AIHW_API_TOKEN")
        and not name.startswith("AIHW_JAX_NOTEBOOK_")
    }
    python_path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = (
        f"{REPO_ROOT}{os.pathsep}{python_path}" if python_path else str(REPO_ROOT)
    )
    env["MPLBACKEND"] = "Agg"
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    # debugpy warns on every kernel start that frozen modules hide breakpoints.
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.update(_size(path))
    return env


def _write_kernelspec(directory: pathlib.Path) -> KernelSpecManager:
    """Write a kernelspec that runs ipykernel with this test's Python."""
    spec_dir = directory / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "aihw_jax notebook tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return KernelSpecManager(kernel_dirs=[str(directory)])


async def _execute(
    path: pathlib.Path,
    specs: KernelSpecManager,
    slots: asyncio.Semaphore,
    output_dir: pathlib.Path,
) -> tuple[nbformat.NotebookNode | BaseException, float]:
    """Run one notebook and return it with its outputs (or the error) and seconds.

    The executed notebook, outputs included, is also written to ``output_dir``.
    """
    async with slots:
        start = time.monotonic()
        notebook = nbformat.read(path, as_version=4)
        manager = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
        client = NotebookClient(
            notebook,
            km=manager,
            timeout=CELL_TIMEOUT_S,
            resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
        )
        try:
            # cleanup_kc: shut the kernel down and close its sockets afterwards,
            # which nbclient skips by default for a kernel manager it was given.
            await client.async_execute(cleanup_kc=True, env=_kernel_environment(path))
            outcome = notebook
        # RuntimeError: jupyter_client's error for a kernel that fails to start.
        except (
            CellExecutionError,
            CellTimeoutError,
            DeadKernelError,
            RuntimeError,
        ) as error:  # Re-raised by the notebook's own test.
            outcome = error
        finally:
            nbformat.write(notebook, output_dir / path.name)
        return outcome, time.monotonic() - start


async def _execute_all(
    paths: list[pathlib.Path], specs: KernelSpecManager, output_dir: pathlib.Path
) -> dict[pathlib.Path, tuple]:
    slots = asyncio.Semaphore(CONCURRENT_KERNELS)
    ordered = sorted(paths, key=lambda path: -EXPECTED_SECONDS.get(path.stem, 60))
    outcomes = await asyncio.gather(
        *(_execute(path, specs, slots, output_dir) for path in ordered)
    )
    return dict(zip(ordered, outcomes))


@pytest.fixture(scope="module")
def executed(request, tmp_path_factory) -> dict[pathlib.Path, tuple]:
    """Execute the notebooks of every selected test of this module."""
    selected = {
        item.callspec.params["path"]
        for item in request.session.items
        if "executed" in getattr(item, "fixturenames", ())
        and item.module is not None
        and item.module.__name__ == __name__
    }
    specs = _write_kernelspec(tmp_path_factory.mktemp("kernels"))
    output_dir = tmp_path_factory.mktemp("executed")
    outcomes = asyncio.run(_execute_all(sorted(selected), specs, output_dir))
    for path, (_, seconds) in outcomes.items():
        print(f"{path.name}: {seconds:.1f} s, executed copy in {output_dir}")
    return outcomes


def _summary(outcome: tuple) -> dict:
    """Return the ``summary`` dict printed by the notebook's last code cell."""
    notebook, _ = outcome
    if isinstance(notebook, BaseException):
        raise notebook
    last_cell = [cell for cell in notebook.cells if cell.cell_type == "code"][-1]
    text = "".join(
        output.get("text", "")
        for output in last_cell.outputs
        if output.output_type == "stream" and output.name == "stdout"
    )
    lines = [line for line in text.splitlines() if line.startswith("summary ")]
    assert lines, f"The last cell printed no summary line:\n{text}"
    return json.loads(lines[-1].removeprefix("summary "))


def _size_of(stem: str, name: str) -> int:
    return int(SIZES.get(stem, SMALL_SIZE)[f"AIHW_JAX_NOTEBOOK_{name}"])


def _assert_percentages(values: list[float]) -> None:
    assert values
    for value in values:
        assert 0.0 <= value <= 100.0, values


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_outputs_stripped(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{path.name}: a code cell has outputs"
        assert cell.execution_count is None, f"{path.name}: a cell has a count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs(path, executed):
    summary = _summary(executed[path])
    assert isinstance(summary, dict)


@pytest.mark.parametrize(
    "path", [NOTEBOOK_DIR / "local_training.ipynb"], ids=["local_training"]
)
def test_local_training_values(path, executed):
    summary = _summary(executed[path])
    assert summary["epochs"] == _size_of(path.stem, "EPOCHS")
    _assert_percentages(summary["accuracy_percent"])
    assert len(summary["accuracy_percent"]) == summary["epochs"]
    losses = summary["train_loss"]
    assert losses[-1] < losses[0], losses
    # ConstantStepDevice bounds are ±0.6 with a 30 % device-to-device spread.
    assert 0.0 < summary["max_abs_weight"] < 1.2


@pytest.mark.parametrize(
    "path",
    [NOTEBOOK_DIR / "local_inference_drift.ipynb"],
    ids=["local_inference_drift"],
)
def test_local_inference_values(path, executed):
    summary = _summary(executed[path])
    assert summary["repeats"] == _size_of(path.stem, "REPEATS")
    assert len(summary["t_inference"]) == INFERENCE_TIMES
    assert summary["t_inference"][0] == 0.0
    assert summary["t_inference"][-1] == pytest.approx(86400.0)
    for name in ("compensated", "uncompensated"):
        _assert_percentages(summary[name])
        assert len(summary[name]) == INFERENCE_TIMES
        # The template scored 62 to 80 % on the first 50 to 200 test images;
        # guessing scores 10 %.
        assert summary[name][0] > 40.0, summary[name]


@pytest.mark.parametrize(
    "path",
    [NOTEBOOK_DIR / "cloud_training_inference.ipynb"],
    ids=["cloud_training_inference"],
)
def test_cloud_values(path, executed):
    summary = _summary(executed[path])
    epochs = _size_of(path.stem, "EPOCHS")
    assert summary["training_status"] == "COMPLETED"
    assert summary["epochs"] == epochs
    assert summary["stored_epochs"] == epochs
    _assert_percentages(summary["training_accuracy_percent"])
    assert summary["matches_local"] is True
    assert summary["fetched_matches"] is True
    assert summary["inference_repeats"] == _size_of(path.stem, "REPEATS")
    assert len(summary["inference_accuracy_percent"]) == INFERENCE_TIMES
    _assert_percentages(summary["inference_accuracy_percent"])
    assert summary["listed_ids"] == [summary["inference_id"], summary["training_id"]]


@pytest.mark.parametrize(
    "path",
    [NOTEBOOK_DIR / "cloud_training_inference.ipynb"],
    ids=["cloud_training_inference"],
)
def test_cloud_service_stopped(path, executed):
    summary = _summary(executed[path])
    url = urllib.parse.urlsplit(summary["api_url"])
    assert url.hostname == "127.0.0.1"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((url.hostname, url.port), timeout=5).close()


@pytest.mark.parametrize(
    "path", [NOTEBOOK_DIR / "vmap_sweeps.ipynb"], ids=["vmap_sweeps"]
)
def test_sweep_values(path, executed):
    summary = _summary(executed[path])
    repeats = _size_of(path.stem, "REPEATS")
    rates = summary["learning_rates"]
    assert len(summary["training_accuracy_percent"]) == len(rates)
    assert summary["epochs"] == [_size_of(path.stem, "EPOCHS")] * len(rates)
    _assert_percentages(summary["training_accuracy_percent"])
    assert summary["repeats"] == repeats
    assert len(summary["seed_accuracy_percent"]) == INFERENCE_TIMES
    _assert_percentages(summary["seed_accuracy_percent"])
    values = summary["sweep_values"]
    assert summary["sweep_shape"] == [len(values), repeats, INFERENCE_TIMES]
    _assert_percentages(summary["sweep_accuracy_range"])


@pytest.mark.parametrize(
    "path", [NOTEBOOK_DIR / "device_presets.ipynb"], ids=["device_presets"]
)
def test_device_preset_values(path, executed):
    summary = _summary(executed[path])
    assert summary["devices"] == _size_of(path.stem, "SAMPLES")
    responses = summary["responses"]
    assert len(responses) == 4
    for name, response in responses.items():
        # Up pulses raise the weight from 0, the down pulses lower it again.
        assert response["mean_after_up"] > 0.0, name
        assert response["mean_after_down"] < response["mean_after_up"], name
        assert response["std_after_up"] >= 0.0, name
