"""The ``Examples:`` in the docstrings run and show what they claim."""

import doctest
import importlib

import pytest

MODULES = [
    "aihw_jax.serialization",
    "aihw_jax.cloud.converter",
    "aihw_jax.experiments._inferencing",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
