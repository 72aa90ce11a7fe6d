"""The HTTP contract between the Composer service and its client.

Clients are given the service's base URL (``http://127.0.0.1:8000``) and add
:data:`API_PREFIX`. Bodies are JSON except the blobs behind signed URLs, which
are msgpack envelopes (:mod:`aihw_jax.serialization`). Every route but
``token/login``            and the signed blob URLs needs ``Authorization: Bearer <jwt>``.

========================== ==================================================
``POST token/login``       ``{"token": api_token}`` -> ``{"jwt", "expires_in"}``
``POST experiments``       ``{"name", "category"}`` -> experiment record (201)
``GET experiments/me``     list of the caller's experiment records
``GET experiments/{id}``   one experiment record (404 if not the caller's)
``POST inputs``            ``{"experiment": id}`` -> ``{"id", "upload_url"}``
``PUT <upload_url>``       the experiment envelope (kind ``"experiment"``)
``GET inputs/{id}/file``   ``{"url"}``: a signed download URL of the input
``POST jobs``              ``{"experiment", "device", "max_elements"}`` -> job
                           (optional ``"seed"``, default 0)
``GET jobs/{id}``          job record
``GET outputs/{id}/file``  ``{"url"}``: a signed download URL of the output
``GET health``             ``{"status": "ok"}``, without credentials
``PUT blobs/inputs/{id}``  upload target of ``upload_url`` (signed)
``GET blobs/inputs/{id}``  download target of an input URL (signed)
``GET blobs/outputs/{id}`` download target of an output URL (signed)
========================== ==================================================

An experiment record is ``{"id", "name", "category", "created_at",
"finished_at", "input", "status", "job"}``: ``input`` is the uploaded
input's id or null, ``job`` the newest job record or null, ``status`` that
job's status. A job record is ``{"id", "experiment", "status", "device",
"ran_on", "max_elements", "seed", "message", "attempts", "output",
"created_at", "started_at", "finished_at"}``: ``device`` is the requested
device, ``ran_on`` the one used, ``message`` the failure reason or a note
(such as a GPU job that ran on the CPU), and ``output`` the output's id once
completed. Times are ISO 8601 in UTC. Signed URLs carry ``expires`` (Unix
time) and ``signature`` query parameters and need no JWT.

Errors return ``{"detail": message}`` with a 4xx or 5xx status.
"""

from __future__ import annotations

import enum

__all__ = [
    "API_PREFIX",
    "CATEGORIES",
    "DEVICES",
    "MAX_PAYLOAD_BYTES",
    "JobStatus",
]

API_PREFIX = "/api/v1"
"""Path prefix of every route of this API version."""

MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
"""Largest uploaded blob (an experiment with its weights), in bytes."""

CATEGORIES = ("train", "inference")
"""Experiment categories: ``BasicTraining`` and ``BasicInferencing``."""

DEVICES = ("cpu", "gpu")
"""Devices a job may ask for."""


class JobStatus(str, enum.Enum):
    """Status of a job, in the order a job passes through them."""

    WAITING = "waiting"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
