"""InferenceRPUConfig: tiles trained hardware-aware and read with PCM-like noise."""

from __future__ import annotations

from flax import struct

from aihw_jax.errors import ConfigError
from aihw_jax.inference.compensation import (
    GlobalDriftCompensation,
    GlobalDriftCompensationWithExactReference,
    PerColumnDriftCompensation,
)
from aihw_jax.inference.pcm import PCMLikeNoiseModel
from aihw_jax.inference.state_independent import StateIndependentNoiseModel
from aihw_jax.simulator.parameters import _validation as v
from aihw_jax.simulator.parameters.devices import IdealDevice
from aihw_jax.simulator.parameters.enums import (
    BoundManagementType,
    NoiseManagementType,
    PulseType,
)
from aihw_jax.simulator.parameters.inference import (
    PrePostProcessingParameter,
    WeightClipParameter,
    WeightModifierParameter,
    WeightRemapParameter,
)
from aihw_jax.simulator.parameters.io import IOParameters
from aihw_jax.simulator.parameters.mapping import MappingParameter
from aihw_jax.simulator.parameters.training import UpdateParameters

__all__ = ["InferenceRPUConfig"]

NOISE_MODEL_TYPES = (PCMLikeNoiseModel, StateIndependentNoiseModel)
DRIFT_COMPENSATION_TYPES = (
    GlobalDriftCompensation,
    GlobalDriftCompensationWithExactReference,
    PerColumnDriftCompensation,
)


@struct.dataclass
class InferenceRPUConfig:
    """A tile for hardware-aware training and inference with drift, as aihwkit's.

    Training uses the noisy ``forward`` periphery and the modified weights,
    an exact backward pass and an exact floating-point update. After every
    optimizer step the tile clips, remaps and draws new modified weights
    (see :mod:`aihw_jax.simulator.tiles.transforms`). For inference,
    ``noise_model`` programs the weights and lets them drift, and
    ``drift_compensation`` rescales the outputs.

    ``device``, ``backward`` and ``update`` are fixed, as in aihwkit, where
    they are not constructor arguments: they are read-only properties here.
    """

    forward: IOParameters = struct.field(default_factory=IOParameters)
    """Periphery of the forward MVM, in training and in evaluation."""
    noise_model: PCMLikeNoiseModel | StateIndependentNoiseModel = struct.field(
        default_factory=PCMLikeNoiseModel
    )
    """Programming, drift and read noise applied when the weights are programmed."""
    drift_compensation: (
        GlobalDriftCompensation
        | GlobalDriftCompensationWithExactReference
        | PerColumnDriftCompensation
        | None
    ) = struct.field(default_factory=GlobalDriftCompensation)
    """Output factor that undoes the mean drift in evaluation (None: none)."""
    clip: WeightClipParameter = struct.field(default_factory=WeightClipParameter)
    """Clipping of the weights after each optimizer step."""
    remap: WeightRemapParameter = struct.field(default_factory=WeightRemapParameter)
    """Remapping of the weights into the conductance range after each step."""
    modifier: WeightModifierParameter = struct.field(
        default_factory=WeightModifierParameter
    )
    """Modified weights drawn after each optimizer step for the training passes."""
    mapping: MappingParameter = struct.field(default_factory=MappingParameter)
    """Split of the layer into tiles, weight scaling and the place of the bias."""
    pre_post: PrePostProcessingParameter = struct.field(
        default_factory=PrePostProcessingParameter
    )
    """Digital processing around the tile: the learned input range."""

    def __post_init__(self) -> None:
        v.check_type(self, "forward", IOParameters)
        v.check_type(self, "noise_model", NOISE_MODEL_TYPES)
        if self.drift_compensation is not None:
            v.check_type(self, "drift_compensation", DRIFT_COMPENSATION_TYPES)
        v.check_type(self, "clip", WeightClipParameter)
        v.check_type(self, "remap", WeightRemapParameter)
        v.check_type(self, "modifier", WeightModifierParameter)
        v.check_type(self, "mapping", MappingParameter)
        v.check_type(self, "pre_post", PrePostProcessingParameter)
        self._check_output_clipping_management()

    def _check_output_clipping_management(self) -> None:
        """Reject managed output clipping with a periphery that rescales inputs.

        The input range can only react to clipped outputs when their scale
        is fixed: aihwkit raises the same error.
        """
        input_range = self.pre_post.input_range
        if not (input_range.enable and input_range.manage_output_clipping):
            return
        forward = self.forward
        if (
            forward.is_perfect
            or forward.noise_management is not NoiseManagementType.NONE
            or forward.bound_management is not BoundManagementType.NONE
        ):
            raise ConfigError(
                "`InputRangeParameter.manage_output_clipping`=True needs a noisy "
                "forward with noise_management and bound_management NONE, got "
                f"is_perfect={forward.is_perfect}, noise_management="
                f"{forward.noise_management.name}, bound_management="
                f"{forward.bound_management.name}; set those or "
                "manage_output_clipping=False."
            )

    @property
    def device(self) -> IdealDevice:
        """The device: ideal, with exact updates and no diffusion or decay."""
        return IdealDevice()

    @property
    def backward(self) -> IOParameters:
        """The backward periphery: an exact transposed product."""
        return IOParameters(is_perfect=True)

    @property
    def update(self) -> UpdateParameters:
        """The update: exact floating-point ``W -= lr * d x^T``, no pulses."""
        return UpdateParameters(pulse_type=PulseType.NONE)

    def check_support(self) -> None:
        """Raise ConfigError for any option that is valid but not simulated yet."""
        self.forward.check_support()
        self.modifier.check_support()
        self.clip.check_support()
        self.remap.check_support()
        self.mapping.check_support(scaling=True)
        self.pre_post.check_support()
