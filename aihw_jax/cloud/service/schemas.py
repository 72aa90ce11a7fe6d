"""Request bodies (pydantic, strict, no extra fields) and response records."""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aihw_jax.cloud.service.models import Experiment, Job
from aihw_jax.cloud.service.validation import control_character_problem

__all__ = [
    "ExperimentCreate",
    "InputCreate",
    "JobCreate",
    "LoginRequest",
    "experiment_record",
    "job_record",
]

_STRICT = ConfigDict(extra="forbid", strict=True)


class LoginRequest(BaseModel):
    """Body of ``POST token/login``."""

    model_config = _STRICT
    token: str = Field(min_length=1, max_length=200)


class ExperimentCreate(BaseModel):
    """Body of ``POST experiments``."""

    model_config = _STRICT
    name: str = Field(min_length=1, max_length=200)
    category: Literal["train", "inference"]

    @field_validator("name")
    @classmethod
    def _printable_name(cls, name: str) -> str:
        if problem := control_character_problem(name, "Experiment name"):
            raise ValueError(problem)
        return name


class InputCreate(BaseModel):
    """Body of ``POST inputs``."""

    model_config = _STRICT
    experiment: str = Field(min_length=1, max_length=64)


class JobCreate(BaseModel):
    """Body of ``POST jobs``: ``max_elements`` 0 runs on the whole data set."""

    model_config = _STRICT
    experiment: str = Field(min_length=1, max_length=64)
    device: Literal["cpu", "gpu"] = "cpu"
    max_elements: int = Field(default=0, ge=0, le=2**31 - 1)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


def _iso(moment: datetime.datetime | None) -> str | None:
    """Format a time as ISO 8601 in UTC; SQLite returns naive UTC times."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.isoformat()


def job_record(job: Job) -> dict[str, Any]:
    """Return the JSON record of a job."""
    return {
        "id": job.id,
        "experiment": job.experiment_id,
        "status": job.status,
        "device": job.device,
        "ran_on": job.ran_on,
        "max_elements": job.max_elements,
        "seed": job.seed,
        "message": job.message,
        "attempts": job.attempts,
        "output": job.output_id,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


def experiment_record(experiment: Experiment, latest_job: Job | None) -> dict[str, Any]:
    """Return the JSON record of an experiment with its newest job."""
    input_record = experiment.input
    uploaded = input_record is not None and input_record.uploaded_at is not None
    return {
        "id": experiment.id,
        "name": experiment.name,
        "category": experiment.category,
        "created_at": _iso(experiment.created_at),
        "finished_at": _iso(experiment.finished_at),
        "input": input_record.id if uploaded else None,
        "status": latest_job.status if latest_job is not None else None,
        "job": job_record(latest_job) if latest_job is not None else None,
    }
