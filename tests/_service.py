"""Run the Composer service as a real subprocess for tests (not a test file).

:func:`start_service` starts ``python -m aihw_jax.cli serve`` on 127.0.0.1
at a free port, in its own process group so that :meth:`ServiceProcess.kill`
also reaches the Dask workers. The ``service`` fixture shares one process per
test module. The ``login``, ``submit`` and ``wait_for_job`` helpers drive the
HTTP API with ``requests``.
"""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import requests

__all__ = [
    "ServiceProcess",
    "free_port",
    "login",
    "service",
    "start_service",
    "submit",
    "wait_for_job",
]

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
API = "/api/v1"
START_TIMEOUT_S = 180.0
"""Seconds to wait for the service to respond; start-up includes the Dask cluster."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT)
    return env


class ServiceProcess:
    """A ``serve`` subprocess on 127.0.0.1 with its own storage and database.

    Attributes:
        base_url: ``http://127.0.0.1:PORT`` (``https`` with TLS arguments).
        storage: blob directory of the service.
        db_url: database URL of the service.
        verify: ``verify`` argument for ``requests`` (the certificate with TLS).
        log_path: file that receives the service's stdout and stderr.
    """

    def __init__(
        self,
        storage: pathlib.Path,
        db_url: str | None,
        *,
        workers: int = 1,
        extra_args: Sequence[str] = (),
        port: int | None = None,
    ) -> None:
        self.storage = storage
        self.db_url = db_url or f"sqlite:///{storage / 'aihw-jax.db'}"
        self.workers = workers
        self.extra_args = list(extra_args)
        self.port = port or free_port()
        tls = "--ssl-certfile" in self.extra_args
        self.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        certificate = (
            self.extra_args[self.extra_args.index("--ssl-certfile") + 1]
            if tls
            else None
        )
        self.verify: bool | str = certificate or True
        self.log_path = storage.parent / f"{storage.name}-service.log"
        self.process: subprocess.Popen | None = None

    def _cli(self, *args: str) -> list[str]:
        common = ["--storage", str(self.storage), "--db", self.db_url]
        return [sys.executable, "-m", "aihw_jax.cli", *args, *common]

    def start(self) -> None:
        """Start the service and wait until its health route responds."""
        command = self._cli(
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*command, *self.extra_args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_environment(),
                cwd=REPO_ROOT,
                start_new_session=True,
            )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Service exited with status {self.process.returncode} on "
                    f"start-up:\n{self.log_tail()}"
                )
            try:
                response = requests.get(
                    f"{self.base_url}{API}/health", timeout=2, verify=self.verify
                )
                if response.status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        self.kill()
        raise TimeoutError(
            f"Service did not answer within {START_TIMEOUT_S} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 60) -> str:
        """Return the last ``lines`` lines of the service log."""
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def add_user(self, name: str) -> str:
        """Run ``users add NAME`` on the same database and return the token."""
        completed = subprocess.run(
            self._cli("users", "add", name),
            capture_output=True,
            text=True,
            env=_environment(),
            cwd=REPO_ROOT,
            timeout=120,
            check=True,
        )
        return completed.stdout.split()[-1]

    def _signal_group(self, number: int) -> None:
        try:
            os.killpg(self.process.pid, number)
        except ProcessLookupError:
            pass

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        """Send SIGTERM, wait for a clean exit, then kill what is left."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(timeout=10)
        self._reap_group()

    def kill(self) -> None:
        """SIGKILL the service and every process of its group (the Dask cluster)."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._reap_group()

    def _reap_group(self) -> None:
        deadline = time.monotonic() + 10
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self._group_alive():
            self._signal_group(signal.SIGKILL)

    def restart(self) -> None:
        """Start again on the same database, storage and port."""
        if self.process is not None and self.process.poll() is None:
            self.stop()
        self.start()


def start_service(
    tmp_path: pathlib.Path,
    *,
    db_url: str | None = None,
    workers: int = 1,
    extra_args: Sequence[str] = (),
) -> ServiceProcess:
    """Start a service with storage in ``tmp_path`` and return it once it responds."""
    storage = tmp_path / "storage"
    process = ServiceProcess(storage, db_url, workers=workers, extra_args=extra_args)
    process.start()
    return process


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[ServiceProcess]:
    """One service process per test module, stopped after the module."""
    process = start_service(tmp_path_factory.mktemp("service"))
    yield process
    process.stop()


def login(base_url: str, token: str, *, verify: bool | str = True) -> dict[str, str]:
    """Exchange an API token for a JWT and return the request headers."""
    response = requests.post(
        f"{base_url}{API}/token/login", json={"token": token}, timeout=30, verify=verify
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['jwt']}"}


def submit(
    base_url: str,
    headers: dict[str, str],
    payload: bytes,
    *,
    category: str = "train",
    name: str = "test",
    max_elements: int = 100,
    seed: int = 0,
    device: str = "cpu",
    verify: bool | str = True,
) -> dict[str, Any]:
    """Create an experiment, upload ``payload``, create a job; return the job."""
    session = requests.Session()
    session.verify = verify

    def post(route: str, body: dict[str, Any]) -> dict[str, Any]:
        response = session.post(
            f"{base_url}{API}/{route}", json=body, headers=headers, timeout=60
        )
        assert response.status_code == 201, response.text
        return response.json()

    experiment = post("experiments", {"name": name, "category": category})
    upload = post("inputs", {"experiment": experiment["id"]})
    response = session.put(upload["upload_url"], data=payload, timeout=120)
    assert response.status_code == 200, response.text
    body = {
        "experiment": experiment["id"],
        "device": device,
        "max_elements": max_elements,
        "seed": seed,
    }
    return post("jobs", body)


def wait_for_job(
    base_url: str,
    headers: dict[str, str],
    job_id: str,
    *,
    timeout: float = 180.0,
    verify: bool | str = True,
) -> dict[str, Any]:
    """Poll a job until it completes or fails and return its record."""
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(
            f"{base_url}{API}/jobs/{job_id}", headers=headers, timeout=30, verify=verify
        )
        response.raise_for_status()
        job = response.json()
        if job["status"] in ("completed", "failed"):
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"Job {job_id} is still {job['status']}: {job}")
        time.sleep(0.25)
