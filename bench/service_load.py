"""Load test of the Composer service: concurrent clients submitting experiments.

Starts a service (or uses ``--url`` with ``--tokens``), creates one user per
client, lets ``--clients`` threads each submit ``--experiments`` small
training experiments over HTTP, waits until every job has finished, and
prints submissions per second and jobs per second. It exits with status 1
unless every job completed. Not a test: run it by hand, e.g.::

    PYTHONPATH=. .venv/bin/python bench/service_load.py --workers 2
"""

from __future__ import annotations

import argparse
import concurrent.futures
import pathlib
import sys
import tempfile
import time

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

from _service import API, login, start_service

from aihw_jax.cloud import codec
from aihw_jax.cloud.service import add_user
from aihw_jax.datasets import FashionMNIST
from aihw_jax.experiments import BasicTraining
from aihw_jax.nn import AnalogLinear, AnalogSequential, Flatten, LogSoftmax


def small_payload() -> bytes:
    """Encode a 784->10 analog network trained for one epoch."""
    model = AnalogSequential([Flatten(), AnalogLinear(784, 10), LogSoftmax()])
    experiment = BasicTraining(
        dataset=FashionMNIST, model=model, epochs=1, batch_size=10
    )
    return codec.encode_experiment(experiment)


def run_client(
    base_url: str, token: str, payload: bytes, count: int, max_elements: int
) -> list[str]:
    """Submit ``count`` experiments as one user and return the job ids."""
    session = requests.Session()
    headers = login(base_url, token)
    job_ids = []
    for index in range(count):
        experiment = session.post(
            f"{base_url}{API}/experiments",
            json={"name": f"load-{index}", "category": "train"},
            headers=headers,
            timeout=120,
        )
        experiment.raise_for_status()
        upload = session.post(
            f"{base_url}{API}/inputs",
            json={"experiment": experiment.json()["id"]},
            headers=headers,
            timeout=120,
        )
        upload.raise_for_status()
        session.put(
            upload.json()["upload_url"], data=payload, timeout=120
        ).raise_for_status()
        job = session.post(
            f"{base_url}{API}/jobs",
            json={"experiment": experiment.json()["id"], "max_elements": max_elements},
            headers=headers,
            timeout=120,
        )
        job.raise_for_status()
        job_ids.append(job.json()["id"])
    return job_ids


def count_statuses(base_url: str, tokens: list[str]) -> dict[str, int]:
    """Count the statuses of the newest job of every experiment of every user."""
    counts: dict[str, int] = {}
    for token in tokens:
        records = requests.get(
            f"{base_url}{API}/experiments/me",
            headers=login(base_url, token),
            timeout=120,
        ).json()
        for record in records:
            status = record["status"] or "none"
            counts[status] = counts.get(status, 0) + 1
    return counts


def main() -> int:
    """Run the load test and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", help="use this running service instead of starting one"
    )
    parser.add_argument("--tokens", nargs="*", default=[], help="API tokens for --url")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--experiments", type=int, default=10, help="per client")
    parser.add_argument("--max-elements", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="Dask workers")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds")
    args = parser.parse_args()

    service = None
    if args.url:
        base_url, tokens = args.url.rstrip("/"), list(args.tokens)
        if not tokens:
            parser.error("--url needs --tokens")
    else:
        service = start_service(pathlib.Path(tempfile.mkdtemp()), workers=args.workers)
        base_url, tokens = service.base_url, []
    try:
        if service is not None:
            # In-process, because a `users add` subprocess per user costs seconds.
            tokens = [
                add_user(service.db_url, f"load-{index}")[0]
                for index in range(args.clients)
            ]
        tokens = [tokens[index % len(tokens)] for index in range(args.clients)]
        payload = small_payload()
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            batches = list(
                pool.map(
                    lambda token: run_client(
                        base_url, token, payload, args.experiments, args.max_elements
                    ),
                    tokens,
                )
            )
        submitted = time.perf_counter() - start
        expected = args.clients * args.experiments
        print(
            f"submitted {expected} jobs in {submitted:.1f} s: "
            f"{expected / submitted:.1f} submissions/s"
        )
        deadline = time.monotonic() + args.timeout
        while True:
            counts = count_statuses(base_url, sorted(set(tokens)))
            finished = counts.get("completed", 0) + counts.get("failed", 0)
            if finished >= expected or time.monotonic() > deadline:
                break
            time.sleep(2)
        elapsed = time.perf_counter() - start
        print(f"statuses: {counts}")
        print(
            f"all jobs finished {elapsed:.1f} s after the first submission: "
            f"{finished / elapsed:.2f} jobs/s"
        )
        job_count = sum(len(batch) for batch in batches)
        ok = job_count == expected and counts.get("completed", 0) == expected
        print(
            f"job ids returned: {job_count}, completed: {counts.get('completed', 0)}, "
            f"expected: {expected} -> {'OK' if ok else 'MISMATCH'}"
        )
        return 0 if ok else 1
    finally:
        if service is not None:
            service.stop()


if __name__ == "__main__":
    sys.exit(main())
