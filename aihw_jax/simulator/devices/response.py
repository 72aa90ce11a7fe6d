"""Pulse response of devices: weight trajectories under up then down pulses."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from aihw_jax.simulator.devices import models
from aihw_jax.simulator.devices.pulsed import (
    apparent_weight,
    init,
    redraw_write_noise,
)
from aihw_jax.simulator.parameters.devices import PulsedDevice
from aihw_jax.simulator.parameters.training import UpdateParameters
from aihw_jax.simulator.tiles import update as tile_update

__all__ = ["pulse_response"]

_SINGLE_PULSE = UpdateParameters(
    desired_bl=1, update_management=False, update_bl_management=False
)


def pulse_response(
    device: PulsedDevice,
    *,
    key: jax.Array,
    n_pulses: int = 200,
    n_devices: int = 1,
    w_init: float | None = 0.0,
) -> jax.Array:
    """Return the weights of a device population under pulses.

    Each of ``n_devices`` devices (with its own device-to-device draws) gets
    ``n_pulses`` up pulses, then ``n_pulses`` down pulses, one pulse per
    update, as aihwkit's ``plot_device`` does.

    Args:
        device: device parameters.
        key: key of the device draws and of the cycle-to-cycle noise.
        n_pulses: pulses in each direction.
        n_devices: population size.
        w_init: starting weight, clipped to each device's bounds; None starts
            at the mean lower bound ``w_min``.

    Returns:
        ``[2 * n_pulses, n_devices]``: the weights after every pulse, with
        write noise where the device has it.
    """
    init_key, pulse_key = jax.random.split(key)
    state = init(init_key, (n_devices, 1), device)
    start = models.resolve(device).w_min if w_init is None else w_init
    weight = jnp.clip(
        jnp.full((n_devices, 1), start, jnp.float32), state.w_min, state.w_max
    )
    granularity = models.granularity(device)
    directions = jnp.concatenate([-jnp.ones(n_pulses), jnp.ones(n_pulses)])
    keys = jax.random.split(pulse_key, 2 * n_pulses)

    def pulse(carry, inputs):
        weight, state = carry
        direction, step_key = inputs
        update_key, noise_key = jax.random.split(step_key)
        d = jnp.full((1, n_devices), direction)
        # With unit x and d and lr = epsilon, both lines fire with certainty.
        weight = tile_update.pulsed_update(
            weight,
            state,
            jnp.ones((1, 1)),
            d,
            granularity,
            device,
            _SINGLE_PULSE,
            key=update_key,
        )
        state = redraw_write_noise(
            state, jnp.ones(weight.shape, bool), device, noise_key
        )
        return (weight, state), apparent_weight(weight, state)[:, 0]

    _, trace = jax.lax.scan(pulse, (weight, state), (directions, keys))
    return trace
