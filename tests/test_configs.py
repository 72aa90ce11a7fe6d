"""Config dataclasses: defaults, pytree structure and validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from aihw_jax.errors import ConfigError
from aihw_jax.simulator.configs import (
    BoundManagementType,
    ConstantStepDevice,
    FloatingPointRPUConfig,
    IOParameters,
    MappingParameter,
    NoiseManagementType,
    PulseType,
    SingleRPUConfig,
    UpdateParameters,
)


def test_io_defaults_match_aihwkit():
    io = IOParameters()
    assert io.inp_res == pytest.approx(1 / 126)
    assert io.out_res == pytest.approx(1 / 510)
    assert io.out_bound == 12.0
    assert io.out_noise == 0.06
    assert io.noise_management is NoiseManagementType.ABS_MAX
    assert io.bound_management is BoundManagementType.ITERATIVE
    assert io.max_bm_factor == 1000
    assert io.max_bm_res == 0.25


def test_single_config_defaults():
    config = SingleRPUConfig()
    assert isinstance(config.device, ConstantStepDevice)
    assert config.device.dw_min == 0.001
    assert config.device.dw_min_std == 0.3
    assert config.update.desired_bl == 31
    assert config.update.pulse_type is PulseType.STOCHASTIC_COMPRESSED
    assert config.update.update_management
    assert config.update.update_bl_management
    assert config.mapping.max_input_size == 512
    assert config.mapping.digital_bias


def test_floats_are_leaves_and_enums_static():
    leaves = jax.tree.leaves(IOParameters())
    assert 0.06 in leaves
    assert all(isinstance(leaf, float) for leaf in leaves)
    assert len(leaves) == 22


def test_vmap_sweeps_a_config_leaf():
    def noise_of(io):
        return io.out_noise * 2.0

    sweep = IOParameters(out_noise=jnp.array([0.0, 0.1, 0.2]))
    axes = jax.tree.map(lambda _: None, IOParameters()).replace(out_noise=0)
    result = jax.vmap(noise_of, in_axes=(axes,))(sweep)
    assert jnp.allclose(result, jnp.array([0.0, 0.2, 0.4]))


def test_replace_returns_new_config():
    io = IOParameters()
    changed = io.replace(out_noise=0.1)
    assert changed.out_noise == 0.1
    assert io.out_noise == 0.06


def test_enum_accepts_member_name_and_value():
    assert (
        IOParameters(noise_management="MAX").noise_management is NoiseManagementType.MAX
    )
    assert (
        IOParameters(noise_management="AbsMax").noise_management
        is NoiseManagementType.ABS_MAX
    )


@pytest.mark.parametrize(
    "make, field, value_text",
    [
        pytest.param(
            lambda: IOParameters(out_noise=-0.1),
            "out_noise",
            "-0.1",
            id="negative-noise",
        ),
        pytest.param(
            lambda: IOParameters(inp_res=-1.0),
            "inp_res",
            "-1.0",
            id="negative-resolution",
        ),
        pytest.param(
            lambda: IOParameters(noise_management="ABS"),
            "noise_management",
            "'ABS'",
            id="unknown-enum",
        ),
        pytest.param(
            lambda: IOParameters(out_bound="12"),
            "out_bound",
            "'12'",
            id="string-number",
        ),
        pytest.param(
            lambda: IOParameters(is_perfect=1), "is_perfect", "1", id="int-flag"
        ),
        pytest.param(
            lambda: IOParameters(max_bm_factor=0),
            "max_bm_factor",
            "0",
            id="zero-bm-factor",
        ),
        pytest.param(
            lambda: UpdateParameters(desired_bl=0), "desired_bl", "0", id="zero-bl"
        ),
        pytest.param(
            lambda: UpdateParameters(desired_bl=3.5), "desired_bl", "3.5", id="float-bl"
        ),
        pytest.param(
            lambda: UpdateParameters(pulse_type="RANDOM"),
            "pulse_type",
            "'RANDOM'",
            id="unknown-pulse",
        ),
        pytest.param(
            lambda: ConstantStepDevice(dw_min=0.0), "dw_min", "0.0", id="zero-step"
        ),
        pytest.param(
            lambda: ConstantStepDevice(w_min=0.1), "w_min", "0.1", id="positive-w-min"
        ),
        pytest.param(
            lambda: ConstantStepDevice(dw_min_std=-1.0),
            "dw_min_std",
            "-1.0",
            id="negative-c2c",
        ),
        pytest.param(
            lambda: MappingParameter(max_input_size=-1),
            "max_input_size",
            "-1",
            id="negative-size",
        ),
        pytest.param(
            lambda: SingleRPUConfig(device=IOParameters()),
            "device",
            "IOParameters",
            id="wrong-device",
        ),
    ],
)
def test_invalid_value_names_field_and_value(make, field, value_text):
    with pytest.raises(ConfigError) as error:
        make()
    message = str(error.value)
    assert f".{field}`" in message
    assert value_text in message


def test_range_appears_in_message():
    with pytest.raises(ConfigError, match=r"must be a finite number >= 0"):
        IOParameters(out_noise=-1.0)
    with pytest.raises(ConfigError, match=r"one of NONE, ABS_MAX, MAX"):
        IOParameters(noise_management="nope")


def test_unsupported_option_is_reported_before_tracing():
    config = SingleRPUConfig(forward=IOParameters(out_nonlinearity=0.1))
    with pytest.raises(ConfigError, match="out_nonlinearity"):
        config.check_support()


def test_input_bound_must_be_one_under_noise_management():
    with pytest.raises(ConfigError, match="inp_bound"):
        IOParameters(inp_bound=2.0).check_support()
    IOParameters(inp_bound=2.0, noise_management="NONE").check_support()


def test_floating_point_config_checks_device_type():
    with pytest.raises(ConfigError, match="device"):
        FloatingPointRPUConfig(device=ConstantStepDevice())


@pytest.mark.parametrize(
    "value",
    [float("inf"), float("nan"), [-1.0], (0.1,), 1j],
    ids=["inf", "nan", "list", "tuple", "complex"],
)
def test_non_finite_or_non_real_values_are_rejected(value):
    with pytest.raises(ConfigError, match="out_bound"):
        IOParameters(out_bound=value)


def test_static_field_cannot_be_swept():
    def build(factor):
        return IOParameters(max_bm_factor=factor).out_noise

    with pytest.raises(ConfigError, match="static field"):
        jax.vmap(build)(jnp.array([10, 100]))
