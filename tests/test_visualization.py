"""Device-response plots."""

from __future__ import annotations

import numpy as np

from aihw_jax.simulator.presets import EcRamPresetDevice
from aihw_jax.utils import plot_device_response


def test_device_response_plot_is_written(tmp_path, key):
    path = tmp_path / "ecram.png"
    trace = plot_device_response(
        EcRamPresetDevice(), path, key=key, n_pulses=50, n_devices=20
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000
    assert trace.shape == (100, 20)
    assert np.all(np.diff(trace.mean(axis=1)[:50]) > 0)
