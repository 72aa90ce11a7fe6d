"""Runners: functions that execute experiments and return their results."""

from aihw_jax.cloud.client import (
    CloudRunner as CloudRunner,
    InferenceCloudRunner as InferenceCloudRunner,
    run_cloud as run_cloud,
)
from aihw_jax.experiments.runners._inference import (
    InferenceLocalRunner as InferenceLocalRunner,
    run_inference_local as run_inference_local,
)
from aihw_jax.experiments.runners._inference_sweep import (
    run_inference_sweep as run_inference_sweep,
)
from aihw_jax.experiments.runners._local import (
    LocalRunner as LocalRunner,
    run_local as run_local,
)
from aihw_jax.experiments.runners._sweep import run_sweep as run_sweep

__all__ = [
    "CloudRunner",
    "InferenceCloudRunner",
    "InferenceLocalRunner",
    "LocalRunner",
    "run_cloud",
    "run_inference_local",
    "run_inference_sweep",
    "run_local",
    "run_sweep",
]
