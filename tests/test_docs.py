"""Tests of the documentation site: the Sphinx build and its API coverage check."""

import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

PAGES = [
    "index",
    "install",
    "quickstart",
    "experiments",
    "service",
    "physics",
    "devices",
    "sweeps",
    "migrating",
    "design",
    "data",
    "benchmarks",
    "api/index",
]

# HTML ids of API entries by page: what a user looks up first.
API_ENTRIES = {
    "api/nn": ["aihw_jax.nn.AnalogLinear", "aihw_jax.nn.ANALOG_COLLECTION"],
    "api/optim": ["aihw_jax.optim.AnalogSGD"],
    "api/configs": [
        "aihw_jax.simulator.configs.SingleRPUConfig",
        "aihw_jax.simulator.configs.IOParameters",
        "aihw_jax.simulator.configs.InferenceRPUConfig",
    ],
    "api/presets": [
        "aihw_jax.simulator.presets.ReRamESPresetDevice",
        "aihw_jax.simulator.presets.TikiTakaEcRamPreset",
    ],
    "api/parameters": ["module-aihw_jax.simulator.parameters.io"],
    "api/tiles": ["aihw_jax.simulator.tiles.forward"],
    "api/inference": ["aihw_jax.inference.PCMLikeNoiseModel"],
    "api/experiments": [
        "aihw_jax.experiments.BasicTraining",
        "aihw_jax.experiments.runners.run_local",
        "aihw_jax.experiments.runners.CloudRunner",
        "aihw_jax.experiments.runners.run_inference_sweep",
    ],
    "api/datasets": ["aihw_jax.datasets.FashionMNIST"],
    "api/cloud": [
        "aihw_jax.cloud.client.CloudExperiment.get_weights",
        "aihw_jax.cloud.api.JobStatus",
        "aihw_jax.cloud.service.serve",
    ],
    "api/serialization": ["aihw_jax.serialization.load_envelope"],
    "api/errors": ["aihw_jax.errors.AihwError"],
    "api/visualization": ["aihw_jax.utils.visualization.plot_device_response"],
}


def run_sphinx(
    source: pathlib.Path, output: pathlib.Path
) -> subprocess.CompletedProcess:
    """Build ``source`` to HTML with warnings as errors, as ``make docs`` does."""
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q"]
    command += ["-b", "html", "-d", str(output / "doctrees"), str(source)]
    command.append(str(output / "html"))
    return subprocess.run(
        command, check=False, capture_output=True, text=True, cwd=ROOT
    )


def test_site_builds_without_warnings(tmp_path):
    build = run_sphinx(DOCS, tmp_path)
    assert build.returncode == 0, build.stderr
    html = tmp_path / "html"
    for page in PAGES:
        assert (html / f"{page}.html").is_file(), page
    for page, entries in API_ENTRIES.items():
        text = (html / f"{page}.html").read_text(encoding="utf-8")
        for entry in entries:
            assert f'id="{entry}"' in text, f"{entry} on {page}"
    parameters = (html / "api/parameters.html").read_text(encoding="utf-8")
    assert 'href="configs.html#aihw_jax.simulator.configs.IOParameters"' in parameters
    index = (html / "index.html").read_text(encoding="utf-8")
    assert 'href="quickstart.html"' in index
    assert 'href="api/index.html"' in index


def write_project(root: pathlib.Path, entries: str) -> None:
    """Write a Sphinx project that documents ``entries`` of a small module."""
    root.mkdir()
    (root / "covmod.py").write_text(
        textwrap.dedent(
            '''
            """A module with two public functions."""

            __all__ = ["documented", "forgotten"]


            def documented():
                """Have an API entry."""


            def forgotten():
                """Have no API entry unless the page adds one."""
            '''
        )
    )
    (root / "conf.py").write_text(
        textwrap.dedent(
            f"""
            import sys

            sys.path[:0] = [{str(root)!r}, {str(DOCS / "_ext")!r}]
            extensions = ["sphinx.ext.autodoc", "api_coverage"]
            api_coverage_modules = ["covmod"]
            """
        )
    )
    (root / "index.rst").write_text(f"Module\n======\n\n{entries}\n")


def test_coverage_check_fails_on_missing_entry(tmp_path):
    write_project(tmp_path / "src", ".. autofunction:: covmod.documented")
    build = run_sphinx(tmp_path / "src", tmp_path / "out")
    assert build.returncode != 0
    assert "forgotten is in the __all__ of covmod" in build.stderr
    assert "documented is in" not in build.stderr


def test_coverage_check_passes_when_complete(tmp_path):
    entries = ".. automodule:: covmod\n   :members:"
    write_project(tmp_path / "src", entries)
    build = run_sphinx(tmp_path / "src", tmp_path / "out")
    assert build.returncode == 0, build.stderr
