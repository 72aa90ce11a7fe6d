"""Pure tile operations: the IO-managed analog MVM and the pulsed update."""

from aihw_jax.simulator.tiles.mvm import (
    backward as backward,
    forward as forward,
    forward_with_mask as forward_with_mask,
)

__all__ = ["backward", "forward", "forward_with_mask"]
