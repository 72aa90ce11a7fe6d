"""Helpers around the simulator: plots, and progress output for long runs.

The plots need matplotlib (``pip install 'aihw_jax[plot]'``); progress bars
and summary lines live in :mod:`aihw_jax.utils.progress`.
"""

from aihw_jax.utils.visualization import (
    plot_device_response as plot_device_response,
    plot_inference_accuracy as plot_inference_accuracy,
    plot_tile_histograms as plot_tile_histograms,
    plot_training_curves as plot_training_curves,
)

__all__ = [
    "plot_device_response",
    "plot_inference_accuracy",
    "plot_tile_histograms",
    "plot_training_curves",
]
