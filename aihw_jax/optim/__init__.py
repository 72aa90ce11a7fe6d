"""Optimizers that train analog layers with pulsed updates."""

from aihw_jax.optim._analog_sgd import (
    AnalogSGD as AnalogSGD,
    AnalogSGDState as AnalogSGDState,
)

__all__ = ["AnalogSGD", "AnalogSGDState"]
