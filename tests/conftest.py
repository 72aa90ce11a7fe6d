"""Shared fixtures: reference data and per-test PRNG keys."""

from __future__ import annotations

import json
import pathlib
import zlib

import jax
import pytest

DATA = pathlib.Path(__file__).parent / "data"


@pytest.fixture
def key(request) -> jax.Array:
    """A PRNG key seeded from the test's name, so each test is reproducible."""
    return jax.random.key(zlib.crc32(request.node.name.encode()))


def load_reference(name: str) -> dict:
    """Load a reference file measured with aihwkit 1.2.0 from ``tests/data``."""
    with open(DATA / name, encoding="utf-8") as handle:
        return json.load(handle)
