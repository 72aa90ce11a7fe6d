"""Exceptions raised by aihw_jax.

All of them derive from one root, so callers can catch everything the
library raises on purpose with a single ``except``::

    AihwError
    ├── ConfigError      an invalid or unsupported configuration value
    ├── DatasetError     a data set is missing, corrupt or cannot be built
    ├── SerializationError  a payload is not a valid aihw_jax envelope, or
    │                    does not fit the model it is loaded into
    └── CloudError       talking to a Composer service failed
        ├── CredentialsError      no API token was found, or the service
        │                         rejected it
        ├── ExperimentStatusError the experiment is not in the status the
        │                         call needs (e.g. a result before completion)
        └── ApiResponseError      the service answered with an error status

``ConfigError`` also derives from ``ValueError`` and ``DatasetError`` from
``FileNotFoundError``'s parent ``OSError``, so generic handlers still work.
"""

from __future__ import annotations

__all__ = [
    "AihwError",
    "ApiResponseError",
    "CloudError",
    "ConfigError",
    "CredentialsError",
    "DatasetError",
    "ExperimentStatusError",
    "SerializationError",
]


class AihwError(Exception):
    """Root of every exception that aihw_jax raises on purpose."""


class ConfigError(AihwError, ValueError):
    """An invalid or unsupported configuration value."""


class DatasetError(AihwError, OSError):
    """A data set is missing, corrupt, or cannot be prepared."""


class SerializationError(AihwError, ValueError):
    """A payload is not a valid envelope or does not fit its model."""


class CloudError(AihwError):
    """Talking to a Composer service failed."""


class CredentialsError(CloudError):
    """No API token was found, or the service rejected it."""


class ExperimentStatusError(CloudError):
    """The cloud experiment is not in the status this call needs."""


class ApiResponseError(CloudError):
    """The service responded with an error status.

    Attributes:
        status_code: the HTTP status of the response.
    """

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code
