"""Errors of the service and the one table that maps them to HTTP statuses."""

from __future__ import annotations

from aihw_jax.errors import ConfigError, SerializationError

__all__ = [
    "Conflict",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "ServiceError",
    "Unauthorized",
    "UnprocessableContent",
    "status_of",
]


class ServiceError(Exception):
    """An error whose message is sent to the client as ``{"detail": message}``."""


class Unauthorized(ServiceError):
    """Missing, invalid or expired credentials."""


class Forbidden(ServiceError):
    """A signed URL that is invalid or has expired."""


class NotFound(ServiceError):
    """No such record, or one that belongs to another user."""


class Conflict(ServiceError):
    """The request does not fit the current state of a record."""


class PayloadTooLarge(ServiceError):
    """A request body over the size limit."""


class UnprocessableContent(ServiceError):
    """A well-formed request whose content is invalid."""


STATUS_CODES: dict[type[Exception], int] = {
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnprocessableContent: 422,
    SerializationError: 400,
    ConfigError: 422,
}
"""HTTP status of each error class; subclasses inherit the status."""


def status_of(error: Exception) -> int:
    """Return the HTTP status for ``error`` (500 for unexpected errors)."""
    for cls in type(error).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500
