"""Helpers around the simulator: plots of device behaviour."""

from aihw_jax.utils.visualization import plot_device_response as plot_device_response

__all__ = ["plot_device_response"]
