"""Exceptions raised by aihw_jax.

All of them derive from one root, so callers can catch everything the
library raises on purpose with a single ``except``::

    AihwError
    ├── ConfigError      an invalid or unsupported configuration value
    ├── DatasetError     a data set is missing, corrupt or cannot be built
    └── SerializationError  a payload is not a valid aihw_jax envelope, or
                         does not fit the model it is loaded into

``ConfigError`` also derives from ``ValueError`` and ``DatasetError`` from
``FileNotFoundError``'s parent ``OSError``, so generic handlers still work.
"""

from __future__ import annotations

__all__ = ["AihwError", "ConfigError", "DatasetError", "SerializationError"]


class AihwError(Exception):
    """Root of every exception that aihw_jax raises on purpose."""


class ConfigError(AihwError, ValueError):
    """An invalid or unsupported configuration value."""


class DatasetError(AihwError, OSError):
    """A data set is missing, corrupt, or cannot be prepared."""


class SerializationError(AihwError, ValueError):
    """A payload is not a valid envelope or does not fit its model."""
