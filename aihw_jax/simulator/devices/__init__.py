"""Device models as pure functions: draw a tile's devices, then pulse them."""

from aihw_jax.simulator.devices.pulsed import (
    PulsedDeviceState as PulsedDeviceState,
    apparent_weight as apparent_weight,
    apply_pulses as apply_pulses,
    granularity as granularity,
    has_maintenance as has_maintenance,
    init as init,
    is_affine_step as is_affine_step,
    is_constant_step as is_constant_step,
    post_update as post_update,
    redraw_write_noise as redraw_write_noise,
)
from aihw_jax.simulator.devices.response import pulse_response as pulse_response

__all__ = [
    "PulsedDeviceState",
    "apparent_weight",
    "apply_pulses",
    "granularity",
    "has_maintenance",
    "init",
    "is_affine_step",
    "is_constant_step",
    "post_update",
    "pulse_response",
    "redraw_write_noise",
]
