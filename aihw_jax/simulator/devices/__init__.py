"""Device models as pure functions: draw a tile's devices, then pulse them."""

from aihw_jax.simulator.devices.pulsed import (
    PulsedDeviceState as PulsedDeviceState,
    apply_pulses as apply_pulses,
    granularity as granularity,
    init as init,
    post_update as post_update,
)

__all__ = ["PulsedDeviceState", "apply_pulses", "granularity", "init", "post_update"]
