"""Weight templates shipped with aihw_jax, by id.

``BasicInferencing(weight_template_id=...)`` accepts these ids besides
paths and URLs. ``hwa-trained-lenet5-mapped`` is the LeNet-5 of
:mod:`aihw_jax.experiments.templates.lenet5`, hardware-aware trained on
Fashion-MNIST by that module's script.
"""

from __future__ import annotations

import importlib.resources

__all__ = ["SHIPPED_TEMPLATES", "read_template"]

SHIPPED_TEMPLATES = {"hwa-trained-lenet5-mapped": "hwa-trained-lenet5-mapped.msgpack"}
"""File name of every shipped template, by id."""


def read_template(template_id: str) -> bytes:
    """Return the bytes of the shipped template ``template_id``."""
    name = SHIPPED_TEMPLATES[template_id]
    return importlib.resources.files(__name__).joinpath(name).read_bytes()
