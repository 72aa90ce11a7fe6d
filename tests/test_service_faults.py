"""Faults of the Composer service: a killed service and a killed Dask worker.

Jobs must end completed, or failed with a reason, but never stay running.
"""

from __future__ import annotations

import signal
import time

import psutil
import pytest
import requests
from _service import API, login, start_service, submit, wait_for_job

from aihw_jax.cloud import codec
from aihw_jax.datasets import FashionMNIST
from aihw_jax.experiments import BasicTraining
from aihw_jax.nn import AnalogLinear, AnalogSequential, Flatten, LogSoftmax


@pytest.fixture(scope="module")
def payload() -> bytes:
    model = AnalogSequential([Flatten(), AnalogLinear(784, 10), LogSoftmax()])
    experiment = BasicTraining(
        dataset=FashionMNIST, model=model, epochs=1, batch_size=10
    )
    return codec.encode_experiment(experiment)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    process = start_service(tmp_path_factory.mktemp("faults"))
    yield process
    process.kill()


def _job(service, headers, job_id: str) -> dict:
    response = requests.get(
        f"{service.base_url}{API}/jobs/{job_id}", headers=headers, timeout=30
    )
    response.raise_for_status()
    return response.json()


def _wait_until_running(service, headers, job_ids, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job_id in job_ids:
            if _job(service, headers, job_id)["status"] == "running":
                return job_id
        time.sleep(0.1)
    raise TimeoutError(f"No job of {job_ids} started within {timeout} s.")


def _worker_processes(service) -> list[psutil.Process]:
    """Return the Dask worker processes that the service spawned."""
    children = psutil.Process(service.process.pid).children(recursive=True)
    return [
        child
        for child in children
        if "spawn_main" in " ".join(child.cmdline())
        and "resource_tracker" not in " ".join(child.cmdline())
    ]


def test_killed_service_resumes_jobs(faulty, payload):
    headers = login(faulty.base_url, faulty.add_user("dora"))
    job_ids = [
        submit(faulty.base_url, headers, payload, max_elements=50, seed=seed)["id"]
        for seed in range(3)
    ]
    running = _wait_until_running(faulty, headers, job_ids)
    faulty.kill()
    faulty.restart()
    finished = [wait_for_job(faulty.base_url, headers, job_id) for job_id in job_ids]
    assert [job["status"] for job in finished] == ["completed"] * 3
    resumed = next(job for job in finished if job["id"] == running)
    assert resumed["attempts"] >= 2


def test_killed_worker_job_ends(faulty, payload):
    headers = login(faulty.base_url, faulty.add_user("erin"))
    job_id = submit(faulty.base_url, headers, payload, max_elements=50)["id"]
    _wait_until_running(faulty, headers, [job_id])
    workers = _worker_processes(faulty)
    assert len(workers) == 1
    workers[0].send_signal(signal.SIGKILL)
    job = wait_for_job(faulty.base_url, headers, job_id)
    assert job["status"] in ("completed", "failed")
    if job["status"] == "completed":
        assert job["attempts"] == 2
    else:
        assert "worker died" in job["message"]
