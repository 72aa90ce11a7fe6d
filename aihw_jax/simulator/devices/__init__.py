"""Device models as pure functions: draw a tile's devices, then pulse them."""

from aihw_jax.simulator.devices.pulsed import (
    PulsedDeviceState as PulsedDeviceState,
    apply_pulses as apply_pulses,
    granularity as granularity,
    init as init,
    is_constant_step as is_constant_step,
    post_update as post_update,
)
from aihw_jax.simulator.devices.response import pulse_response as pulse_response

__all__ = [
    "PulsedDeviceState",
    "apply_pulses",
    "granularity",
    "init",
    "is_constant_step",
    "post_update",
    "pulse_response",
]
