"""End-to-end tests of the Composer client against a real service on 127.0.0.1.

One service (one Dask worker) serves the whole module. The jobs are small
(200 samples, one epoch) and are compared with local runs of the same
experiment and seed.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from _cloud_info import ANALOG_INFO, NOISE_MODEL_INFO
from _service import start_service

from aihw_jax.cloud.client import CloudExperiment, CloudJobStatus
from aihw_jax.cloud.converter import apply_info
from aihw_jax.datasets import FashionMNIST
from aihw_jax.errors import ApiResponseError, CredentialsError, ExperimentStatusError
from aihw_jax.experiments import BasicInferencing, BasicTraining
from aihw_jax.experiments.runners import (
    CloudRunner,
    InferenceCloudRunner,
    run_cloud,
    run_inference_local,
    run_local,
)
from aihw_jax.nn import AnalogLinear, AnalogSequential, Flatten, LogSoftmax
from aihw_jax.simulator.configs import InferenceRPUConfig

SAMPLES = 200
SEED = 7
JOB_TIMEOUT_S = 150


def _training_experiment() -> BasicTraining:
    model = AnalogSequential(Flatten(), AnalogLinear(784, 10), LogSoftmax(dim=1))
    return BasicTraining(
        dataset=FashionMNIST, model=model, epochs=1, batch_size=20, learning_rate=0.1
    )


def _inference_experiment() -> BasicInferencing:
    model = AnalogSequential(
        Flatten(), AnalogLinear(784, 10, rpu_config=InferenceRPUConfig())
    )
    return BasicInferencing(
        dataset=FashionMNIST,
        model=model,
        inference_repeats=2,
        inference_time=3600.0,
    )


def _without_timing(value):
    """Return ``value`` with the wall-clock fields removed, recursively."""
    if isinstance(value, dict):
        return {
            key: _without_timing(item)
            for key, item in value.items()
            if key not in ("time_epoch", "time_elapsed")
        }
    if isinstance(value, list):
        return [_without_timing(item) for item in value]
    return value


def _assert_trees_equal(actual, expected):
    assert jax.tree.structure(actual) == jax.tree.structure(expected)
    for got, want in zip(jax.tree.leaves(actual), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """One service with two users for the whole module."""
    running = start_service(tmp_path_factory.mktemp("composer"), workers=1)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def tokens(service):
    return {"alice": service.add_user("alice"), "bob": service.add_user("bob")}


@pytest.fixture(scope="module")
def runner(service, tokens):
    with CloudRunner(api_url=service.base_url, api_token=tokens["alice"]) as opened:
        yield opened


@pytest.fixture(scope="module")
def submitted(service, tokens, runner):
    """Submit the training and the inference experiment before any test waits."""
    training = runner.run(
        _training_experiment(),
        name="e2e training",
        device="cpu",
        max_elements=SAMPLES,
        seed=SEED,
    )
    inference_runner = InferenceCloudRunner(
        api_url=service.base_url, api_token=tokens["alice"]
    )
    with inference_runner:
        inference = inference_runner.run(
            _inference_experiment(),
            ANALOG_INFO,
            NOISE_MODEL_INFO,
            name="e2e inference",
            device="cpu",
            max_elements=SAMPLES,
            seed=SEED,
        )
    # The runner's session is closed; reopen the handle through `runner`.
    inference = runner.get_cloud_experiment(inference.id)
    return {"training": training, "inference": inference}


def test_training_submitted_as_waiting(submitted):
    handle = submitted["training"]
    assert repr(handle).endswith("status=WAITING)")
    assert handle.category == "train"
    assert handle.job_id is not None


def test_result_before_completion_raises(submitted):
    handle = submitted["training"]
    with pytest.raises(TimeoutError, match=handle.id):
        handle.wait(timeout=0.01, poll_interval=0.01)
    # The job needs seconds to compile, so it is still waiting or running.
    with pytest.raises(ExperimentStatusError, match="get the result"):
        handle.get_result()


def test_training_matches_local_run(submitted):
    handle = submitted["training"]
    assert handle.wait(timeout=JOB_TIMEOUT_S, progress=True) is CloudJobStatus.COMPLETED

    experiment = _training_experiment()
    local = run_local(experiment, seed=SEED, max_elements=SAMPLES, stdout=False)
    cloud_epochs = handle.get_result()
    assert isinstance(cloud_epochs, list)
    assert _without_timing(cloud_epochs) == _without_timing(local["epochs"])
    assert all(epoch["time_epoch"] > 0 for epoch in cloud_epochs)
    _assert_trees_equal(handle.get_weights(), experiment.load_weights(local["weights"]))


def test_training_experiment_round_trips(submitted):
    stored = submitted["training"].get_experiment()
    original = _training_experiment()
    assert isinstance(stored, BasicTraining)
    assert stored.epochs == original.epochs
    assert stored.batch_size == original.batch_size
    assert stored.learning_rate == pytest.approx(original.learning_rate)
    assert stored.dataset is FashionMNIST


def test_inference_matches_local_run(submitted):
    handle = submitted["inference"]
    assert handle.wait(timeout=JOB_TIMEOUT_S) is CloudJobStatus.COMPLETED
    assert handle.category == "inference"

    experiment = apply_info(_inference_experiment(), ANALOG_INFO, NOISE_MODEL_INFO)
    local = run_inference_local(
        experiment, seed=SEED, max_elements=SAMPLES, stdout=False
    )
    cloud = handle.get_result()
    assert set(cloud) == {"inference_runs"}
    assert _without_timing(cloud) == _without_timing(local)

    init_key, _ = jax.random.split(jax.random.key(SEED))
    _assert_trees_equal(handle.get_weights(), experiment.init_variables(init_key))


def test_failed_job_reports_reason(service, tokens):
    # Five outputs cannot score Fashion-MNIST's ten classes, so the job fails
    # when it starts, with the runner's ConfigError as its message.
    model = AnalogSequential(Flatten(), AnalogLinear(784, 5), LogSoftmax(dim=1))
    experiment = BasicTraining(dataset=FashionMNIST, model=model, epochs=1)
    handle = run_cloud(
        experiment,
        device="cpu",
        max_elements=SAMPLES,
        api_url=service.base_url,
        api_token=tokens["alice"],
    )
    assert handle.wait(timeout=JOB_TIMEOUT_S) is CloudJobStatus.FAILED
    with pytest.raises(ExperimentStatusError, match="FAILED") as caught:
        handle.get_result()
    assert "10 outputs" in str(caught.value)


def test_wrong_token_raises_credentials_error(service):
    with pytest.raises(CredentialsError, match="rejected the API token") as caught:
        CloudRunner(api_url=service.base_url, api_token="not-a-valid-token")
    assert "not-a-valid-token" not in str(caught.value)


def test_users_see_only_their_experiments(service, tokens, submitted):
    alice_ids = {handle.id for handle in submitted.values()}
    with CloudRunner(api_url=service.base_url, api_token=tokens["bob"]) as bob:
        bob_ids = {handle.id for handle in bob.list_experiments()}
        assert not alice_ids & bob_ids
        with pytest.raises(ApiResponseError) as caught:
            bob.get_cloud_experiment(submitted["training"].id)
    assert caught.value.status_code == 404


def test_list_is_newest_first(runner, submitted):
    handles = runner.list_experiments()
    assert all(isinstance(handle, CloudExperiment) for handle in handles)
    ids = [handle.id for handle in handles]
    assert ids.index(submitted["inference"].id) < ids.index(submitted["training"].id)
    times = [handle.created_at for handle in handles]
    assert times == sorted(times, reverse=True)


def test_expired_jwt_logs_in_again(runner, submitted):
    runner.session._jwt = "expired-or-forged"
    assert submitted["training"].id in {h.id for h in runner.list_experiments()}
    assert runner.session._jwt != "expired-or-forged"

    runner.session._jwt_expires_at = 1.0
    runner.list_experiments()
    assert runner.session._jwt_expires_at > 1.0


def test_request_logs_hide_secrets(runner, submitted, tokens, caplog):
    handle = submitted["training"]
    assert handle.wait(timeout=JOB_TIMEOUT_S) is CloudJobStatus.COMPLETED
    fresh = runner.get_cloud_experiment(handle.id)
    with caplog.at_level(logging.INFO, logger="aihw_jax.cloud.client"):
        fresh.get_result()
    lines = [record.getMessage() for record in caplog.records]
    requests_logged = [line for line in lines if line.startswith("HTTP ")]
    # The record already shows completed, so only the output link and the
    # signed download are requested: one line each.
    assert len(requests_logged) == 2
    assert "/api/v1/outputs/" in requests_logged[0]
    assert "/api/v1/blobs/" in requests_logged[1]
    assert requests_logged[1].split()[2].endswith("?...")
    assert not any("signature=" in line for line in lines)
    assert not any(tokens["alice"] in line for line in lines)
    assert not any(runner.session._jwt in line for line in lines)


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {
        name: value for name, value in os.environ.items() if not name.startswith("AIHW")
    }
    return subprocess.run(
        [sys.executable, "-m", "aihw_jax.cli", "experiments", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_cli_lists_and_prints_result(service, tokens, submitted, tmp_path):
    handle = submitted["training"]
    assert handle.wait(timeout=JOB_TIMEOUT_S) is CloudJobStatus.COMPLETED
    connection = ("--url", service.base_url, "--token", tokens["alice"])

    listed = _run_cli("list", *connection)
    assert listed.returncode == 0, listed.stderr
    assert handle.id in listed.stdout
    assert submitted["inference"].id in listed.stdout

    output = tmp_path / "result.json"
    fetched = _run_cli("result", handle.id, "--output", str(output), *connection)
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads(output.read_text()) == handle.get_result()

    other = _run_cli("show", handle.id, "--url", service.base_url, "--token", "bad")
    assert other.returncode != 0
    assert other.stderr.startswith("error: ")
    assert "Traceback" not in other.stderr
