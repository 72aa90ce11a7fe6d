"""Experiments: immutable descriptions of training studies, run by runners."""

from aihw_jax.experiments._inferencing import BasicInferencing as BasicInferencing
from aihw_jax.experiments._training import BasicTraining as BasicTraining

__all__ = ["BasicInferencing", "BasicTraining"]
