"""Checks on ids and names before they reach the database, and JSON output.

PostgreSQL rejects a NUL character in a text value with an error, so ids and
names are checked here first. An id that cannot exist gets 404, as a
missing one does, and a name with control characters gets 422.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

__all__ = [
    "MAX_ID_IN_MESSAGE",
    "control_character_problem",
    "is_possible_id",
    "json_safe",
    "short_id",
]

MAX_ID_IN_MESSAGE = 40
"""Characters of an id repeated in an error message; longer ids are cut."""

_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
"""Form of every record id: a uuid4 in hex (see ``models.new_id``)."""


def is_possible_id(value: str) -> bool:
    """Return whether ``value`` has the form of a record id."""
    return _ID_PATTERN.fullmatch(value) is not None


def short_id(value: str) -> str:
    """Return ``value`` cut to :data:`MAX_ID_IN_MESSAGE` characters, quoted."""
    if len(value) <= MAX_ID_IN_MESSAGE:
        return repr(value)
    return repr(value[:MAX_ID_IN_MESSAGE]) + "…"


def control_character_problem(value: str, field: str) -> str | None:
    """Return why ``value`` is rejected for its control characters, or None."""
    if any(unicodedata.category(char) == "Cc" for char in value):
        return f"{field} must not contain control characters such as NUL or newline."
    return None


def json_safe(value: Any) -> Any:
    """Return ``value`` with NaN and infinities replaced by ``None``.

    Python's ``json`` writes them as the bare words ``NaN`` and ``Infinity``,
    which JSON parsers (including the browser's) reject.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value
