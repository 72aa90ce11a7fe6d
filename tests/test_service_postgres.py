"""The Composer service on a real PostgreSQL server started for the test.

PostgreSQL refuses to run as root, so the cluster runs as the ``postgres``
system user when the tests run as root.
"""

from __future__ import annotations

import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile

import pytest
import requests
from _service import API, free_port, login, start_service, submit, wait_for_job

from aihw_jax.cloud import codec
from aihw_jax.datasets import FashionMNIST
from aihw_jax.experiments import BasicTraining
from aihw_jax.nn import AnalogLinear, AnalogSequential, Flatten, LogSoftmax

POSTGRES_BIN = pathlib.Path("/usr/lib/postgresql/15/bin")


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture(scope="module")
def postgres_url():
    if not (POSTGRES_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL 15 binaries not found in {POSTGRES_BIN}")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user")
    directory = pathlib.Path(tempfile.mkdtemp(prefix="aihw-jax-pg-"))
    if os.geteuid() == 0:
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    data = directory / "data"
    port = free_port()
    subprocess.run(
        _as_postgres(
            [
                str(POSTGRES_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1"
    ctl = [str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-w"]
    subprocess.run(
        _as_postgres([*ctl, "-o", options, "-l", str(directory / "log"), "start"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(POSTGRES_BIN / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "postgres",
                    "aihw",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/aihw"
    finally:
        subprocess.run(
            _as_postgres([*ctl, "-m", "fast", "stop"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(directory, ignore_errors=True)


def test_training_job_on_postgres(tmp_path, postgres_url):
    service = start_service(tmp_path, db_url=postgres_url)
    try:
        headers = login(service.base_url, service.add_user("frank"))
        # PostgreSQL rejects NUL in text, so the service must reject it first.
        nul = requests.get(
            f"{service.base_url}{API}/experiments/%00", headers=headers, timeout=30
        )
        assert nul.status_code == 404
        model = AnalogSequential([Flatten(), AnalogLinear(784, 10), LogSoftmax()])
        experiment = BasicTraining(
            dataset=FashionMNIST, model=model, epochs=1, batch_size=10
        )
        payload = codec.encode_experiment(experiment)
        job = submit(service.base_url, headers, payload, max_elements=50)
        assert job["status"] == "waiting"
        job = wait_for_job(service.base_url, headers, job["id"])
        assert job["status"] == "completed", job["message"]
        assert job["output"] is not None
        service.restart()
        headers = login(service.base_url, service.add_user("frank"))
        job = wait_for_job(service.base_url, headers, job["id"])
        assert job["status"] == "completed"
    finally:
        service.stop()
