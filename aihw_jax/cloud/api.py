"""The HTTP contract between the Composer service and its client.

Clients are given the service's base URL (``http://127.0.0.1:8000``) and add
:data:`API_PREFIX`. Bodies are JSON except the blobs behind signed URLs, which
are msgpack envelopes (:mod:`aihw_jax.serialization`). Every route but
``token/login`` and the signed blob URLs needs ``Authorization: Bearer <jwt>``.

=========================  ==================================================
``POST token/login``       ``{"token": api_token}`` -> ``{"jwt", "expires_in"}``
``POST experiments``       ``{"name", "category"}`` -> experiment record (201)
``GET experiments/me``     list of the caller's experiment records
``GET experiments/{id}``   one experiment record (404 if not the caller's)
``POST inputs``            ``{"experiment": id}`` -> ``{"id", "upload_url"}``
``PUT <upload_url>``       the experiment envelope (kind ``"experiment"``)
``GET inputs/{id}/file``   ``{"url"}``: a signed download URL of the input
``POST jobs``              ``{"experiment", "device", "max_elements"}`` -> job
``GET jobs/{id}``          job record
``GET outputs/{id}/file``  ``{"url"}``: a signed download URL of the output
=========================  ==================================================

Errors answer ``{"detail": message}`` with a 4xx or 5xx status.
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
