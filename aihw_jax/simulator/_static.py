"""Decide at trace time whether an optional feature can be left out.

Config floats are pytree leaves: concrete numbers usually, tracers inside a
``vmap`` sweep over them. A feature whose strength is concretely zero is
left out of the compiled function; a traced strength keeps it in.
"""

from __future__ import annotations

import jax
import numpy as np


def is_zero(value: object) -> bool:
    """True if ``value`` is concretely zero everywhere, False if traced or not."""
    if isinstance(value, jax.core.Tracer):
        return False
    return bool(np.all(np.asarray(value) == 0))
