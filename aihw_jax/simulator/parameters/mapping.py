"""MappingParameter: how a layer's weight matrix is laid onto tiles."""

from __future__ import annotations

from flax import struct

from aihw_jax.errors import ConfigError
from aihw_jax.simulator.parameters import _validation as v

__all__ = ["MappingParameter"]


@struct.dataclass
class MappingParameter:
    """Mapping of a layer onto analog tiles, with aihwkit's names and defaults.

    A layer larger than ``max_input_size`` inputs or ``max_output_size``
    outputs is split into ``ceil(size / max)`` parts per dimension, the first
    ``size % n`` parts one larger. Each part is an independent tile with its
    own periphery. Outputs of input parts are summed digitally.
    """

    digital_bias: bool = struct.field(pytree_node=False, default=True)
    """Keep the bias digital (added after the analog output)."""
    weight_scaling_omega: float = 0.0
    """Scale weights so that their maximum maps to this value (0: off)."""
    weight_scaling_columnwise: bool = struct.field(pytree_node=False, default=False)
    """Scale per output row instead of per tile."""
    weight_scaling_lr_compensation: bool = struct.field(
        pytree_node=False, default=False
    )
    """Compensate the learning rate for the weight scaling."""
    learn_out_scaling: bool = struct.field(pytree_node=False, default=False)
    """Learn a digital scale of the tile outputs."""
    out_scaling_columnwise: bool = struct.field(pytree_node=False, default=False)
    """Learn one output scale per output instead of per tile."""
    max_input_size: int = struct.field(pytree_node=False, default=512)
    """Largest number of inputs of one tile (0: no limit)."""
    max_output_size: int = struct.field(pytree_node=False, default=512)
    """Largest number of outputs of one tile (0: no limit)."""

    def __post_init__(self) -> None:
        for name in (
            "digital_bias",
            "weight_scaling_columnwise",
            "weight_scaling_lr_compensation",
            "learn_out_scaling",
            "out_scaling_columnwise",
        ):
            v.check_bool(self, name)
        v.check_number(self, "weight_scaling_omega", low=0.0)
        v.check_int(self, "max_input_size", low=0)
        v.check_int(self, "max_output_size", low=0)

    def check_support(self, *, scaling: bool = False) -> None:
        """Raise ConfigError for options that are valid but not simulated yet.

        Args:
            scaling: True for configs whose layers simulate the mapping
                scales (``weight_scaling_omega``, ``learn_out_scaling``):
                the inference and floating-point configs.
        """
        if not self.digital_bias:
            raise ConfigError(
                "`MappingParameter.digital_bias`=False (analog bias) is not "
                "simulated by aihw_jax yet; set digital_bias=True."
            )
        if scaling:
            return
        if self.learn_out_scaling:
            raise ConfigError(
                "`MappingParameter.learn_out_scaling`=True is simulated for "
                "InferenceRPUConfig and FloatingPointRPUConfig layers only; set it "
                "to False."
            )
        omega = v._concrete(self.weight_scaling_omega)
        if omega is not None and (omega != 0).any():
            raise ConfigError(
                f"`MappingParameter.weight_scaling_omega`="
                f"{self.weight_scaling_omega!r} is simulated for InferenceRPUConfig "
                "and FloatingPointRPUConfig layers only; set it to 0."
            )
