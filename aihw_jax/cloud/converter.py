"""Turn the Composer's ``analog_info`` and ``noise_model_info`` into tile configs.

The Composer describes the hardware of an inference experiment with two
flat dicts instead of a full config. ``analog_info`` sets the forward
periphery: ``output_noise_strength`` (the ``out_noise`` std), ``adc`` and
``dac`` (bit counts, so ``out_res = 1 / (2**adc - 2)`` and ``inp_res = 1 /
(2**dac - 2)``). ``noise_model_info`` selects the noise model, with
``device_id`` ``"pcm"`` (``PCMLikeNoiseModel``) or ``"generic"``
(``StateIndependentNoiseModel``), both at ``g_max`` = 25 µS. Its other keys
are the programming-noise polynomial ``poly_constant_coef``,
``poly_first_order_coef`` and ``poly_second_order_coef`` (µS), the factors
``programming_noise_scale``, ``read_noise_scale`` and ``drift_scale``,
``drift_compensation`` (True for ``GlobalDriftCompensation``, False for
none) and, for ``"generic"``, the drift-exponent ``drift_mean`` and
``drift_std``. Every other field keeps the base config's value, as in
aihwkit's cloud converter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import flax.linen as nn

from aihw_jax.errors import ConfigError
from aihw_jax.experiments._inferencing import BasicInferencing
from aihw_jax.inference.compensation import GlobalDriftCompensation
from aihw_jax.inference.pcm import PCMLikeNoiseModel
from aihw_jax.inference.state_independent import StateIndependentNoiseModel
from aihw_jax.nn import AnalogConv2d, AnalogLinear, AnalogSequential
from aihw_jax.simulator.configs import InferenceRPUConfig
from aihw_jax.simulator.presets.web import (
    OldWebComposerInferenceRPUConfig,
    WebComposerInferenceRPUConfig,
)

__all__ = [
    "ANALOG_INFO_KEYS",
    "BASE_CONFIGS",
    "DEVICE_IDS",
    "NOISE_MODEL_INFO_KEYS",
    "apply_info",
    "check_info",
    "rpu_config_from_info",
]

G_MAX = 25.0
"""Maximal conductance in µS of both converted noise models, as in aihwkit."""

ANALOG_INFO_KEYS = ("output_noise_strength", "adc", "dac")
"""Keys of ``analog_info``; all of them are required."""

NOISE_MODEL_INFO_KEYS = (
    "device_id",
    "programming_noise_scale",
    "read_noise_scale",
    "drift_scale",
    "drift_compensation",
    "poly_constant_coef",
    "poly_first_order_coef",
    "poly_second_order_coef",
)
"""Keys that ``noise_model_info`` needs for every device."""

DRIFT_KEYS = ("drift_mean", "drift_std")
"""Keys of ``noise_model_info`` that ``"generic"`` needs and ``"pcm"`` ignores."""

DEVICE_IDS = ("pcm", "generic")
"""Values of ``noise_model_info["device_id"]``."""

MIN_BITS = 2
MAX_BITS = 32
"""Range of the ``adc`` and ``dac`` bit counts."""

BASE_CONFIGS: dict[str, Callable[[], InferenceRPUConfig]] = {
    "InferenceRPUConfig": InferenceRPUConfig,
    "WebComposerInferenceRPUConfig": WebComposerInferenceRPUConfig,
    "OldWebComposerInferenceRPUConfig": OldWebComposerInferenceRPUConfig,
}
"""Configs that the converter starts from, by aihwkit's class name."""


def _check_keys(info: Any, name: str, required: tuple[str, ...], optional=()) -> None:
    if not isinstance(info, dict):
        raise ConfigError(f"`{name}` must be a dict, got {type(info).__name__}.")
    missing = [key for key in required if key not in info]
    unknown = sorted(
        repr(key) for key in info if key not in required and key not in optional
    )
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unknown:
        problems.append(f"unknown keys [{', '.join(unknown)}]")
    if problems:
        may = f", and may have {list(optional)}" if optional else ""
        raise ConfigError(
            f"`{name}` has {' and '.join(problems)}; it needs exactly "
            f"{list(required)}{may}."
        )


def _number(info: dict, name: str, key: str, *, low: float | None = None) -> float:
    value = info[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"`{name}[{key!r}]` must be a number, got {value!r}.")
    if not math.isfinite(value) or (low is not None and value < low):
        bound = "" if low is None else f" >= {low:g}"
        raise ConfigError(
            f"`{name}[{key!r}]` must be a finite number{bound}, got {value!r}."
        )
    return float(value)


def _bits(info: dict, name: str, key: str) -> int:
    value = info[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            f"`{name}[{key!r}]` must be an integer bit count, got {value!r}."
        )
    if not MIN_BITS <= value <= MAX_BITS:
        raise ConfigError(
            f"`{name}[{key!r}]` must be in [{MIN_BITS}, {MAX_BITS}] bits, got {value}."
        )
    return value


def check_info(
    analog_info: dict, noise_model_info: dict
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate both info dicts and return copies with plain Python values.

    For ``device_id`` ``"pcm"``, ``drift_mean`` and ``drift_std`` may be
    present and are ignored, because aihwkit's Composer sends them for every
    device.

    Raises:
        ConfigError: for a missing or unknown key, a value of the wrong type,
            a bit count outside [2, 32], a negative scale or a non-finite number.
    """
    _check_keys(analog_info, "analog_info", ANALOG_INFO_KEYS)
    analog = {
        "output_noise_strength": _number(
            analog_info, "analog_info", "output_noise_strength", low=0.0
        ),
        "adc": _bits(analog_info, "analog_info", "adc"),
        "dac": _bits(analog_info, "analog_info", "dac"),
    }
    name = "noise_model_info"
    device_id = (
        noise_model_info.get("device_id")
        if isinstance(noise_model_info, dict)
        else None
    )
    drift_required = DRIFT_KEYS if device_id == "generic" else ()
    drift_optional = () if device_id == "generic" else DRIFT_KEYS
    _check_keys(
        noise_model_info, name, NOISE_MODEL_INFO_KEYS + drift_required, drift_optional
    )
    if device_id not in DEVICE_IDS:
        raise ConfigError(
            f"`{name}['device_id']` must be one of {list(DEVICE_IDS)}, "
            f"got {device_id!r}."
        )
    if not isinstance(noise_model_info["drift_compensation"], bool):
        raise ConfigError(
            f"`{name}['drift_compensation']` must be True or False, got "
            f"{noise_model_info['drift_compensation']!r}."
        )
    noise = {
        "device_id": device_id,
        "drift_compensation": noise_model_info["drift_compensation"],
    }
    for key in ("programming_noise_scale", "read_noise_scale", "drift_scale"):
        noise[key] = _number(noise_model_info, name, key, low=0.0)
    for key in (
        "poly_constant_coef",
        "poly_first_order_coef",
        "poly_second_order_coef",
    ):
        noise[key] = _number(noise_model_info, name, key)
    for key in DRIFT_KEYS:
        if key in noise_model_info:
            noise[key] = _number(noise_model_info, name, key, low=0.0)
    return analog, noise


def _noise_model(
    noise: dict[str, Any],
) -> PCMLikeNoiseModel | StateIndependentNoiseModel:
    common = {
        "g_max": G_MAX,
        "prog_coeff": (
            noise["poly_constant_coef"],
            noise["poly_first_order_coef"],
            noise["poly_second_order_coef"],
        ),
        "prog_noise_scale": noise["programming_noise_scale"],
        "read_noise_scale": noise["read_noise_scale"],
        "drift_scale": noise["drift_scale"],
    }
    if noise["device_id"] == "pcm":
        return PCMLikeNoiseModel(**common)
    return StateIndependentNoiseModel(
        **common, drift_nu_mean=noise["drift_mean"], drift_nu_std=noise["drift_std"]
    )


def _convert(
    base: InferenceRPUConfig, analog: dict[str, Any], noise: dict[str, Any]
) -> InferenceRPUConfig:
    forward = base.forward.replace(
        out_noise=analog["output_noise_strength"],
        out_res=1.0 / (2 ** analog["adc"] - 2),
        inp_res=1.0 / (2 ** analog["dac"] - 2),
    )
    compensation = GlobalDriftCompensation() if noise["drift_compensation"] else None
    return base.replace(
        forward=forward,
        noise_model=_noise_model(noise),
        drift_compensation=compensation,
    )


def _base_factory(base: type | str | Callable[[], Any]) -> Callable[[], Any]:
    if isinstance(base, str) and base in BASE_CONFIGS:
        return BASE_CONFIGS[base]
    for factory in BASE_CONFIGS.values():
        if base is factory:
            return factory
    raise ConfigError(
        f"`base` must be one of {list(BASE_CONFIGS)} (a name or the class), "
        f"got {base!r}."
    )


def rpu_config_from_info(
    analog_info: dict,
    noise_model_info: dict,
    base: type | str = "WebComposerInferenceRPUConfig",
) -> InferenceRPUConfig:
    """Build the inference config that the two info dicts describe.

    Args:
        analog_info: ``output_noise_strength``, ``adc`` and ``dac``.
        noise_model_info: the noise model, see the module docstring.
        base: the config to start from, by name or as the callable:
            ``InferenceRPUConfig``, ``WebComposerInferenceRPUConfig`` (the
            default, as aihwkit's) or ``OldWebComposerInferenceRPUConfig``.

    Raises:
        ConfigError: if an info dict is invalid, or ``base`` is not one of the three.

    Examples:
        >>> analog = {"output_noise_strength": 0.04, "adc": 9, "dac": 7}
        >>> noise = {"device_id": "pcm", "programming_noise_scale": 1.1,
        ...          "read_noise_scale": 1.2, "drift_scale": 1.3,
        ...          "drift_compensation": True, "poly_constant_coef": 0.2635,
        ...          "poly_first_order_coef": 1.965,
        ...          "poly_second_order_coef": -1.1731}
        >>> config = rpu_config_from_info(analog, noise)
        >>> config.forward.out_noise, config.forward.out_res == 1 / 510
        (0.04, True)
        >>> type(config.noise_model).__name__, config.noise_model.prog_noise_scale
        ('PCMLikeNoiseModel', 1.1)
    """
    analog, noise = check_info(analog_info, noise_model_info)
    return _convert(_base_factory(base)(), analog, noise)


def apply_info(
    experiment: BasicInferencing, analog_info: dict, noise_model_info: dict
) -> BasicInferencing:
    """Return ``experiment`` with the converted config on every analog layer.

    Each analog layer starts from its own ``InferenceRPUConfig``, so a layer
    built with ``InferenceRPUConfig()``, ``WebComposerInferenceRPUConfig()`` or
    ``OldWebComposerInferenceRPUConfig()`` gets exactly what
    :func:`rpu_config_from_info` returns for that base.

    NOTE: aihwkit's converter rebuilds the named class from its defaults,
    whereas a layer here also keeps its own changes to the other fields
    (mapping, clip, modifier, ...). Those fields fix the shapes of the
    variables, so trained weights still fit the converted model.

    Raises:
        ConfigError: if an info dict is invalid, or if an analog layer has no
            ``InferenceRPUConfig`` (the message names the layer's path).
    """
    if not isinstance(experiment, BasicInferencing):
        raise ConfigError(
            f"apply_info expects a BasicInferencing, got {type(experiment).__name__}."
        )
    analog, noise = check_info(analog_info, noise_model_info)
    model = _convert_layers(experiment.model, analog, noise, ())
    return experiment.replace(model=model)


def _convert_layers(
    module: nn.Module, analog: dict, noise: dict, path: tuple[str, ...]
) -> nn.Module:
    if isinstance(module, AnalogSequential):
        layers = tuple(
            _convert_layers(layer, analog, noise, (*path, f"layers_{index}"))
            for index, layer in enumerate(module.layers)
        )
        return module.clone(layers=layers)
    if not isinstance(module, (AnalogLinear, AnalogConv2d)):
        return module
    config = module.rpu_config
    if not isinstance(config, InferenceRPUConfig):
        kind = "no rpu_config" if config is None else type(config).__name__
        raise ConfigError(
            f"The analog layer {'/'.join(path) or '(top)'} "
            f"({type(module).__name__}) has {kind}; the cloud converter needs an "
            f"InferenceRPUConfig, built from one of {list(BASE_CONFIGS)}."
        )
    return module.clone(rpu_config=_convert(config, analog, noise))
