"""Plots: device responses, training curves, inference accuracy, tile histograms."""

from __future__ import annotations

import sys

import jax.numpy as jnp
import numpy as np
import pytest
from matplotlib.figure import Figure

from aihw_jax.errors import ConfigError
from aihw_jax.inference import PCMLikeNoiseModel, SinglePairConductanceConverter
from aihw_jax.nn import AnalogLinear, AnalogSequential, Flatten, LogSoftmax
from aihw_jax.simulator.configs import InferenceRPUConfig, MappingParameter
from aihw_jax.simulator.presets import EcRamPresetDevice
from aihw_jax.utils import (
    plot_device_response,
    plot_inference_accuracy,
    plot_tile_histograms,
    plot_training_curves,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

EPOCHS = [
    {
        "epoch": 1,
        "accuracy": 0.61,
        "train_loss": 1.2,
        "valid_loss": 1.0,
        "time_epoch": 2.0,
    },
    {
        "epoch": 2,
        "accuracy": 0.72,
        "train_loss": 0.9,
        "valid_loss": 0.8,
        "time_epoch": 2.0,
    },
    {
        "epoch": 3,
        "accuracy": 0.75,
        "train_loss": 0.7,
        "valid_loss": 0.75,
        "time_epoch": 2.0,
    },
]


def _inference_result(accuracies, stds):
    times = [0.0, 1.0, 10.0, 100.0, 1000.0]
    rows = [
        {
            "t_inference": t,
            "avg_accuracy": a,
            "std_accuracy": s,
            "avg_error": 100.0 - a,
            "avg_loss": 0.5,
        }
        for t, a, s in zip(times, accuracies, stds)
    ]
    return {
        "inference_runs": {
            "inference_repeat": 3,
            "is_partial": False,
            "time_elapsed": 1.0,
            "inference_results": rows,
        }
    }


WITH_COMPENSATION = _inference_result(
    [85.0, 84.8, 84.5, 84.1, 83.9], [0.3, 0.4, 0.5, 0.6, 0.7]
)
WITHOUT_COMPENSATION = _inference_result(
    [85.0, 82.0, 78.0, 70.0, 60.0], [0.3, 0.8, 1.5, 2.5, 4.0]
)


def _rows(result):
    return result["inference_runs"]["inference_results"]


def _band_edges(collection) -> tuple[set, set]:
    """Return the ``(x, y)`` vertices of a fill_between band, as sets."""
    vertices = np.concatenate([path.vertices for path in collection.get_paths()])
    return set(np.round(vertices[:, 0], 9)), set(np.round(vertices[:, 1], 9))


def _bar_heights(container) -> np.ndarray:
    return np.asarray([patch.get_height() for patch in container])


# --- Device response ----------------------------------------------------------


def test_device_response_plot_is_written(tmp_path, key):
    path = tmp_path / "ecram.png"
    figure = Figure(figsize=(7, 4))
    ax = figure.subplots()
    returned = plot_device_response(
        EcRamPresetDevice(), path, ax=ax, key=key, n_pulses=50, n_devices=20
    )
    assert returned is figure
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert path.stat().st_size > 10_000
    assert ax.get_ylabel() == "weight"
    # The mean, three single devices and the line between up and down pulses.
    assert len(ax.lines) == 5
    mean = ax.lines[0].get_ydata()
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.arange(1, 101))
    assert np.all(np.diff(mean[:50]) > 0)
    # The band is mean ± std, so its two edges lie symmetrically about the mean.
    (band,) = ax.collections
    vertices = band.get_paths()[0].vertices
    lower = vertices[1:101]
    upper = vertices[102:202][::-1]
    np.testing.assert_array_equal(lower[:, 0], np.arange(1, 101))
    np.testing.assert_allclose((lower[:, 1] + upper[:, 1]) / 2, mean, rtol=1e-5)
    assert np.all(upper[:, 1] >= lower[:, 1])
    for trace_line in ax.lines[1:4]:
        assert len(trace_line.get_ydata()) == 100


# --- Training curves ----------------------------------------------------------


def test_training_curves_draw_each_metric():
    figure = plot_training_curves({"epochs": EPOCHS, "weights": b""})
    accuracy_ax, loss_ax = figure.axes
    assert accuracy_ax.get_xlabel() == "epoch"
    assert loss_ax.get_xlabel() == "epoch"
    assert "accuracy" in accuracy_ax.get_ylabel()
    assert "loss" in loss_ax.get_ylabel()
    (accuracy_line,) = accuracy_ax.lines
    np.testing.assert_array_equal(accuracy_line.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(accuracy_line.get_ydata(), [0.61, 0.72, 0.75])
    train_line, valid_line = loss_ax.lines
    np.testing.assert_array_equal(train_line.get_ydata(), [1.2, 0.9, 0.7])
    np.testing.assert_array_equal(valid_line.get_ydata(), [1.0, 0.8, 0.75])
    assert train_line.get_label() == "train"
    assert valid_line.get_label() == "valid"
    assert valid_line.get_linestyle() == "--"


def test_training_curves_accept_epoch_list():
    figure = plot_training_curves(EPOCHS)
    (accuracy_line,) = figure.axes[0].lines
    np.testing.assert_array_equal(accuracy_line.get_ydata(), [0.61, 0.72, 0.75])


def test_training_curves_one_curve_per_sweep_run():
    sweep = [
        {"epochs": EPOCHS, "learning_rate": 0.05, "seed": 0},
        {"epochs": EPOCHS[:2], "learning_rate": 0.1, "seed": 0},
    ]
    figure = plot_training_curves(sweep)
    accuracy_ax, loss_ax = figure.axes
    assert [line.get_label() for line in accuracy_ax.lines] == [
        "lr = 0.05, seed 0",
        "lr = 0.1, seed 0",
    ]
    assert len(loss_ax.lines) == 4
    np.testing.assert_array_equal(accuracy_ax.lines[1].get_xdata(), [1, 2])
    legend = [text.get_text() for text in accuracy_ax.get_legend().get_texts()]
    assert legend == ["lr = 0.05, seed 0", "lr = 0.1, seed 0"]


def test_training_curves_skip_missing_loss():
    epochs = [{"epoch": e["epoch"], "accuracy": e["accuracy"]} for e in EPOCHS]
    figure = plot_training_curves(epochs, labels=["cloud run"])
    assert [line.get_label() for line in figure.axes[0].lines] == ["cloud run"]
    assert len(figure.axes[1].lines) == 0


def test_training_curves_draw_on_given_axes():
    figure = Figure()
    axes = figure.subplots(1, 2)
    assert plot_training_curves(EPOCHS, axes=axes) is figure
    assert len(axes[1].lines) == 2


@pytest.mark.parametrize(
    "result",
    [{"accuracy": 0.5}, [], "epochs", [{"accuracy": 0.5}]],
    ids=["dict-without-epochs", "empty", "string", "rows-without-epoch"],
)
def test_training_curves_reject_other_values(result):
    with pytest.raises(ConfigError, match="training result"):
        plot_training_curves(result)


def test_training_curves_reject_wrong_label_count():
    with pytest.raises(ConfigError, match="one label per run"):
        plot_training_curves(EPOCHS, labels=["a", "b"])


def test_training_curves_png_written(tmp_path):
    path = tmp_path / "curves.png"
    plot_training_curves(EPOCHS, path=path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE


# --- Inference accuracy ---------------------------------------------------------


def test_inference_accuracy_axis_and_data():
    figure = plot_inference_accuracy(WITH_COMPENSATION)
    (ax,) = figure.axes
    assert ax.get_xscale() == "symlog"
    assert ax.xaxis.get_transform().linthresh == 1.0
    assert ax.get_xlim()[0] == 0.0
    assert "time after programming" in ax.get_xlabel()
    assert ax.get_ylabel() == "test accuracy (%)"
    (line,) = ax.lines
    rows = _rows(WITH_COMPENSATION)
    np.testing.assert_array_equal(line.get_xdata(), [r["t_inference"] for r in rows])
    np.testing.assert_array_equal(line.get_ydata(), [r["avg_accuracy"] for r in rows])
    assert ax.get_legend() is None


def test_inference_accuracy_band_is_mean_plus_minus_std():
    figure = plot_inference_accuracy(WITHOUT_COMPENSATION)
    (band,) = [
        collection
        for collection in figure.axes[0].collections
        if len(collection.get_paths()[0].vertices) > 4
    ]
    rows = _rows(WITHOUT_COMPENSATION)
    mean = np.asarray([r["avg_accuracy"] for r in rows])
    std = np.asarray([r["std_accuracy"] for r in rows])
    xs, ys = _band_edges(band)
    assert xs == set(np.round([r["t_inference"] for r in rows], 9))
    assert ys == set(np.round(np.concatenate([mean - std, mean + std]), 9))


def test_inference_accuracy_one_curve_per_label(tmp_path):
    path = tmp_path / "drift.png"
    figure = plot_inference_accuracy(
        [WITH_COMPENSATION, WITHOUT_COMPENSATION],
        labels=["global drift compensation", "none"],
        path=path,
    )
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    ax = figure.axes[0]
    assert [line.get_label() for line in ax.lines] == [
        "global drift compensation",
        "none",
    ]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["global drift compensation", "none"]
    np.testing.assert_array_equal(
        ax.lines[1].get_ydata(),
        [r["avg_accuracy"] for r in _rows(WITHOUT_COMPENSATION)],
    )


def test_inference_accuracy_accepts_label_mapping():
    figure = plot_inference_accuracy(
        {"on": WITH_COMPENSATION, "off": WITHOUT_COMPENSATION}
    )
    assert [line.get_label() for line in figure.axes[0].lines] == ["on", "off"]


def test_inference_accuracy_names_sweep_values():
    sweep = {
        "config_values": {"noise_model.prog_noise_scale": [0.5, 2.0]},
        "t_inference": [0.0, 1.0, 10.0, 100.0, 1000.0],
        "accuracy": np.zeros((2, 3, 5)),
        "loss": np.zeros((2, 3, 5)),
        "results": [WITH_COMPENSATION, WITHOUT_COMPENSATION],
    }
    figure = plot_inference_accuracy(sweep)
    assert [line.get_label() for line in figure.axes[0].lines] == [
        "noise_model.prog_noise_scale = 0.5",
        "noise_model.prog_noise_scale = 2",
    ]


def test_inference_accuracy_rejects_training_result():
    with pytest.raises(ConfigError, match="inference result"):
        plot_inference_accuracy({"epochs": EPOCHS})


# --- Tile histograms -------------------------------------------------------------


def _histogram_model():
    config = InferenceRPUConfig(
        noise_model=PCMLikeNoiseModel(g_max=20.0),
        mapping=MappingParameter(max_input_size=12),
    )
    return AnalogSequential(
        Flatten(),
        AnalogLinear(20, 6, rpu_config=config),
        AnalogLinear(6, 3, rpu_config=config),
        LogSoftmax(dim=1),
    )


def _histogram_variables(model, key):
    return model.init({"params": key}, jnp.zeros((1, 20)))


def test_tile_histograms_match_numpy(key, tmp_path):
    model = _histogram_model()
    variables = _histogram_variables(model, key)
    path = tmp_path / "tiles.png"
    figure = plot_tile_histograms(model, variables, bins=10, path=path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert len(figure.axes) == 4
    first = model.layers[1]
    weight, _ = first.get_weights(
        {name: tree["layers_1"] for name, tree in variables.items()}
    )
    weight_ax, conductance_ax = figure.axes[:2]
    counts, _ = np.histogram(np.asarray(weight).ravel(), bins=10)
    np.testing.assert_array_equal(_bar_heights(weight_ax.containers[0]), counts)
    assert weight_ax.get_title() == "layers_1: 120 weights"
    assert conductance_ax.get_xlabel() == "conductance (µS)"

    # 20 inputs in tiles of at most 12: two tiles of 10, each scaled to g_max.
    tiles = np.asarray(variables["analog"]["layers_1"]["state"]["weight"])
    assert tiles.shape[:2] == (1, 2)
    positive, negative = [], []
    for tile in (tiles[0, 0, :, :10], tiles[0, 1, :, :10]):
        # g_min = 0, so a weight w maps to |w| * g_max / max |w| of its tile.
        scale = 20.0 / np.abs(tile).max()
        positive.append(tile[tile > 0] * scale)
        negative.append(-tile[tile < 0] * scale)
    for container, values in zip(conductance_ax.containers, (positive, negative)):
        counts, _ = np.histogram(np.concatenate(values), bins=10, range=(0.0, 20.0))
        np.testing.assert_array_equal(_bar_heights(container), counts)
    assert max(np.concatenate(positive).max(), np.concatenate(negative).max()) == (
        pytest.approx(20.0)
    )


def test_tile_histograms_select_layer_and_converter(key):
    model = _histogram_model()
    variables = _histogram_variables(model, key)
    converter = SinglePairConductanceConverter(g_max=10.0, g_min=1.0)
    figure = plot_tile_histograms(
        model, variables, layers="layers_2", converter=converter, bins=5
    )
    weight_ax, conductance_ax = figure.axes
    assert weight_ax.get_title() == "layers_2: 18 weights"
    assert "g_max = 10 µS" in conductance_ax.get_title()
    tile = np.asarray(variables["analog"]["layers_2"]["state"]["weight"])[0, 0]
    scale = 9.0 / np.abs(tile).max()  # (g_max - g_min) / max |w|
    expected = (1.0 + tile[tile > 0] * scale, 1.0 - tile[tile < 0] * scale)
    for container, values in zip(conductance_ax.containers, expected):
        counts, _ = np.histogram(values, bins=5, range=(1.0, 10.0))
        np.testing.assert_array_equal(_bar_heights(container), counts)


def test_tile_histograms_reject_unknown_layer(key):
    model = _histogram_model()
    variables = _histogram_variables(model, key)
    with pytest.raises(ConfigError, match="layers_1"):
        plot_tile_histograms(model, variables, layers="layers_9")


def test_plots_need_no_pyplot_state():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot_training_curves(EPOCHS)
    assert plt.get_fignums() == before


def test_tile_histograms_bare_layer(key):
    layer = AnalogLinear(4, 2, rpu_config=InferenceRPUConfig())
    variables = layer.init({"params": key}, jnp.zeros((1, 4)))
    figure = plot_tile_histograms(layer, variables, bins=4)
    assert figure.axes[0].get_title() == "(model): 8 weights"


def test_missing_matplotlib_names_plot_extra(monkeypatch):
    # A None entry in sys.modules makes the import raise ImportError.
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"aihw_jax\[plot\]"):
        plot_training_curves(EPOCHS)
