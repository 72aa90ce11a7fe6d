"""Inference on analog hardware: noise models, conductance converters, drift compensation.

The names follow ``aihwkit.inference``. Models and compensations are frozen
pytrees, and the operations are pure functions with explicit PRNG keys.
"""

from aihw_jax.inference.compensation import (
    GlobalDriftCompensation as GlobalDriftCompensation,
    GlobalDriftCompensationWithExactReference as GlobalDriftCompensationWithExactReference,
    PerColumnDriftCompensation as PerColumnDriftCompensation,
    compensation_factor as compensation_factor,
    init_baseline as init_baseline,
    readout as readout,
    readout_forward as readout_forward,
)
from aihw_jax.inference.converter import (
    SinglePairConductanceConverter as SinglePairConductanceConverter,
    convert_back_to_weights as convert_back_to_weights,
    convert_to_conductances as convert_to_conductances,
)
from aihw_jax.inference.noise import (
    ProgrammedState as ProgrammedState,
    apply_drift_noise as apply_drift_noise,
    apply_drift_noise_to_conductance as apply_drift_noise_to_conductance,
    apply_programming_noise as apply_programming_noise,
    apply_programming_noise_to_conductance as apply_programming_noise_to_conductance,
    generate_drift_coefficients as generate_drift_coefficients,
)
from aihw_jax.inference.pcm import PCMLikeNoiseModel as PCMLikeNoiseModel
from aihw_jax.inference.state_independent import (
    StateIndependentNoiseModel as StateIndependentNoiseModel,
)

__all__ = [
    "GlobalDriftCompensation",
    "GlobalDriftCompensationWithExactReference",
    "PCMLikeNoiseModel",
    "PerColumnDriftCompensation",
    "ProgrammedState",
    "SinglePairConductanceConverter",
    "StateIndependentNoiseModel",
    "apply_drift_noise",
    "apply_drift_noise_to_conductance",
    "apply_programming_noise",
    "apply_programming_noise_to_conductance",
    "compensation_factor",
    "convert_back_to_weights",
    "convert_to_conductances",
    "generate_drift_coefficients",
    "init_baseline",
    "readout",
    "readout_forward",
]
