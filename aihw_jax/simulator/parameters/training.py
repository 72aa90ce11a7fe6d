"""UpdateParameters: how a tile turns the update ``-lr * d x^T`` into pulses."""

from __future__ import annotations

from flax import struct

from aihw_jax.errors import ConfigError
from aihw_jax.simulator.parameters import _validation as v
from aihw_jax.simulator.parameters.enums import PulseType

__all__ = ["UpdateParameters"]


@struct.dataclass
class UpdateParameters:
    """Parameters of the pulsed update, with aihwkit's names and defaults.

    With update management, each sample's pulse probabilities are balanced
    between ``x`` and ``d``. With update-BL management, each sample also gets
    the shortest pulse train (at most ``desired_bl``) that carries its update.
    """

    desired_bl: int = struct.field(pytree_node=False, default=31)
    """Pulse-train length; the maximum length under update-BL management."""
    fixed_bl: bool = struct.field(pytree_node=False, default=True)
    """Keep ``desired_bl`` fixed (used only without update-BL management)."""
    pulse_type: PulseType = struct.field(
        pytree_node=False, default=PulseType.STOCHASTIC_COMPRESSED
    )
    """Kind of pulse generation."""
    res: float = 0.0
    """Bin width of the pulse probabilities (0: not quantised)."""
    x_res_implicit: float = 0.0
    """Bin width of the ``x`` probabilities for ``DETERMINISTIC_IMPLICIT``."""
    d_res_implicit: float = 0.0
    """Bin width of the ``d`` probabilities for ``DETERMINISTIC_IMPLICIT``."""
    sto_round: bool = struct.field(pytree_node=False, default=False)
    """Stochastic rounding when quantising probabilities with ``res``."""
    d_sparsity: bool = struct.field(pytree_node=False, default=False)
    """Diagnostic in aihwkit; it does not change the update."""
    update_bl_management: bool = struct.field(pytree_node=False, default=True)
    """Choose the pulse-train length per sample (implies update management)."""
    update_management: bool = struct.field(pytree_node=False, default=True)
    """Balance the ``x`` and ``d`` probabilities per sample."""
    um_grad_scale: float = 1.0
    """Factor on ``max|d|`` in update management (< 1 clips large ``d`` earlier)."""

    def __post_init__(self) -> None:
        v.check_int(self, "desired_bl", low=1, high=1024)
        for name in (
            "fixed_bl",
            "sto_round",
            "d_sparsity",
            "update_bl_management",
            "update_management",
        ):
            v.check_bool(self, name)
        v.coerce_enum(self, "pulse_type", PulseType)
        for name in ("res", "x_res_implicit", "d_res_implicit"):
            v.check_number(self, name, low=0.0)
        v.check_number(self, "um_grad_scale", low=0.0, low_open=True)

    def check_support(self) -> None:
        """Raise ConfigError for pulse types that are not simulated yet."""
        managed = self.update_management or self.update_bl_management
        if not self.fixed_bl and not managed:
            raise ConfigError(
                "`UpdateParameters.fixed_bl`=False without update management "
                "(pulse trains longer than desired_bl) is not simulated by aihw_jax "
                "yet; set fixed_bl=True or turn update management on."
            )
