"""Run jobs on dask.distributed and keep their records up to date.

:class:`JobExecutor` owns the Dask client. One watcher thread handles, in
order, everything that changes a job record: submissions, "started" events
sent by the workers, and finished futures. Workers get the input bytes and
return the output bytes, so they need not share the service's disk.

Worker deaths: the embedded cluster sets ``allowed-failures`` to 0, so Dask
raises ``KilledWorker`` at the first death and the service decides. A job is
submitted once more after its first lost worker and fails after the second.
An external scheduler applies its own ``allowed-failures`` (Dask's default
is 3) before the service receives the error.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from typing import Any

import dask
import distributed
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session, sessionmaker

from aihw_jax.cloud.api import JobStatus
from aihw_jax.cloud.service.config import ServiceConfig
from aihw_jax.cloud.service.models import Experiment, Job, Output, new_id, utcnow
from aihw_jax.cloud.service.storage import BlobStore

__all__ = ["EVENT_TOPIC", "MAX_WORKER_FAILURES", "JobExecutor", "execute_job"]

logger = logging.getLogger(__name__)

EVENT_TOPIC = "aihw-jax-job-started"
"""Dask event topic on which a worker reports that it starts a job."""

MAX_WORKER_FAILURES = 2
"""Worker deaths after which a job fails instead of being submitted again."""

MAX_ATTEMPTS = 5
"""Submissions after which a job whose future was lost or cancelled fails."""


def execute_job(
    job_id: str,
    attempt: int,
    input_data: bytes,
    *,
    device: str,
    max_elements: int,
    seed: int,
    dataset_root: str | None,
) -> bytes:
    """Run one job on a Dask worker and return its output envelope."""
    try:
        worker = distributed.get_worker()
    except ValueError:  # called outside a worker, e.g. in a test
        worker = None
    if worker is not None:
        worker.log_event(EVENT_TOPIC, {"job": job_id, "attempt": attempt})
    from aihw_jax.cloud import jobs  # imports JAX, so only on the worker

    return jobs.run_job(
        input_data,
        device=device,
        max_elements=max_elements,
        seed=seed,
        dataset_root=dataset_root,
    )


def _error_message(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class JobExecutor:
    """Submits jobs to a Dask cluster and records their progress.

    Args:
        config: service settings (scheduler address, worker count).
        sessions: session factory of the service database.
        store: blob store of inputs and outputs.
    """

    def __init__(
        self, config: ServiceConfig, sessions: sessionmaker[Session], store: BlobStore
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.store = store
        self.cluster: distributed.LocalCluster | None = None
        self.client: distributed.Client | None = None
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._futures: dict[str, distributed.Future] = {}
        self._closing = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name="aihw-jax-job-watcher", daemon=True
        )

    # -- life cycle -------------------------------------------------------

    def start(self) -> None:
        """Connect to (or start) the cluster, start the watcher and reconcile."""
        if self.config.scheduler:
            logger.info("Connecting to Dask scheduler %s", self.config.scheduler)
            self.client = distributed.Client(self.config.scheduler)
        else:
            self.cluster = self._start_local_cluster()
            self.client = distributed.Client(self.cluster)
        self.client.subscribe_topic(EVENT_TOPIC, self._on_event)
        self._thread.start()
        self.reconcile()

    def _start_local_cluster(self) -> distributed.LocalCluster:
        # Spawned, not forked, workers: JAX deadlocks in a forked child.
        settings = {
            "distributed.scheduler.allowed-failures": 0,
            "distributed.worker.multiprocessing-method": "spawn",
        }
        with dask.config.set(settings):
            cluster = distributed.LocalCluster(
                n_workers=self.config.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
        logger.info(
            "Started a local Dask cluster with %d worker processes at %s",
            self.config.workers,
            cluster.scheduler_address,
        )
        return cluster

    def close(self) -> None:
        """Stop the watcher and disconnect; unfinished jobs resume on restart."""
        self._closing.set()
        self._queue.put(("stop",))
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        logger.info("Job executor stopped")

    def reconcile(self) -> None:
        """Submit again every job that was left waiting or running."""
        unfinished = (JobStatus.WAITING.value, JobStatus.RUNNING.value)
        with self.sessions.begin() as session:
            jobs = session.scalars(select(Job).where(Job.status.in_(unfinished))).all()
            for job in jobs:
                if job.status == JobStatus.RUNNING.value:
                    job.status = JobStatus.WAITING.value
                    job.message = "The service restarted while the job ran."
            job_ids = [job.id for job in jobs]
        for job_id in job_ids:
            self.submit(job_id)
        logger.info("Reconciler queued %d unfinished jobs", len(job_ids))

    def submit(self, job_id: str) -> None:
        """Queue a committed, waiting job for submission to the cluster."""
        self._queue.put(("submit", job_id))

    # -- callbacks (Dask threads): only queue work for the watcher --------

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        _, message = event
        self._queue.put(("started", message.get("job"), message.get("attempt")))

    def _on_done(self, job_id: str, attempt: int, future: distributed.Future) -> None:
        self._queue.put(("done", job_id, attempt, future))

    # -- watcher thread ---------------------------------------------------

    def _watch(self) -> None:
        handlers = {
            "submit": self._submit,
            "started": self._mark_started,
            "done": self._finish,
        }
        while True:
            item = self._queue.get()
            if item[0] == "stop":
                return
            try:
                handlers[item[0]](*item[1:])
            except Exception:
                # The watcher must outlive any one job, so the error is logged.
                logger.exception("Handling %s of job %s failed", item[0], item[1])

    def _submit(self, job_id: str) -> None:
        if self._closing.is_set():
            return
        with self.sessions.begin() as session:
            job = session.get(Job, job_id)
            if job is None or job.status != JobStatus.WAITING.value:
                return
            input_record = job.experiment.input
            try:
                data = self.store.read("inputs", input_record.id)
            except (AttributeError, OSError) as error:
                self._fail(job, f"Input of the experiment cannot be read: {error}")
                return
            device, resources = self._placement(job)
            job.attempts += 1
            attempt = job.attempts
            arguments = {
                "device": device,
                "max_elements": job.max_elements,
                "seed": job.seed,
                "dataset_root": self.config.dataset_root,
            }
        future = self.client.submit(
            execute_job,
            job_id,
            attempt,
            data,
            **arguments,
            key=f"aihw-job-{job_id}-{attempt}",
            pure=False,
            resources=resources,
        )
        self._futures[job_id] = future
        future.add_done_callback(lambda done: self._on_done(job_id, attempt, done))
        logger.info("Submitted job %s (attempt %d) on %s", job_id, attempt, device)

    def _placement(self, job: Job) -> tuple[str, dict[str, float] | None]:
        """Return the device a job runs on and the Dask resources it needs."""
        if job.device != "gpu":
            return "cpu", None
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        if any(
            info.get("resources", {}).get("GPU", 0) > 0 for info in workers.values()
        ):
            return "gpu", {"GPU": 1}
        job.message = "No Dask worker has a GPU resource, so the job runs on cpu."
        return "cpu", None

    def _mark_started(self, job_id: str | None, attempt: int | None) -> None:
        with self.sessions.begin() as session:
            job = session.get(Job, job_id) if job_id else None
            if job is None or job.attempts != attempt:
                return
            if job.status == JobStatus.WAITING.value:
                job.status = JobStatus.RUNNING.value
                job.started_at = utcnow()
                logger.info("Job %s is running (attempt %d)", job_id, attempt)

    def _finish(self, job_id: str, attempt: int, future: distributed.Future) -> None:
        if self._closing.is_set():
            return
        if self._futures.get(job_id) is future:
            del self._futures[job_id]
        with self.sessions.begin() as session:
            job = session.get(Job, job_id)
            if job is None or job.attempts != attempt:
                return
            if future.status == "finished":
                self._complete(session, job, future.result())
            elif future.status == "error":
                self._handle_error(job, future.exception())
            else:
                self._handle_lost(job, future.status)
        if future.status in ("error", "cancelled", "lost"):
            self.submit(job_id)  # only resubmits jobs put back to waiting

    def _complete(self, session: Session, job: Job, data: bytes) -> None:
        from aihw_jax.cloud import jobs
        from aihw_jax.errors import AihwError

        try:
            device = jobs.decode_output(data).get("device")
        except AihwError as error:
            self._fail(job, f"Job returned an invalid output: {error}")
            return
        output = Output(
            id=new_id(),
            job_id=job.id,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        self.store.write("outputs", output.id, data)
        session.add(output)
        job.output_id = output.id
        job.ran_on = str(device) if device else job.ran_on
        job.status = JobStatus.COMPLETED.value
        job.finished_at = utcnow()
        self._set_experiment_finished(session, job)
        logger.info("Job %s completed, output %s", job.id, output.id)

    def _handle_error(self, job: Job, error: BaseException) -> None:
        if isinstance(error, distributed.KilledWorker):
            job.worker_failures += 1
            if job.worker_failures < MAX_WORKER_FAILURES:
                job.status = JobStatus.WAITING.value
                job.message = (
                    f"The worker running attempt {job.attempts} died; "
                    "the job was submitted again."
                )
                logger.warning("Job %s lost its worker; submitting it again", job.id)
                return
            self._fail(
                job,
                f"The worker died {job.worker_failures} times while running the "
                f"job. Last error: {_error_message(error)}",
            )
            return
        self._fail(job, _error_message(error))

    def _handle_lost(self, job: Job, status: str) -> None:
        if job.attempts >= MAX_ATTEMPTS:
            self._fail(job, f"The cluster lost the job {job.attempts} times.")
            return
        job.status = JobStatus.WAITING.value
        job.message = f"The cluster reported the job as {status}; submitted again."
        logger.warning(
            "Job %s was %s by the cluster; submitting it again", job.id, status
        )

    def _fail(self, job: Job, message: str) -> None:
        job.status = JobStatus.FAILED.value
        job.message = message
        job.finished_at = utcnow()
        self._set_experiment_finished(object_session(job), job)
        logger.warning("Job %s failed: %s", job.id, message)

    @staticmethod
    def _set_experiment_finished(session: Session, job: Job) -> None:
        experiment = session.get(Experiment, job.experiment_id)
        if experiment is not None:
            experiment.finished_at = job.finished_at
