"""InferenceRPUConfig, its parameters and the inference presets, against aihwkit 1.2.0.

The expected defaults and preset values are those of aihwkit 1.2.0's
dataclasses, written out here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aihw_jax.errors import ConfigError
from aihw_jax.inference import (
    GlobalDriftCompensation,
    PCMLikeNoiseModel,
    PerColumnDriftCompensation,
    StateIndependentNoiseModel,
)
from aihw_jax.simulator.configs._inference import InferenceRPUConfig
from aihw_jax.simulator.parameters.devices import IdealDevice
from aihw_jax.simulator.parameters.enums import (
    BoundManagementType,
    NoiseManagementType,
    PulseType,
    WeightNoiseType,
)
from aihw_jax.simulator.parameters.inference import (
    InputRangeParameter,
    PrePostProcessingParameter,
    WeightClipParameter,
    WeightModifierParameter,
    WeightRemapParameter,
)
from aihw_jax.simulator.parameters.inference_enums import (
    WeightClipType,
    WeightModifierType,
    WeightRemapType,
)
from aihw_jax.simulator.parameters.io import IOParameters
from aihw_jax.simulator.parameters.mapping import MappingParameter
from aihw_jax.simulator.presets.inference import (
    FloatingPointPreset,
    StandardHWATrainingPreset,
)
from aihw_jax.simulator.presets.web import (
    OldWebComposerInferenceRPUConfig,
    WebComposerInferenceRPUConfig,
    WebComposerIOParameters,
)

ENUM_VALUES = {
    WeightModifierType: {
        "NONE": "None",
        "DISCRETIZE": "Discretize",
        "MULT_NORMAL": "MultNormal",
        "ADD_NORMAL": "AddNormal",
        "DISCRETIZE_ADD_NORMAL": "DiscretizeAddNormal",
        "DOREFA": "DoReFa",
        "POLY": "Poly",
        "PCM_NOISE": "PCMNoise",
        "PROG_NOISE": "ProgNoise",
        "DROP_CONNECT": "DropConnect",
        "COPY": "Copy",
    },
    WeightClipType: {
        "NONE": "None",
        "FIXED_VALUE": "FixedValue",
        "LAYER_GAUSSIAN": "LayerGaussian",
        "AVERAGE_CHANNEL_MAX": "AverageChannelMax",
    },
    WeightRemapType: {
        "NONE": "None",
        "LAYERWISE_SYMMETRIC": "LayerwiseSymmetric",
        "CHANNELWISE_SYMMETRIC": "ChannelwiseSymmetric",
    },
}


@pytest.mark.parametrize("enum_type", list(ENUM_VALUES), ids=lambda e: e.__name__)
def test_enum_values_match_aihwkit(enum_type):
    members = {member.name: member.value for member in enum_type}
    assert members == ENUM_VALUES[enum_type]


def test_modifier_defaults_match_aihwkit():
    modifier = WeightModifierParameter()
    assert modifier.type is WeightModifierType.NONE
    assert modifier.std_dev == 0.0
    assert modifier.per_batch_sample is False
    assert modifier.res == 0.0
    assert modifier.sto_round is False
    assert modifier.dorefa_clip == 0.6
    assert modifier.pdrop == 0.0
    assert modifier.enable_during_test is False
    assert modifier.rel_to_actual_wmax is True
    assert modifier.assumed_wmax == 1.0
    assert modifier.copy_last_column is False
    assert modifier.coeffs == (0.0105392, 0.0768, -0.046925)
    assert modifier.g_max == 25.0
    assert modifier.pcm_zero_thres == 0.0
    assert modifier.pcm_t_inference == 0.0
    assert modifier.pcm_prob_at_reset == 0.0
    assert modifier.pcm_prob_at_gmax == 0.0
    assert modifier.pcm_prob_at_random == 0.0
    assert modifier.pcm_t0 == 20.0


def test_clip_and_remap_defaults_match_aihwkit():
    clip = WeightClipParameter()
    assert clip.type is WeightClipType.NONE
    assert clip.fixed_value == -1.0
    assert clip.sigma == 2.5
    remap = WeightRemapParameter()
    assert remap.type is WeightRemapType.NONE
    assert remap.remapped_wmax == 1.0
    assert remap.max_scale_range == 0.0
    assert remap.max_scale_ref == 0.0


def test_input_range_defaults_match_aihwkit():
    input_range = PrePostProcessingParameter().input_range
    assert input_range.enable is False
    assert input_range.learn_input_range is True
    assert input_range.init_value == 3.0
    assert input_range.init_from_data == 100
    assert input_range.init_std_alpha == 3.0
    assert input_range.decay == 0.001
    assert input_range.input_min_percentage == 0.95
    assert input_range.manage_output_clipping is False
    assert input_range.output_min_percentage == 0.95
    assert input_range.gradient_scale == 1.0
    assert input_range.gradient_relative is True
    assert input_range.calibration_info is None


def test_inference_config_defaults():
    config = InferenceRPUConfig()
    assert config.forward == IOParameters()
    assert config.forward.out_noise == 0.06
    assert config.backward.is_perfect is True
    assert config.update.pulse_type is PulseType.NONE
    assert isinstance(config.device, IdealDevice)
    assert config.device.diffusion == 0.0
    assert config.device.lifetime == 0.0
    assert config.noise_model == PCMLikeNoiseModel()
    assert isinstance(config.drift_compensation, GlobalDriftCompensation)
    assert config.clip.type is WeightClipType.NONE
    assert config.remap.type is WeightRemapType.NONE
    assert config.modifier.type is WeightModifierType.NONE
    assert config.mapping == MappingParameter()
    assert config.mapping.max_input_size == 512
    assert config.mapping.digital_bias is True
    assert config.pre_post.input_range.enable is False


def test_fixed_fields_are_not_arguments():
    with pytest.raises(TypeError, match="backward"):
        InferenceRPUConfig(backward=IOParameters())
    with pytest.raises(TypeError, match="update"):
        InferenceRPUConfig(update=None)


def test_other_noise_models_and_no_compensation():
    config = InferenceRPUConfig(
        noise_model=StateIndependentNoiseModel(), drift_compensation=None
    )
    assert config.drift_compensation is None
    per_column = InferenceRPUConfig(drift_compensation=PerColumnDriftCompensation())
    assert isinstance(per_column.drift_compensation, PerColumnDriftCompensation)


def test_standard_hwa_training_preset_values():
    config = StandardHWATrainingPreset()
    mapping = config.mapping
    assert mapping.weight_scaling_omega == 1.0
    assert mapping.weight_scaling_columnwise is True
    assert mapping.max_input_size == 512
    assert mapping.max_output_size == 0
    assert mapping.digital_bias is True
    assert mapping.learn_out_scaling is True
    assert mapping.out_scaling_columnwise is True
    assert mapping.weight_scaling_lr_compensation is False

    forward = config.forward
    assert forward.inp_res == 254.0
    assert forward.out_res == 254.0
    assert forward.bound_management is BoundManagementType.NONE
    assert forward.noise_management is NoiseManagementType.CONSTANT
    assert forward.nm_thres == 1.0
    assert forward.w_noise == 0.0175
    assert forward.w_noise_type is WeightNoiseType.PCM_READ
    assert forward.ir_drop == 1.0
    assert forward.out_noise == 0.04
    assert forward.out_bound == 10.0
    assert forward.inp_bound == 1.0
    assert forward.inp_sto_round is False
    assert forward.inp_noise == 0.0
    assert forward.ir_drop_g_ratio == pytest.approx(571428.57, rel=1e-8)
    assert forward.out_scale == 1.0
    assert forward.is_perfect is False

    assert config.remap.type is WeightRemapType.CHANNELWISE_SYMMETRIC
    assert config.remap.remapped_wmax == 1.0
    assert config.clip.type is WeightClipType.FIXED_VALUE
    assert config.clip.fixed_value == 1.0
    assert config.modifier == WeightModifierParameter()
    assert config.noise_model == PCMLikeNoiseModel()
    assert isinstance(config.drift_compensation, GlobalDriftCompensation)
    assert config.backward.is_perfect is True


def test_standard_hwa_training_preset_input_range():
    input_range = StandardHWATrainingPreset().pre_post.input_range
    assert input_range == InputRangeParameter(enable=True)
    assert input_range.enable is True
    assert input_range.learn_input_range is True
    assert input_range.init_value == 3.0
    assert input_range.init_from_data == 100
    assert input_range.init_std_alpha == 3.0
    assert input_range.decay == 0.001
    assert input_range.input_min_percentage == 0.95
    assert input_range.output_min_percentage == 0.95
    assert input_range.manage_output_clipping is False
    assert input_range.gradient_scale == 1.0
    assert input_range.gradient_relative is True


def test_floating_point_preset_values():
    config = FloatingPointPreset()
    assert config.forward.is_perfect is True
    assert config.mapping.max_input_size == 0
    assert config.mapping.max_output_size == 0
    assert config.pre_post.input_range.enable is False
    assert config.noise_model == PCMLikeNoiseModel()
    assert isinstance(config.drift_compensation, GlobalDriftCompensation)
    assert config.modifier.type is WeightModifierType.NONE
    assert config.clip.type is WeightClipType.NONE
    config.check_support()


def test_web_composer_io_values():
    forward = WebComposerIOParameters()
    assert forward.bound_management is BoundManagementType.ITERATIVE
    assert forward.noise_management is NoiseManagementType.ABS_MAX
    assert forward.inp_res == 1 / 126
    assert forward.inp_sto_round is False
    assert forward.out_bound == 20.0
    assert forward.out_noise == 0.1
    assert forward.out_res == 1 / 510
    assert forward.w_noise == 0.0
    assert forward.w_noise_type is WeightNoiseType.NONE
    assert forward.inp_bound == 1.0
    assert forward.out_scale == 1.0
    assert forward.nm_thres == 0.0
    assert forward.max_bm_factor == 1000
    assert forward.max_bm_res == 0.25
    assert WebComposerIOParameters(out_noise=0.0).out_noise == 0.0


def test_web_composer_config_values():
    config = WebComposerInferenceRPUConfig()
    assert config.forward == WebComposerIOParameters()
    assert config.noise_model == PCMLikeNoiseModel()
    assert isinstance(config.drift_compensation, GlobalDriftCompensation)
    assert config.clip == WeightClipParameter(type="FIXED_VALUE", fixed_value=1.0)
    assert config.clip.sigma == 2.5
    assert config.modifier.type is WeightModifierType.ADD_NORMAL
    assert config.modifier.std_dev == 0.1
    assert config.modifier.rel_to_actual_wmax is True
    assert config.modifier.pdrop == 0.0
    assert config.mapping == MappingParameter(
        digital_bias=True,
        weight_scaling_omega=1.0,
        weight_scaling_columnwise=True,
        weight_scaling_lr_compensation=False,
        learn_out_scaling=True,
        out_scaling_columnwise=False,
        max_input_size=512,
        max_output_size=512,
    )
    assert config.remap == WeightRemapParameter()
    assert config.pre_post.input_range.enable is False
    assert config.backward.is_perfect is True


def test_old_web_composer_config_values():
    config = OldWebComposerInferenceRPUConfig()
    assert config.mapping == MappingParameter(
        digital_bias=False,
        weight_scaling_omega=1.0,
        weight_scaling_columnwise=True,
        learn_out_scaling=False,
        out_scaling_columnwise=False,
        max_input_size=0,
        max_output_size=0,
    )
    web = WebComposerInferenceRPUConfig()
    assert config.replace(mapping=web.mapping) == web


def test_check_support_passes_defaults():
    InferenceRPUConfig().check_support()
    InferenceRPUConfig(
        modifier=WeightModifierParameter(type="PCM_NOISE", std_dev=0.1),
        clip=WeightClipParameter(type="AVERAGE_CHANNEL_MAX"),
        remap=WeightRemapParameter(type="CHANNELWISE_SYMMETRIC"),
    ).check_support()


@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        (
            InferenceRPUConfig(modifier=WeightModifierParameter(per_batch_sample=True)),
            r"per_batch_sample`=True .* set it to False",
        ),
        (
            InferenceRPUConfig(
                forward=IOParameters(noise_management="NONE", bound_management="NONE"),
                pre_post=PrePostProcessingParameter(
                    InputRangeParameter(enable=True, manage_output_clipping=True)
                ),
            ),
            r"manage_output_clipping`=True is not simulated.*=False",
        ),
        (
            InferenceRPUConfig(forward=IOParameters(out_nonlinearity=0.1)),
            r"out_nonlinearity",
        ),
    ],
    ids=["per_batch_sample", "output_clipping", "forward"],
)
def test_check_support_rejects_unsimulated(config, pattern):
    with pytest.raises(ConfigError, match=pattern):
        config.check_support()


def test_enum_fields_accept_names_and_values():
    assert (
        WeightModifierParameter(type="AddNormal").type is WeightModifierType.ADD_NORMAL
    )
    assert (
        WeightModifierParameter(type="ADD_NORMAL").type is WeightModifierType.ADD_NORMAL
    )
    assert (
        WeightClipParameter(type="LayerGaussian").type is WeightClipType.LAYER_GAUSSIAN
    )
    remap = WeightRemapParameter(type="CHANNELWISE_SYMMETRIC")
    assert remap.type is WeightRemapType.CHANNELWISE_SYMMETRIC


@pytest.mark.parametrize(
    ("make", "field", "expected"),
    [
        (lambda: WeightModifierParameter(std_dev=-0.1), "std_dev", ">= 0"),
        (lambda: WeightModifierParameter(res=31.0), "res", "in [0, 1] (a step"),
        (lambda: WeightModifierParameter(pdrop=1.5), "pdrop", "in [0, 1]"),
        (lambda: WeightModifierParameter(assumed_wmax=0.0), "assumed_wmax", "> 0"),
        (lambda: WeightModifierParameter(g_max=-1.0), "g_max", "> 0"),
        (lambda: WeightModifierParameter(pcm_t0=0.0), "pcm_t0", "> 0"),
        (
            lambda: WeightModifierParameter(pcm_prob_at_gmax=2.0),
            "pcm_prob_at_gmax",
            "in [0, 1]",
        ),
        (lambda: WeightModifierParameter(type="Gaussian"), "type", "ADD_NORMAL"),
        (lambda: WeightModifierParameter(sto_round=1), "sto_round", "True or False"),
        (lambda: WeightModifierParameter(coeffs=[0.1, "x"]), "coeffs[1]", "number"),
        (lambda: WeightModifierParameter(coeffs=[0.1, np.inf]), "coeffs[1]", "finite"),
        (lambda: WeightModifierParameter(coeffs=0.1), "coeffs", "list of numbers"),
        (lambda: WeightClipParameter(sigma=-2.5), "sigma", ">= 0"),
        (lambda: WeightClipParameter(fixed_value=np.nan), "fixed_value", "finite"),
        (lambda: WeightClipParameter(type="Clamp"), "type", "FIXED_VALUE"),
        (lambda: WeightRemapParameter(remapped_wmax=0.0), "remapped_wmax", "> 0"),
        (lambda: WeightRemapParameter(max_scale_range=-1), "max_scale_range", ">= 0"),
        (
            lambda: InputRangeParameter(input_min_percentage=95.0),
            "input_min_percentage",
            "in [0, 1]",
        ),
        (lambda: InputRangeParameter(init_value=0.0), "init_value", "> 0"),
        (lambda: InputRangeParameter(init_from_data=-1), "init_from_data", ">= 0"),
        (lambda: InputRangeParameter(init_from_data=1.5), "init_from_data", "integer"),
        (
            lambda: InputRangeParameter(calibration_info=3),
            "calibration_info",
            "string or None",
        ),
        (lambda: InferenceRPUConfig(clip=WeightModifierParameter()), "clip", "Clip"),
        (
            lambda: InferenceRPUConfig(noise_model=GlobalDriftCompensation()),
            "noise_model",
            "PCMLikeNoiseModel or StateIndependentNoiseModel",
        ),
        (
            lambda: InferenceRPUConfig(drift_compensation=PCMLikeNoiseModel()),
            "drift_compensation",
            "GlobalDriftCompensation",
        ),
    ],
)
def test_invalid_value_names_field_and_expectation(make, field, expected):
    with pytest.raises(ConfigError) as error:
        make()
    message = str(error.value)
    assert f".{field}`" in message
    assert expected in message


def test_scale_range_requires_unit_remapped_wmax():
    with pytest.raises(ConfigError, match=r"remapped_wmax=1.0 or max_scale_range=0"):
        WeightRemapParameter(
            type="CHANNELWISE_SYMMETRIC", max_scale_range=2.0, remapped_wmax=0.5
        )
    layerwise = WeightRemapParameter(
        type="LAYERWISE_SYMMETRIC", max_scale_range=2.0, remapped_wmax=0.5
    )
    assert layerwise.remapped_wmax == 0.5


def test_output_clipping_management_needs_fixed_scale():
    input_range = InputRangeParameter(enable=True, manage_output_clipping=True)
    pre_post = PrePostProcessingParameter(input_range=input_range)
    with pytest.raises(ConfigError, match=r"noise_management=ABS_MAX.*False"):
        InferenceRPUConfig(pre_post=pre_post)
    forward = IOParameters(noise_management="NONE", bound_management="NONE")
    config = InferenceRPUConfig(forward=forward, pre_post=pre_post)
    assert config.pre_post.input_range.manage_output_clipping is True


def test_coefficients_become_tuple_leaves():
    modifier = WeightModifierParameter(coeffs=np.array([0.1, 0.2]))
    assert modifier.coeffs == (0.1, 0.2)
    assert WeightModifierParameter(coeffs=[]).coeffs == ()
    leaves = jax.tree.leaves(WeightModifierParameter())
    assert 0.0105392 in leaves
    assert -0.046925 in leaves


def test_modifier_leaves_and_static_fields():
    modifier = WeightModifierParameter(type="POLY", std_dev=0.1)
    leaves, treedef = jax.tree.flatten(modifier)
    assert len(leaves) == 15
    rebuilt = jax.tree.unflatten(treedef, leaves)
    assert rebuilt == modifier
    assert rebuilt.type is WeightModifierType.POLY
    other = jax.tree.structure(modifier.replace(type="ADD_NORMAL"))
    assert other != treedef


def test_config_passes_through_jit():
    config = WebComposerInferenceRPUConfig()

    @jax.jit
    def doubled_noise(config):
        return 2.0 * config.modifier.std_dev + config.clip.fixed_value

    assert float(doubled_noise(config)) == pytest.approx(1.2)
    leaves = jax.tree.leaves(config)
    assert all(isinstance(leaf, (float, int, jax.Array)) for leaf in leaves)


def test_vmap_sweeps_clip_value():
    configs = WeightClipParameter(type="FIXED_VALUE", fixed_value=jnp.array([0.5, 1.0]))
    axes = jax.tree.map(lambda _: None, configs).replace(fixed_value=0)
    values = jax.vmap(lambda clip: clip.fixed_value * 2, in_axes=(axes,))(configs)
    np.testing.assert_allclose(np.asarray(values), [1.0, 2.0])


def test_static_fields_cannot_be_swept():
    def build(count):
        return InputRangeParameter(init_from_data=count).init_value

    with pytest.raises(ConfigError, match="static field"):
        jax.vmap(build)(jnp.array([10, 100]))
