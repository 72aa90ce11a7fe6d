"""CloudExperiment: a handle on an experiment submitted to a Composer service."""

from __future__ import annotations

import datetime
import enum
import logging
import time
import urllib.parse
from typing import Any

from aihw_jax.cloud import api
from aihw_jax.cloud.client._session import ApiSession
from aihw_jax.errors import CloudError, ExperimentStatusError

__all__ = ["CloudExperiment", "CloudJobStatus"]

logger = logging.getLogger(__name__)


def _quoted(record_id: str) -> str:
    """Return ``record_id`` escaped as one URL path segment."""
    return urllib.parse.quote(record_id, safe="")


class CloudJobStatus(enum.Enum):
    """Status of a cloud experiment, with aihwkit's names.

    ``UNKNOWN`` is an experiment without a job (its submission stopped
    before ``POST jobs``).
    """

    UNKNOWN = 0
    WAITING = 1
    RUNNING = 2
    COMPLETED = 3
    FAILED = 4

    @classmethod
    def from_api(cls, value: Any) -> CloudJobStatus:
        """Map a job status of the HTTP API (``"waiting"``, ...) to this enum."""
        try:
            return cls[api.JobStatus(value).name]
        except ValueError:
            raise CloudError(
                f"The service returned the unknown job status {value!r}; "
                f"expected one of {[status.value for status in api.JobStatus]}."
            ) from None

    @property
    def finished(self) -> bool:
        """Whether the job has ended (completed or failed)."""
        return self in (CloudJobStatus.COMPLETED, CloudJobStatus.FAILED)


def _record_id(value: Any) -> str | None:
    """Return the id of a nested record given either as an id or as a dict."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


def _parse_time(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


class CloudExperiment:
    """An experiment stored on a Composer service, and its job.

    Handles are made by the runners (:func:`run_cloud`,
    ``CloudRunner.list_experiments``, ...), not by users. Only
    :meth:`status`, :meth:`wait` and the ``get_*`` methods talk to the
    service; ``repr`` shows the last status seen.

    Attributes:
        id: the experiment's id on the service.
        name: the experiment's name.
        category: ``"train"`` or ``"inference"``.
        created_at: creation time (UTC), if the service returned one.
        input_id: id of the uploaded experiment payload, or None.
        job_id: id of the experiment's job, or None if no job was created.
    """

    def __init__(self, session: ApiSession, record: dict[str, Any]) -> None:
        self._session = session
        self._output_id: str | None = None
        self._message: str | None = None
        self._last_status = CloudJobStatus.UNKNOWN
        self._output: dict[str, Any] | None = None
        self._decoded_input: Any = None
        self._update(record)

    def _update(self, record: dict[str, Any]) -> None:
        """Take the fields of an experiment record."""
        if not isinstance(record, dict) or "id" not in record:
            raise CloudError(
                "The service returned an experiment record without an id: "
                f"{self._session.sanitize(repr(record))[:200]}."
            )
        self.id = str(record["id"])
        self.name = str(record.get("name", ""))
        self.category = str(record.get("category", ""))
        self.created_at = _parse_time(record.get("created_at"))
        self.input_id = _record_id(record.get("input")) or _record_id(
            record.get("input_id")
        )
        job = record.get("job")
        self.job_id = _record_id(job) or _record_id(record.get("job_id"))
        if isinstance(job, dict):
            self._update_job(job)

    def _update_job(self, job: dict[str, Any]) -> None:
        """Take the fields of a job record."""
        if not isinstance(job, dict) or "id" not in job:
            raise CloudError(
                f"The service returned a job record without an id for experiment "
                f"{self.id}."
            )
        self.job_id = str(job["id"])
        if "status" in job:
            status = CloudJobStatus.from_api(job["status"])
            if status != self._last_status:
                logger.debug("Experiment %s is %s", self.id, status.name)
            self._last_status = status
        self._output_id = _record_id(job.get("output")) or _record_id(
            job.get("output_id")
        )
        message = job.get("message")
        self._message = str(message) if message else None

    def __repr__(self) -> str:
        return (
            f"CloudExperiment(id={self.id!r}, name={self.name!r}, "
            f"status={self._last_status.name})"
        )

    def status(self) -> CloudJobStatus:
        """Fetch the job's status from the service (not after it has ended)."""
        if self._last_status.finished:
            return self._last_status
        if self.job_id is None:
            self._update(self._session.get(f"experiments/{_quoted(self.id)}"))
        if self.job_id is None:
            self._last_status = CloudJobStatus.UNKNOWN
            return self._last_status
        self._update_job(self._session.get(f"jobs/{_quoted(self.job_id)}"))
        return self._last_status

    def wait(
        self,
        timeout: float | None = None,
        poll_interval: float = 1.0,
        progress: bool = False,
    ) -> CloudJobStatus:
        """Poll the status until the job completes or fails.

        Args:
            timeout: seconds to wait at most; None waits without limit.
            poll_interval: seconds between two status requests.
            progress: show the status in a ``tqdm`` bar if tqdm is installed,
                else log one INFO line per status change.

        Returns:
            The final status, COMPLETED or FAILED.

        Raises:
            TimeoutError: if the job has not ended after ``timeout`` seconds.
            ExperimentStatusError: if the experiment has no job.
        """
        if poll_interval <= 0:
            raise ValueError(f"`poll_interval` must be > 0 s, got {poll_interval!r}.")
        deadline = None if timeout is None else time.monotonic() + timeout
        display = _StatusDisplay(self, progress)
        try:
            while True:
                status = self.status()
                display.show(status)
                if status.finished:
                    return status
                if status == CloudJobStatus.UNKNOWN:
                    raise ExperimentStatusError(
                        f"Experiment {self.id} has no job, so it will never "
                        "finish; submit it again."
                    )
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"Experiment {self.id} is still {status.name} after "
                        f"{timeout} s."
                    )
                delay = poll_interval
                if deadline is not None:
                    delay = max(0.0, min(delay, deadline - time.monotonic()))
                time.sleep(delay)
        finally:
            display.close()

    def _require_completed(self, action: str) -> None:
        status = self.status()
        if status == CloudJobStatus.COMPLETED:
            return
        if status == CloudJobStatus.UNKNOWN:
            raise ExperimentStatusError(
                f"Cannot {action} of experiment {self.id}: it has no job yet, "
                "so it has no result; submit it again."
            )
        message = f"Cannot {action} of experiment {self.id}: its job is {status.name}"
        if status == CloudJobStatus.FAILED:
            message += f" ({self._message or 'the service gave no reason'})"
        else:
            message += "; wait() until it completes"
        raise ExperimentStatusError(message + ".")

    def _fetch_output(self) -> dict[str, Any]:
        """Download and decode the job's output, once."""
        if self._output is None:
            from aihw_jax.cloud import jobs

            if self._output_id is None:
                raise CloudError(
                    f"The service reports experiment {self.id} as completed but "
                    "returned no output id."
                )
            link = self._session.get(f"outputs/{_quoted(self._output_id)}/file")
            data = self._session.download(_link_url(link))
            self._output = jobs.decode_output(data)
        return self._output

    def get_result(self) -> Any:
        """Return the result, in the shape the local runners return.

        Returns:
            For training, the list of per-epoch dicts (``epoch``,
            ``accuracy``, ``train_loss``, ``valid_loss``, ``time_epoch``), as
            ``LocalRunner.run``; for inference, the ``{"inference_runs":
            ...}`` dict of ``InferenceLocalRunner.run``.

        Raises:
            ExperimentStatusError: if the job has not completed; the message
                contains the status and, for a failed job, the service's
                reason.
        """
        self._require_completed("get the result")
        result = self._fetch_output()["result"]
        if self.category == "train" and isinstance(result, dict) and "epochs" in result:
            return result["epochs"]
        return result

    def get_experiment(self, *, trusted: bool = False) -> Any:
        """Download the stored experiment (a BasicTraining or BasicInferencing).

        Args:
            trusted: passed to ``codec.decode_experiment``; leave it False
                unless you trust the service with code execution here.

        Raises:
            ExperimentStatusError: if the experiment has no uploaded input.
        """
        return self._fetch_input(trusted).experiment

    def _fetch_input(self, trusted: bool) -> Any:
        if self._decoded_input is None or trusted:
            from aihw_jax.cloud import codec

            if self.input_id is None:
                self._update(self._session.get(f"experiments/{_quoted(self.id)}"))
            if self.input_id is None:
                raise ExperimentStatusError(
                    f"Experiment {self.id} has no uploaded input; submit it again."
                )
            link = self._session.get(f"inputs/{_quoted(self.input_id)}/file")
            data = self._session.download(_link_url(link))
            decoded = codec.decode_experiment(data, trusted=trusted)
            if trusted:
                return decoded
            self._decoded_input = decoded
        return self._decoded_input

    def get_weights(self) -> dict[str, Any]:
        """Return the trained (training) or evaluated (inference) variables.

        The weights come from the job's output and are loaded into the
        stored experiment's model with ``experiment.load_weights``.

        Raises:
            ExperimentStatusError: if the job has not completed.
            CloudError: if the output has no weights.
        """
        self._require_completed("get the weights")
        weights = self._fetch_output().get("weights")
        if not weights:
            raise CloudError(f"The output of experiment {self.id} has no weights.")
        return self.get_experiment().load_weights(weights)


def _link_url(link: Any) -> str:
    """Return the ``url`` field of a ``{"url": ...}`` response."""
    url = link.get("url") if isinstance(link, dict) else None
    if not isinstance(url, str) or not url:
        raise CloudError("The service returned a file link without a `url` field.")
    return url


class _StatusDisplay:
    """Shows a waiting experiment's status: a tqdm bar, or log lines."""

    def __init__(self, experiment: CloudExperiment, enabled: bool) -> None:
        self.experiment = experiment
        self.enabled = enabled
        self.last: CloudJobStatus | None = None
        self.bar: Any = None
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        self.bar = tqdm(
            total=None,
            desc=f"Experiment {experiment.id[:8]}",
            bar_format="{desc}: {postfix} [{elapsed}]",
        )

    def show(self, status: CloudJobStatus) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            # Redrawn at every poll, so the elapsed time stays current.
            self.bar.set_postfix_str(status.name)
        elif status != self.last:
            logger.info("Experiment %s is %s", self.experiment.id, status.name)
        self.last = status

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
