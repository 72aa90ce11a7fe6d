"""Device models as pure functions: draw a tile's devices, then pulse them."""

from aihw_jax.simulator.devices.pulsed import (
    PulsedDeviceState as PulsedDeviceState,
)
from aihw_jax.simulator.devices.pulsed import (
    apply_pulses as apply_pulses,
)
from aihw_jax.simulator.devices.pulsed import (
    granularity as granularity,
)
from aihw_jax.simulator.devices.pulsed import (
    init as init,
)
from aihw_jax.simulator.devices.pulsed import (
    post_update as post_update,
)

__all__ = ["PulsedDeviceState", "apply_pulses", "granularity", "init", "post_update"]
