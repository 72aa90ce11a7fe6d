"""Compound devices as pure functions on the state of one tile.

``init``, ``set_weight``, ``weight`` and ``update`` dispatch on the kind of
compound: a unit cell (``VectorUnitCell``, ``ReferenceUnitCell``,
``OneSidedUnitCell``), a transfer compound (Tiki-Taka and its buffered,
chopped and AGAD forms) or ``MixedPrecisionCompound``. ``update`` applies one
mini-batch, including the per-batch maintenance of every member device.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import jax

from aihw_jax.simulator.compounds import (
    chopped,
    mixed_precision,
    transfer,
    unit_cells,
)
from aihw_jax.simulator.parameters.compounds import (
    ChoppedTransferCompound,
    MixedPrecisionCompound,
    TransferCompound,
)
from aihw_jax.simulator.parameters.training import UpdateParameters

__all__ = ["granularity", "init", "set_weight", "update", "weight"]


class _UnitCellRule:
    """Unit cells in the interface of the other compounds."""

    granularity = staticmethod(unit_cells.granularity)
    init = staticmethod(unit_cells.init)
    set_weight = staticmethod(unit_cells.set_weight)
    weight = staticmethod(unit_cells.weight)

    @staticmethod
    def update(state, x, d, lr, cell, update_params, key):
        pulse_key, maintain_key = jax.random.split(key)
        state, touched = unit_cells.pulse(
            state, x, d, lr, cell, update_params, pulse_key
        )
        return unit_cells.maintain(state, cell, touched, maintain_key)


def _rule(cell: Any) -> ModuleType | type:
    if isinstance(cell, MixedPrecisionCompound):
        return mixed_precision
    if isinstance(cell, ChoppedTransferCompound):
        return chopped
    if isinstance(cell, TransferCompound):
        return transfer
    return _UnitCellRule


def granularity(cell: Any) -> jax.Array:
    """Update-management ``epsilon`` of the compound's gradient update."""
    return _rule(cell).granularity(cell)


def init(key: jax.Array, shape: tuple[int, int], cell: Any) -> dict:
    """Draw the state of one tile of ``shape``; every weight starts at 0."""
    return _rule(cell).init(key, shape, cell)


def set_weight(state: dict, weight: jax.Array, cell: Any) -> dict:
    """Program the visible weight as aihwkit's ``set_weights`` does."""
    return _rule(cell).set_weight(state, weight, cell)


def weight(state: dict, cell: Any) -> jax.Array:
    """Return the weight that the forward and backward MVMs use."""
    return _rule(cell).weight(state, cell)


def update(
    state: dict,
    x: jax.Array,
    d: jax.Array,
    lr: jax.Array,
    cell: Any,
    update_params: UpdateParameters,
    key: jax.Array,
) -> dict:
    """Apply one mini-batch ``x [batch, in]``, ``d [batch, out]`` to one tile."""
    return _rule(cell).update(state, x, d, lr, cell, update_params, key)
