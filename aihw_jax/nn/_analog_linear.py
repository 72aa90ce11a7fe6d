"""AnalogLinear: a fully connected layer computed on simulated analog tiles."""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from aihw_jax.errors import ConfigError
from aihw_jax.simulator import compounds, devices
from aihw_jax.simulator.configs import (
    DigitalRankUpdateRPUConfig,
    FloatingPointRPUConfig,
    InferenceRPUConfig,
    SingleRPUConfig,
    UnitCellRPUConfig,
)
from aihw_jax.simulator.parameters.inference_enums import (
    WeightClipType,
    WeightModifierType,
    WeightRemapType,
)
from aihw_jax.simulator.parameters.io import IOParameters
from aihw_jax.simulator.tiles import input_range as input_ranges, mvm
from aihw_jax.simulator.tiles.layout import TileLayout
from aihw_jax.simulator.tiles.transforms import (
    clip_weights,
    modify_weights,
    remap_weights,
)

__all__ = [
    "ANALOG_COLLECTION",
    "INPUTS_COLLECTION",
    "AnalogLinear",
    "analog_matmul",
    "error_perturbations",
    "update_analog_state",
]

ANALOG_COLLECTION = "analog"
"""Variable collection of tile weights and device state (not trained by gradients)."""
INPUTS_COLLECTION = "analog_inputs"
"""Collection into which training forwards record each tile's inputs."""
PERTURBATION_NAME = "tile_output"
"""Name of the zero perturbation whose gradient is each sample's error ``d``."""
INPUT_PERTURBATION_NAME = "tile_input"
"""Name of the zero perturbation whose gradient trains a learned input range."""

_PERFECT = IOParameters(is_perfect=True)
_CONFIGS = (
    SingleRPUConfig,
    UnitCellRPUConfig,
    DigitalRankUpdateRPUConfig,
    FloatingPointRPUConfig,
    InferenceRPUConfig,
)
_DIGITAL_UPDATE_CONFIGS = (FloatingPointRPUConfig, InferenceRPUConfig)
_COMPOUND_CONFIGS = (UnitCellRPUConfig, DigitalRankUpdateRPUConfig)


def _tile_ios(config: Any) -> tuple[IOParameters, IOParameters]:
    if isinstance(config, FloatingPointRPUConfig):
        return _PERFECT, _PERFECT
    if isinstance(config, InferenceRPUConfig):
        # Hardware-aware training: noisy forward, exact backward.
        return config.forward, _PERFECT
    return config.forward, config.backward


def analog_matmul(
    weights: jax.Array,
    x_tiles: jax.Array,
    key: jax.Array,
    forward_io: IOParameters,
    backward_io: IOParameters,
    out_scale: jax.Array | None = None,
) -> jax.Array:
    """Noisy MVMs of a tile grid, summed over the input tiles.

    Args:
        weights: ``[n_out, n_in, rows, columns]``.
        x_tiles: ``[n_in, batch, columns]``.
        key: key of this call's forward and backward noise.
        forward_io: forward periphery.
        backward_io: backward periphery.
        out_scale: digital factors ``[n_out, n_in, rows]`` on every tile's
            outputs after its ADC (drift compensation, remapping scales);
            1 if None.

    Returns:
        ``[n_out, batch, rows]``. Its gradient with respect to ``x_tiles`` is
        the noisy transposed MVM of the incoming error (times the tile's
        output factors), after the error of every output at the output
        bound is set to zero. There is no gradient with respect to the
        weights, because pulsed updates replace it.
    """
    if out_scale is None:
        out_scale = jnp.ones(weights.shape[:3], jnp.float32)
    return _scaled_matmul(weights, x_tiles, key, forward_io, backward_io, out_scale)


@jax.custom_vjp
def _scaled_matmul(weights, x_tiles, key, forward_io, backward_io, out_scale):
    y, _ = _forward(weights, x_tiles, key, forward_io, out_scale)
    return y


def _tile_keys(key: jax.Array, grid: tuple[int, int]) -> jax.Array:
    return jax.random.split(key, grid[0] * grid[1]).reshape(grid)


def _forward(weights, x_tiles, key, forward_io, out_scale):
    keys = _tile_keys(jax.random.fold_in(key, 0), weights.shape[:2])

    def one_tile(w, x, k):
        return mvm.forward_with_mask(w, x, forward_io, key=k)

    over_inputs = jax.vmap(one_tile, in_axes=(0, 0, 0))
    y, saturated = jax.vmap(over_inputs, in_axes=(0, None, 0))(weights, x_tiles, keys)
    # Batch axes (none for a single input vector) sit between grid and rows.
    scale = out_scale.reshape(*out_scale.shape[:2], *(1,) * (y.ndim - 3), -1)
    return jnp.sum(y * scale, axis=1), saturated


def _scaled_matmul_fwd(weights, x_tiles, key, forward_io, backward_io, out_scale):
    y, saturated = _forward(weights, x_tiles, key, forward_io, out_scale)
    return y, (weights, saturated, key, backward_io, out_scale)


def _scaled_matmul_bwd(residuals, grad):
    weights, saturated, key, backward_io, out_scale = residuals
    keys = _tile_keys(jax.random.fold_in(key, 1), weights.shape[:2])

    def one_tile(w, g, mask, k, scale):
        g = jnp.where(mask, 0.0, g * scale)
        return mvm.backward(w, g, backward_io, key=k)

    over_inputs = jax.vmap(one_tile, in_axes=(0, None, 0, 0, 0))
    dx = jax.vmap(over_inputs, in_axes=(0, 0, 0, 0, 0))(
        weights, grad, saturated, keys, out_scale
    )
    return None, jnp.sum(dx, axis=0), None, None, None, None


_scaled_matmul.defvjp(_scaled_matmul_fwd, _scaled_matmul_bwd)


class AnalogLinear(nn.Module):
    """Fully connected layer ``y = W x + b`` whose ``W x`` runs on analog tiles.

    As in aihwkit, a layer without an ``rpu_config`` gets
    ``SingleRPUConfig()``: constant-step devices, noisy periphery and the
    pulsed update. The bias is digital. A layer larger than the mapping's
    maximum tile size is split into tiles, each with its own periphery. Initial
    weights and bias follow torch's ``Linear`` (uniform within
    ``1/sqrt(in_features)``), clipped to the device bounds.

    Variables: ``params/bias`` (digital, trained by gradients) and
    ``analog/state``, a dict with ``weight`` (``[n_out, n_in, rows,
    columns]``) and, for a single pulsed device, ``device`` (the drawn
    device values) or, for compound devices (``UnitCellRPUConfig``,
    ``DigitalRankUpdateRPUConfig``), ``cell`` (members, counters and
    buffers of every tile). The forward needs the ``"noise"`` RNG stream.
    """

    in_features: int
    out_features: int
    bias: bool = True
    rpu_config: Any = None
    init_fan_in: int | None = None
    """Fan-in ``n`` of the initial bound ``1/sqrt(n)`` (``in_features`` if ``None``).

    A layer that is one part of a larger one (a channel group of
    ``AnalogConv2dMapped``) sets the whole layer's fan-in, as torch does.
    """

    @property
    def config(self) -> Any:
        """The layer's RPU config (``SingleRPUConfig()`` if none was given)."""
        return SingleRPUConfig() if self.rpu_config is None else self.rpu_config

    @property
    def layout(self) -> TileLayout:
        """How the weight matrix is cut into tiles."""
        mapping = self.config.mapping
        return TileLayout(
            self.out_features,
            self.in_features,
            mapping.max_output_size,
            mapping.max_input_size,
        )

    def _check(self) -> None:
        for name in ("in_features", "out_features"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"`AnalogLinear.{name}` must be a positive integer, got {value!r}."
                )
        if not isinstance(self.config, _CONFIGS):
            names = ", ".join(kind.__name__ for kind in _CONFIGS)
            raise ConfigError(
                f"`AnalogLinear.rpu_config` must be one of {names}; got "
                f"{type(self.config).__name__}."
            )
        self.config.check_support()

    def _init_analog(self, key: jax.Array) -> dict[str, Any]:
        layout = self.layout
        weight_key, device_key = jax.random.split(key)
        bound = 1.0 / math.sqrt(self.init_fan_in or self.in_features)
        matrix = jax.random.uniform(
            weight_key,
            (self.out_features, self.in_features),
            minval=-bound,
            maxval=bound,
        )
        weight = layout.split_matrix(matrix)
        real = jnp.asarray(layout.padding_mask())
        if isinstance(self.config, _DIGITAL_UPDATE_CONFIGS):
            state = _scaled_state(weight, self.config.mapping)
            if isinstance(self.config, InferenceRPUConfig) and "out_scale" not in state:
                # Remapping after each step writes scales; keep the structure fixed.
                state["out_scale"] = jnp.ones(weight.shape[:3], jnp.float32)
            params = _input_range_params(self.config)
            if params is not None:
                n_in = layout.grid[1]
                state["input_range"] = jnp.full((n_in,), params.init_value, jnp.float32)
                state["input_range_count"] = jnp.zeros((n_in,), jnp.int32)
            return state
        grid = layout.grid
        if isinstance(self.config, _COMPOUND_CONFIGS):
            return self._init_compound(device_key, weight, real)
        keys = jax.random.split(device_key, grid[0] * grid[1]).reshape(grid)
        init_tile = lambda k: devices.init(k, layout.tile_shape, self.config.device)
        state = jax.vmap(jax.vmap(init_tile))(keys)
        state = jax.tree.map(lambda a: jnp.where(real, a, 0.0), state)
        state = state.replace(decay=jnp.where(real, state.decay, 1.0))
        weight = jnp.clip(weight, state.w_min, state.w_max)
        return {"weight": weight, "device": state}

    def _init_compound(
        self, key: jax.Array, weight: jax.Array, real: jax.Array
    ) -> dict[str, Any]:
        layout, cell = self.layout, self.config.device
        grid = layout.grid
        keys = jax.random.split(key, grid[0] * grid[1]).reshape(grid)

        def init_tile(key, tile_weight, tile_real):
            state = compounds.init(key, layout.tile_shape, cell)
            # Padding cross-points get zero bounds, so they stay at zero.
            state = jax.tree.map(
                lambda a: (
                    jnp.where(tile_real, a, 0.0) if a.shape == tile_real.shape else a
                ),
                state,
            )
            return compounds.set_weight(state, tile_weight, cell)

        state = jax.vmap(jax.vmap(init_tile))(keys, weight, real)
        return {"weight": compound_weight(state, cell, real), "cell": state}

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        self._check()
        if x.shape[-1] != self.in_features:
            raise ConfigError(
                f"AnalogLinear({self.in_features}, {self.out_features}) got inputs "
                f"with {x.shape[-1]} features (shape {x.shape}); expected "
                f"{self.in_features}."
            )
        layout = self.layout
        analog = self.variable(
            ANALOG_COLLECTION,
            "state",
            lambda: self._init_analog(self.make_rng("params")),
        ).value
        x = x.astype(jnp.float32)
        range_params = _input_range_params(self.config)
        training = self.is_mutable_collection(INPUTS_COLLECTION)
        if range_params is not None and not self.is_initializing():
            # Its gradient (the error at the raw inputs) trains the input range.
            x = self.perturb(INPUT_PERTURBATION_NAME, x)
        x_tiles = layout.split_inputs(x)
        out_factor = _output_factor(analog)
        if range_params is not None and "input_range" in analog:
            x_tiles, out_factor = self._apply_input_range(
                analog, x_tiles, out_factor, range_params, training
            )
        self.sow(INPUTS_COLLECTION, "x", x_tiles)
        forward_io, backward_io = _tile_ios(self.config)
        if self.is_initializing():
            # Initialisation needs only the output shape: skip the periphery.
            y_tiles = jnp.einsum("oirc,ibc->obr", analog["weight"], x_tiles)
        else:
            key = self.make_rng("noise")
            # Programmed (and drifted) weights replace the trained ones in
            # evaluation on simulated hardware.
            weight = analog.get("eval_weight", analog["weight"])
            if "device" in analog:
                weight = devices.apparent_weight(weight, analog["device"])
            if training and isinstance(self.config, InferenceRPUConfig):
                weight = _modified(weight, self.config, jax.random.fold_in(key, 2))
            y_tiles = analog_matmul(
                weight, x_tiles, key, forward_io, backward_io, out_factor
            )
        y = layout.join_outputs(y_tiles)
        if not self.is_initializing():
            # The zero perturbation exists only when the caller passes a
            # "perturbations" collection (see `error_perturbations`). Init does
            # not create it, so variables from init work at any batch size.
            y = self.perturb(PERTURBATION_NAME, y)
        if (
            getattr(self.config, "mapping", None)
            and self.config.mapping.learn_out_scaling
        ):
            columns = (
                self.out_features if self.config.mapping.out_scaling_columnwise else 1
            )
            scale = self.param("out_scaling", nn.initializers.ones, (columns,))
            y = y * scale
        if self.bias:
            bound = 1.0 / math.sqrt(self.init_fan_in or self.in_features)
            b = self.param(
                "bias",
                lambda k: jax.random.uniform(
                    k, (self.out_features,), minval=-bound, maxval=bound
                ),
            )
            y = y + b
        return y

    def _apply_input_range(self, analog, x_tiles, out_factor, params, training):
        """Clip and scale the inputs by the input range; fold ``r`` into the outputs."""
        r = analog["input_range"]
        if training:
            real = jnp.asarray(self.layout.padding_mask()[0, :, 0, :])
            r, count = input_ranges.init_from_data(
                r, analog["input_range_count"], x_tiles, real, params
            )
            self.sow(INPUTS_COLLECTION, "input_range", (r, count))
        x_tiles = input_ranges.clip_inputs(x_tiles, r)
        grid = self.layout.grid
        rows = self.layout.tile_shape[0]
        factor = jnp.broadcast_to(jnp.abs(r)[None, :, None], (*grid, rows))
        return x_tiles, factor if out_factor is None else out_factor * factor

    def get_weights(
        self, variables: dict[str, Any]
    ) -> tuple[jax.Array, jax.Array | None]:
        """Return the logical ``[out, in]`` weight and the bias of this layer's variables.

        The weight is the one the MVMs see, write noise included.
        """
        analog = variables[ANALOG_COLLECTION]["state"]
        weight = analog["weight"]
        if "device" in analog:
            weight = devices.apparent_weight(weight, analog["device"])
        if "out_scale" in analog:
            # The mapping and remapping scales belong to the logical weight.
            weight = weight * analog["out_scale"][..., None]
        weight = self.layout.join_matrix(weight)
        bias = variables.get("params", {}).get("bias")
        return weight, bias


def _scaled_state(weight: jax.Array, mapping: Any) -> dict[str, Any]:
    """Return the state of digitally updated tiles, with aihwkit's mapping scales.

    With ``weight_scaling_omega > 0`` every tile (or tile row, with
    ``weight_scaling_columnwise``) is divided by ``max|W| / omega`` and the
    factor is kept in ``out_scale``, which multiplies the tile's outputs.
    """
    omega = mapping.weight_scaling_omega
    if isinstance(omega, (int, float)) and omega == 0:
        return {"weight": weight}
    axes = (3,) if mapping.weight_scaling_columnwise else (2, 3)
    top = jnp.max(jnp.abs(weight), axis=axes, keepdims=True)
    scale = jnp.where(top > 0, top / omega, 1.0)
    scale = jnp.broadcast_to(scale, (*weight.shape[:3], 1))
    return {"weight": weight / scale, "out_scale": scale[..., 0]}


def _input_range_params(config: Any) -> Any:
    """Return the config's input-range parameters if the input range is on, else None."""
    if not isinstance(config, InferenceRPUConfig):
        return None
    params = config.pre_post.input_range
    return params if params.enable else None


def _output_factor(analog: dict[str, Any]) -> jax.Array | None:
    """Digital factor on every tile output: mapping scales times compensation."""
    scale = analog.get("out_scale")
    compensation = analog.get("eval_scale")
    if compensation is None:
        return scale
    return compensation if scale is None else scale * compensation


def _modified(weight: jax.Array, config: InferenceRPUConfig, key: jax.Array):
    """Apply the hardware-aware-training weight modifier to every tile."""
    if config.modifier.type is WeightModifierType.NONE:
        return weight
    keys = jax.random.split(key, weight.shape[0] * weight.shape[1])
    keys = keys.reshape(weight.shape[:2])
    modify = lambda w, k: modify_weights(w, config.modifier, key=k)
    return jax.vmap(jax.vmap(modify))(weight, keys)


def _post_update(state: dict, config: InferenceRPUConfig) -> dict:
    """Clip and remap the trained weights after an optimizer step, per tile."""
    weight = state["weight"]
    if config.clip.type is not WeightClipType.NONE:
        weight = jax.vmap(jax.vmap(lambda w: clip_weights(w, config.clip)))(weight)
    if config.remap.type is not WeightRemapType.NONE:
        scales = state.get("out_scale", jnp.ones(weight.shape[:3], jnp.float32))
        weight, scales = jax.vmap(
            jax.vmap(lambda w, s: remap_weights(w, config.remap, scales=s))
        )(weight, scales)
        return {**state, "weight": weight, "out_scale": scales}
    return {**state, "weight": weight}


def _step_input_range(layer, state, x_tiles, dx, lr, recorded) -> dict:
    """Store the forward's input ranges and counts, then step learned ranges."""
    r, count = recorded
    params = layer.config.pre_post.input_range
    if params.learn_input_range and dx is not None:
        layout = layer.layout
        real = jnp.asarray(layout.padding_mask()[0, :, 0, :])
        dx_tiles = layout.split_inputs(dx.astype(jnp.float32))
        r = r - lr * input_ranges.range_gradient(x_tiles, dx_tiles, r, real, params)
    return {**state, "input_range": r, "input_range_count": count}


def compound_weight(state: dict, cell: Any, real: jax.Array) -> jax.Array:
    """Visible weights ``[n_out, n_in, rows, columns]`` of a grid of compound tiles."""
    weight = jax.vmap(jax.vmap(lambda s: compounds.weight(s, cell)))(state)
    return jnp.where(real, weight, 0.0)


def error_perturbations(
    model: nn.Module, variables: dict[str, Any], x: jax.Array
) -> dict[str, Any]:
    """Return zero perturbations of every analog layer's output for input ``x``.

    Passed to ``model.apply`` in the ``perturbations`` collection, their
    gradient is each sample's error ``d`` at the analog outputs, which the
    pulsed update needs.
    """

    def build():
        _, created = model.apply(
            variables,
            x,
            rngs={"noise": jax.random.key(0)},
            mutable=["perturbations", INPUTS_COLLECTION],
        )
        return created.get("perturbations", {})

    shapes = jax.eval_shape(build)
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def update_analog_state(
    layer: AnalogLinear,
    state: dict[str, Any],
    x_tiles: jax.Array,
    d: jax.Array,
    lr: jax.Array | float,
    *,
    key: jax.Array,
    method: str = "sequential",
    dx: jax.Array | None = None,
    input_range: tuple[jax.Array, jax.Array] | None = None,
) -> dict[str, Any]:
    """Apply one optimizer step to an analog layer's tiles.

    Args:
        layer: the layer definition (its config and tile layout).
        state: the layer's ``analog/state`` variable.
        x_tiles: tile inputs recorded by the forward, ``[n_in, batch, columns]``.
        d: errors at the layer's analog output, ``[batch, out]``, one per sample.
        lr: learning rate.
        key: key of the update's random draws.
        method: ``"sequential"`` or ``"summed"``, see
            :func:`aihw_jax.simulator.tiles.update.pulsed_update`.
        dx: errors at the layer's raw inputs, ``[batch, in]``, for a learned
            input range.
        input_range: the input ranges and data counts the training forward
            used, for layers with an input range.

    Returns:
        The new state: pulsed update, then diffusion and decay for pulsed
        devices; ``W -= lr * d^T x`` for floating-point tiles. A learned
        input range takes a step ``r -= lr * G`` of aihwkit's rule.
    """
    from aihw_jax.simulator.tiles import update as tile_update

    layout = layer.layout
    config = layer.config
    n_out, n_in = layout.grid
    rows, columns = layout.tile_shape
    d_tiles = layout.split_outputs(d.astype(jnp.float32))
    batch = x_tiles.shape[1]
    xs = jnp.broadcast_to(x_tiles[None], (n_out, n_in, batch, columns))
    ds = jnp.broadcast_to(d_tiles[:, None], (n_out, n_in, batch, rows))
    weight = state["weight"]
    if isinstance(config, _DIGITAL_UPDATE_CONFIGS):
        if "out_scale" in state:
            # The remapping scales multiply the tile outputs, so the weight
            # gradient carries them too.
            ds = ds * state["out_scale"][:, :, None, :]
        new = weight - lr * jnp.einsum("oibr,oibc->oirc", ds, xs)
        state = {**state, "weight": new}
        if input_range is not None and "input_range" in state:
            state = _step_input_range(layer, state, x_tiles, dx, lr, input_range)
        if isinstance(config, InferenceRPUConfig):
            state = _post_update(state, config)
        return state
    if isinstance(config, _COMPOUND_CONFIGS):
        if method != "sequential":
            raise ConfigError(
                f"`update_method`={method!r} is offered for single-device configs "
                f"only; {type(config.device).__name__} needs 'sequential'."
            )
        keys = jax.random.split(key, n_out * n_in).reshape(n_out, n_in)

        def one_tile(tile_state, x_tile, d_tile, tile_key):
            return compounds.update(
                tile_state, x_tile, d_tile, lr, config.device, config.update, tile_key
            )

        cell = jax.vmap(jax.vmap(one_tile))(state["cell"], xs, ds, keys)
        real = jnp.asarray(layout.padding_mask())
        return {
            **state,
            "cell": cell,
            "weight": compound_weight(cell, config.device, real),
        }

    count = n_out * n_in
    flat = lambda a: a.reshape(count, *a.shape[2:])
    update_key, maintenance_key = jax.random.split(key)
    device_state = state["device"]
    new, pulsed = tile_update.pulsed_update_tiles(
        flat(weight),
        jax.tree.map(flat, device_state),
        flat(xs),
        flat(ds),
        lr,
        config.device,
        config.update,
        key=update_key,
        method=method,
        return_pulsed=True,
    )
    new = new.reshape(weight.shape)
    touched = pulsed.reshape(weight.shape)
    diffusion_key, noise_key = jax.random.split(maintenance_key)
    new = devices.post_update(new, device_state, config.device, diffusion_key)
    if devices.has_maintenance(config.device):
        touched = jnp.ones_like(touched)
    device_state = devices.redraw_write_noise(
        device_state, touched, config.device, noise_key
    )
    return {**state, "weight": new, "device": device_state}
