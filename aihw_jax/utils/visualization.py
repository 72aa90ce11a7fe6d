"""Plots of device responses, training curves, inference accuracy and tile weights.

Every function draws on a new ``matplotlib.figure.Figure`` (or on the axes
given as ``ax``), saves it when ``path`` is given and returns the figure.
The figures are made without ``pyplot``, so no backend is switched and no
figure stays open in pyplot's registry. In Jupyter, the returned figure
shows as the cell's output.

Needs matplotlib (``pip install 'aihw_jax[plot]'``); it is imported only
when a plot is drawn.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from aihw_jax.errors import ConfigError
from aihw_jax.simulator.devices import pulse_response
from aihw_jax.simulator.parameters.devices import PulsedDevice

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "plot_device_response",
    "plot_inference_accuracy",
    "plot_tile_histograms",
    "plot_training_curves",
]

PathLike = str | os.PathLike

LINEAR_TIME_LIMIT = 1.0
"""Seconds up to which the time axis of inference plots is linear (symlog)."""


def _new_figure(width: float, height: float, rows: int = 1, columns: int = 1):
    """Return a new figure and its ``[rows, columns]`` array of axes."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "Plotting needs matplotlib, which is not installed; run "
            "`pip install 'aihw_jax[plot]'`."
        ) from error
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots(rows, columns, squeeze=False)


def _figure_of(ax: Axes) -> Figure:
    """Return the top-level figure of ``ax``, also when it sits in a subfigure."""
    # A Figure's ``figure`` attribute is the figure itself, a SubFigure's
    # is its top-level figure.
    return ax.figure.figure


def _finish(figure: Figure, path: PathLike | None) -> Figure:
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure


def plot_device_response(
    device: PulsedDevice,
    path: PathLike | None = None,
    *,
    ax: Axes | None = None,
    key: jax.Array | None = None,
    n_pulses: int = 200,
    n_devices: int = 100,
    n_traces: int = 3,
    title: str | None = None,
) -> Figure:
    """Plot a device population's weights under up then down pulses.

    The plot shows the mean over ``n_devices`` devices (each with its own
    device-to-device draws), a band of one standard deviation and
    ``n_traces`` single devices, against the pulse number. The trajectory
    drawn is ``pulse_response(device, key=key, n_pulses=n_pulses,
    n_devices=n_devices)``.

    Args:
        device: device parameters.
        path: where to save the figure (PNG unless the suffix names another
            format that matplotlib writes), or None to save nothing.
        ax: axes to draw on, or None for a new figure.
        key: PRNG key of the draws (``jax.random.key(0)`` if None).
        n_pulses: pulses in each direction.
        n_devices: population size.
        n_traces: single-device traces drawn.
        title: plot title (the device's class name if None).

    Returns:
        The figure.
    """
    key = jax.random.key(0) if key is None else key
    trace = np.asarray(
        pulse_response(device, key=key, n_pulses=n_pulses, n_devices=n_devices)
    )
    if ax is None:
        figure, axes = _new_figure(7, 4)
        ax = axes[0, 0]
    else:
        figure = _figure_of(ax)
    pulses = np.arange(1, trace.shape[0] + 1)
    mean, std = trace.mean(axis=1), trace.std(axis=1)
    ax.fill_between(pulses, mean - std, mean + std, alpha=0.25, label="mean ± std")
    ax.plot(pulses, mean, linewidth=2, label=f"mean of {n_devices} devices")
    for index in range(min(n_traces, trace.shape[1])):
        ax.plot(pulses, trace[:, index], linewidth=0.8, alpha=0.8)
    ax.axvline(n_pulses + 0.5, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel(f"pulse number ({n_pulses} up, then {n_pulses} down)")
    ax.set_ylabel("weight")
    ax.set_title(title or type(device).__name__)
    ax.legend(loc="best", fontsize="small")
    return _finish(figure, path)


# --- Training curves ---------------------------------------------------------


def _epoch_list(run: Any) -> list[Mapping[str, Any]] | None:
    """Return the epoch dicts of one training result, or None if it is not one."""
    if isinstance(run, Mapping) and "epochs" in run:
        run = run["epochs"]
    if (
        isinstance(run, Sequence)
        and not isinstance(run, (str, bytes))
        and run
        and all(isinstance(item, Mapping) and "epoch" in item for item in run)
    ):
        return list(run)
    return None


def _sweep_label(run: Mapping[str, Any]) -> str | None:
    """Name a ``run_sweep`` variation by its learning rate, seed and config values."""
    parts = [
        f"{path} = {value:g}" for path, value in run.get("config_values", {}).items()
    ]
    if "learning_rate" in run:
        parts.append(f"lr = {run['learning_rate']:g}")
    if "seed" in run:
        parts.append(f"seed {run['seed']}")
    return ", ".join(parts) or None


def _training_runs(result: Any, labels: Sequence[str] | None) -> list[tuple]:
    """Return ``(label, epochs)`` pairs for every run in ``result``."""
    single = _epoch_list(result)
    if single is not None:
        runs = [(None, single)]
    elif isinstance(result, Mapping):
        runs = [(str(name), _epoch_list(run)) for name, run in result.items()]
    elif isinstance(result, Sequence) and not isinstance(result, (str, bytes)):
        runs = [
            (_sweep_label(run) if isinstance(run, Mapping) else None, _epoch_list(run))
            for run in result
        ]
    else:
        runs = [(None, None)]
    if not runs or any(epochs is None for _, epochs in runs):
        raise ConfigError(
            "`result` must be a training result: run_local's {'epochs': [...]}, "
            "a list of epoch dicts (LocalRunner, CloudExperiment.get_result), or "
            f"a list or dict of such results. Got {_describe(result)}."
        )
    return _apply_labels(runs, labels)


def _apply_labels(runs: list[tuple], labels: Sequence[str] | None) -> list[tuple]:
    """Replace the labels of ``runs`` by ``labels``, or number the unnamed runs."""
    if labels is not None:
        if len(labels) != len(runs):
            raise ConfigError(
                f"`labels` has {len(labels)} entries, but `result` contains "
                f"{len(runs)} runs. Give one label per run."
            )
        return [(str(label), data) for label, (_, data) in zip(labels, runs)]
    if len(runs) > 1:
        return [
            (label if label is not None else f"run {index + 1}", data)
            for index, (label, data) in enumerate(runs)
        ]
    return runs


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _column(epochs: list[Mapping[str, Any]], name: str) -> np.ndarray | None:
    """Return one metric per epoch, or None unless every epoch has it."""
    if not all(name in epoch and epoch[name] is not None for epoch in epochs):
        return None
    return np.asarray([float(epoch[name]) for epoch in epochs])


def plot_training_curves(
    result: Any,
    *,
    labels: Sequence[str] | None = None,
    path: PathLike | None = None,
    axes: Sequence[Axes] | None = None,
    title: str | None = None,
) -> Figure:
    """Plot the validation accuracy and the losses of a training run per epoch.

    The left axes show ``accuracy`` (the fraction of the validation set
    classified correctly), the right axes ``train_loss`` (solid) and
    ``valid_loss`` (dashed), each against ``epoch``. A metric missing from
    any epoch is left out.

    Args:
        result: run_local's ``{"epochs": [...]}``, the list of epoch dicts
            that ``LocalRunner.run`` and ``CloudExperiment.get_result``
            return, or several of them: a list (e.g. ``run_sweep``'s output,
            whose entries are named by their learning rate, seed and config
            values) or a dict from label to result.
        labels: one legend label per run, replacing the automatic ones.
        path: where to save the figure (PNG unless the suffix names another
            format that matplotlib writes), or None to save nothing.
        axes: two axes to draw the accuracy and the losses on, or None for
            a new figure.
        title: title above the plots.

    Returns:
        The figure.

    Raises:
        ConfigError: if ``result`` is not a training result, or ``labels``
            has the wrong length.
    """
    runs = _training_runs(result, labels)
    if axes is None:
        figure, grid = _new_figure(10, 4, 1, 2)
        accuracy_ax, loss_ax = grid[0]
    else:
        if len(axes) != 2:
            raise ConfigError(
                f"`axes` must hold two axes (accuracy, loss), got {len(axes)}."
            )
        accuracy_ax, loss_ax = axes
        figure = _figure_of(accuracy_ax)
    from matplotlib.ticker import MaxNLocator

    for index, (label, epochs) in enumerate(runs):
        color = f"C{index % 10}"
        x = _column(epochs, "epoch")
        accuracy = _column(epochs, "accuracy")
        if accuracy is not None:
            accuracy_ax.plot(x, accuracy, marker="o", color=color, label=label)
        for name, style, kind in (
            ("train_loss", "-", "train"),
            ("valid_loss", "--", "valid"),
        ):
            values = _column(epochs, name)
            if values is None:
                continue
            line_label = kind if label is None else f"{label} ({kind})"
            loss_ax.plot(
                x, values, linestyle=style, marker=".", color=color, label=line_label
            )
    accuracy_ax.set_xlabel("epoch")
    accuracy_ax.set_ylabel("validation accuracy (fraction)")
    accuracy_ax.set_title("accuracy")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss (mean per sample)")
    loss_ax.set_title("loss")
    for ax in (accuracy_ax, loss_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize="small")
    if title is not None:
        figure.suptitle(title)
    return _finish(figure, path)


# --- Inference accuracy over time ---------------------------------------------


def _inference_rows(run: Any) -> list[Mapping[str, Any]] | None:
    """Return the ``inference_results`` rows of one inference result, or None."""
    if not isinstance(run, Mapping):
        return None
    runs = run.get("inference_runs")
    if not isinstance(runs, Mapping):
        return None
    rows = runs.get("inference_results")
    if not isinstance(rows, Sequence) or not rows:
        return None
    if not all(
        isinstance(row, Mapping) and "t_inference" in row and "avg_accuracy" in row
        for row in rows
    ):
        return None
    return list(rows)


def _sweep_value_labels(result: Mapping[str, Any]) -> list[str]:
    """Name each value of a ``run_inference_sweep`` result by its config values."""
    columns = result["config_values"]
    count = len(result["results"])
    return [
        ", ".join(
            f"{path} = {float(values[index]):g}" for path, values in columns.items()
        )
        for index in range(count)
    ]


def _inference_runs(result: Any, labels: Sequence[str] | None) -> list[tuple]:
    """Return ``(label, rows)`` pairs for every inference curve in ``result``."""
    if _inference_rows(result) is not None:
        runs = [(None, _inference_rows(result))]
    elif (
        isinstance(result, Mapping)
        and "results" in result
        and "config_values" in result
    ):
        names = _sweep_value_labels(result)
        runs = [
            (name, _inference_rows(run)) for name, run in zip(names, result["results"])
        ]
    elif isinstance(result, Mapping):
        runs = [(str(name), _inference_rows(run)) for name, run in result.items()]
    elif isinstance(result, Sequence) and not isinstance(result, (str, bytes)):
        runs = [(None, _inference_rows(run)) for run in result]
    else:
        runs = [(None, None)]
    if not runs or any(rows is None for _, rows in runs):
        raise ConfigError(
            "`result` must be an inference result {'inference_runs': "
            "{'inference_results': [{'t_inference', 'avg_accuracy', ...}]}}, "
            "run_inference_sweep's output, or a list or dict of inference "
            f"results. Got {_describe(result)}."
        )
    return _apply_labels(runs, labels)


def plot_inference_accuracy(
    result: Any,
    *,
    labels: Sequence[str] | None = None,
    path: PathLike | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Plot the test accuracy against the time after programming.

    Each curve is ``avg_accuracy`` (in percent) at every ``t_inference``,
    with a band from ``avg_accuracy - std_accuracy`` to ``avg_accuracy +
    std_accuracy``: the spread over the inference repeats. A result whose
    rows lack ``std_accuracy`` gets no band.

    The time axis is symmetric-logarithmic: linear from 0 to 1 s (the shaded
    strip at the left edge) and logarithmic above, so that t = 0, right after
    programming, appears at the left edge next to the log-spaced times.

    Args:
        result: an inference result as ``run_inference_local``,
            ``InferenceLocalRunner.run`` and ``CloudExperiment.get_result``
            return it. Also ``run_inference_sweep``'s output, drawn as one curve
            per config value, or a list of results, or a dict from label to
            result (e.g. with and without drift compensation).
        labels: one legend label per curve, replacing the automatic ones.
        path: where to save the figure (PNG unless the suffix names another
            format that matplotlib writes), or None to save nothing.
        ax: axes to draw on, or None for a new figure.
        title: title of the axes.

    Returns:
        The figure.

    Raises:
        ConfigError: if ``result`` is not an inference result, or ``labels``
            has the wrong length.
    """
    runs = _inference_runs(result, labels)
    if ax is None:
        figure, axes = _new_figure(7, 4.5)
        ax = axes[0, 0]
    else:
        figure = _figure_of(ax)
    last_time = 0.0
    for index, (label, rows) in enumerate(runs):
        color = f"C{index % 10}"
        times = np.asarray([float(row["t_inference"]) for row in rows])
        mean = np.asarray([float(row["avg_accuracy"]) for row in rows])
        ax.plot(times, mean, marker="o", markersize=4, color=color, label=label)
        if all(row.get("std_accuracy") is not None for row in rows):
            std = np.asarray([float(row["std_accuracy"]) for row in rows])
            ax.fill_between(times, mean - std, mean + std, color=color, alpha=0.2)
        last_time = max(last_time, float(times.max()))
    ax.set_xscale("symlog", linthresh=LINEAR_TIME_LIMIT, linscale=0.5)
    ax.axvspan(0.0, LINEAR_TIME_LIMIT, color="grey", alpha=0.1, linewidth=0)
    ax.set_xlim(0.0, max(last_time, 10 * LINEAR_TIME_LIMIT))
    ax.set_xlabel("time after programming t_inference (s), linear below 1 s")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    if title is not None:
        ax.set_title(title)
    if any(label is not None for label, _ in runs):
        ax.legend(loc="best", fontsize="small")
    return _finish(figure, path)


# --- Weight and conductance histograms -----------------------------------------


def _sub_variables(variables: Mapping[str, Any], path: tuple[str, ...]) -> dict:
    """Return the variables of the submodule at ``path``, collection by collection."""
    for name in path:
        variables = {
            collection: tree[name]
            for collection, tree in variables.items()
            if isinstance(tree, Mapping) and name in tree
        }
    return dict(variables)


def _layer_name(path: tuple[str, ...]) -> str:
    return "/".join(path) or "(model)"


def _tile_conductances(
    layer: Any, layer_variables: Mapping[str, Any], converter: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the tile weights and both conductances of every real cross-point.

    Each tile is converted on its own, as programming does, so the largest
    absolute weight of every tile maps to ``g_max``.
    """
    from aihw_jax.inference import convert_to_conductances
    from aihw_jax.simulator import devices

    state = layer_variables["analog"]["state"]
    tiles = state["weight"]
    if "device" in state:
        tiles = devices.apparent_weight(tiles, state["device"])
    flat = jnp.reshape(tiles, (-1, *tiles.shape[2:]))
    # Padded cross-points hold zeros, which leave each tile's maximum as it is.
    conductances, _ = jax.jit(jax.vmap(convert_to_conductances, in_axes=(None, 0)))(
        converter, flat
    )
    real = np.asarray(layer.layout.padding_mask()).reshape(flat.shape)
    conductances = np.asarray(conductances)
    return np.asarray(flat)[real], conductances[:, 0][real], conductances[:, 1][real]


def _default_converter(layer: Any) -> Any:
    """Return the layer's noise-model converter, else a 25 µS single pair."""
    from aihw_jax.inference import SinglePairConductanceConverter

    noise_model = getattr(layer.config, "noise_model", None)
    converter = getattr(noise_model, "g_converter", None)
    return converter if converter is not None else SinglePairConductanceConverter()


def _select_layers(model: Any, layers: str | Sequence[str] | None) -> list[tuple]:
    from aihw_jax.nn import iter_analog_layers

    found = [
        (_layer_name(path), path, layer) for path, layer in iter_analog_layers(model)
    ]
    if not found:
        raise ConfigError(
            f"The model {type(model).__name__} has no analog layers to plot."
        )
    if layers is None:
        return found
    wanted = [layers] if isinstance(layers, str) else list(layers)
    names = [name for name, _, _ in found]
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise ConfigError(
            f"`layers` names {unknown}, which are not analog layers of the model. "
            f"Its analog layers are {names}."
        )
    return [entry for entry in found if entry[0] in wanted]


def plot_tile_histograms(
    model: Any,
    variables: Mapping[str, Any],
    *,
    layers: str | Sequence[str] | None = None,
    converter: Any = None,
    bins: int = 50,
    path: PathLike | None = None,
    title: str | None = None,
) -> Figure:
    """Plot histograms of each analog layer's weights and of their conductances.

    One row per analog layer. The left plot is the histogram of the layer's
    logical weights (``get_weights``: mapping scales and write noise
    included). The right plot shows the conductances that programming
    targets: every tile is converted on its own by ``converter``, so the
    largest absolute weight of a tile maps to ``g_max``. It draws ``G+`` of
    the positive weights and ``G-`` of the negative weights as bars side by
    side in each bin, over the range ``g_min`` to ``g_max``. The other device
    of each pair, and both devices of a zero weight, sit at ``g_min``. The
    legend gives their count instead of drawing that spike.

    Args:
        model: the model (an analog layer or ``AnalogSequential``).
        variables: its variables, e.g. from ``init_variables`` or
            ``load_weights``.
        layers: variable path of one analog layer (``"layers_1"``, or
            ``"layers_0/linear"`` inside a convolution), a list of them, or
            None for every analog layer.
        converter: a ``SinglePairConductanceConverter``; None uses each
            layer's ``noise_model.g_converter`` where its config has one,
            else ``SinglePairConductanceConverter()`` (``g_max`` = 25 µS).
        bins: number of histogram bins.
        path: where to save the figure (PNG unless the suffix names another
            format that matplotlib writes), or None to save nothing.
        title: title above the plots.

    Returns:
        The figure.

    Raises:
        ConfigError: if the model has no analog layers, ``layers`` names
            none of them, or ``bins`` is not a positive integer.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ConfigError(f"`bins` must be a positive integer, got {bins!r}.")
    selected = _select_layers(model, layers)
    figure, grid = _new_figure(10, 0.6 + 2.6 * len(selected), len(selected), 2)
    for row, (name, layer_path, layer) in enumerate(selected):
        layer_variables = _sub_variables(variables, layer_path)
        layer_converter = (
            converter if converter is not None else _default_converter(layer)
        )
        weights = np.asarray(layer.get_weights(layer_variables)[0]).ravel()
        tile_weights, positive, negative = _tile_conductances(
            layer, layer_variables, layer_converter
        )
        weight_ax, conductance_ax = grid[row]
        weight_ax.hist(weights, bins=bins, color="C0")
        weight_ax.set_title(f"{name}: {weights.size} weights")
        weight_ax.set_xlabel("weight")
        weight_ax.set_ylabel("count")

        g_min = float(layer_converter.g_min)
        g_max = float(layer_converter.g_max)
        programmed_positive = positive[tile_weights > 0]
        programmed_negative = negative[tile_weights < 0]
        idle = (
            2 * tile_weights.size - programmed_positive.size - programmed_negative.size
        )
        value_range = (g_min, g_max)
        # Both data sets in one call: their bars stand side by side per bin.
        conductance_ax.hist(
            [programmed_positive, programmed_negative],
            bins=bins,
            range=value_range,
            color=["C2", "C3"],
            label=[
                f"G+ of {programmed_positive.size} weights > 0",
                f"G- of {programmed_negative.size} weights < 0",
            ],
        )
        conductance_ax.plot([], [], " ", label=f"{idle} devices at g_min (not drawn)")
        conductance_ax.set_title(f"{name}: conductances, g_max = {g_max:g} µS")
        conductance_ax.set_xlabel("conductance (µS)")
        conductance_ax.set_ylabel("count")
        # Leave room above the bars for the legend.
        conductance_ax.set_ylim(top=1.4 * conductance_ax.get_ylim()[1])
        conductance_ax.legend(loc="upper right", fontsize="small")
    if title is not None:
        figure.suptitle(title)
    return _finish(figure, path)
