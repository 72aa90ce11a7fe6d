"""Plots of device behaviour, like aihwkit's ``plot_device``.

Needs matplotlib (``pip install 'aihw_jax[plot]'``); it is imported only
when a plot is drawn.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from aihw_jax.errors import ConfigError
from aihw_jax.simulator.devices import pulse_response
from aihw_jax.simulator.parameters.devices import PulsedDevice

__all__ = ["plot_device_response"]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ConfigError(
            "Plotting needs matplotlib, which is not installed; run "
            "`pip install 'aihw_jax[plot]'`."
        ) from error
    return plt


def plot_device_response(
    device: PulsedDevice,
    path: str | os.PathLike,
    *,
    key: jax.Array | None = None,
    n_pulses: int = 200,
    n_devices: int = 100,
    n_traces: int = 3,
    title: str | None = None,
) -> np.ndarray:
    """Plot a device population's weights under up then down pulses, as a PNG.

    The plot shows the mean over ``n_devices`` devices (each with its own
    device-to-device draws), a band of one standard deviation and
    ``n_traces`` single devices, against the pulse number.

    Args:
        device: device parameters.
        path: where to write the PNG.
        key: PRNG key of the draws (``jax.random.key(0)`` if None).
        n_pulses: pulses in each direction.
        n_devices: population size.
        n_traces: single-device traces drawn.
        title: plot title (the device's class name if None).

    Returns:
        The trajectory ``[2 * n_pulses, n_devices]`` that was plotted.
    """
    key = jax.random.key(0) if key is None else key
    trace = np.asarray(
        pulse_response(device, key=key, n_pulses=n_pulses, n_devices=n_devices)
    )
    plt = _pyplot()
    pulses = np.arange(1, trace.shape[0] + 1)
    mean, std = trace.mean(axis=1), trace.std(axis=1)
    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    axes.fill_between(pulses, mean - std, mean + std, alpha=0.25, label="mean ± std")
    axes.plot(pulses, mean, linewidth=2, label=f"mean of {n_devices} devices")
    for index in range(min(n_traces, trace.shape[1])):
        axes.plot(pulses, trace[:, index], linewidth=0.8, alpha=0.8)
    axes.axvline(n_pulses + 0.5, color="grey", linestyle=":", linewidth=1)
    axes.set_xlabel(f"pulse number ({n_pulses} up, then {n_pulses} down)")
    axes.set_ylabel("weight")
    axes.set_title(title or type(device).__name__)
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return trace
