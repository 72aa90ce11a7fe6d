"""Sphinx configuration of the aihw_jax documentation site.

The build is offline: no intersphinx inventories, no remote images. The API
pages are generated from the docstrings by autodoc and napoleon, and the
``api_coverage`` extension in ``_ext/`` warns about public names without an
entry, so ``make docs`` (``sphinx -W``) fails on a gap.
"""

import pathlib
import sys

DOCS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))

project = "aihw_jax"
author = "the aihw_jax authors"
copyright = "the aihw_jax authors"
release = "0.1.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "api_coverage",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
html_theme = "alabaster"
html_title = "aihw_jax"
html_static_path = []

myst_heading_anchors = 3

autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True

# The doctest builder (``sphinx-build -b doctest docs DIR``) runs the ``>>>``
# examples of the pages with these imports already done.
doctest_global_setup = """
import jax
import jax.numpy as jnp
"""


# Every name in the ``__all__`` of these modules needs an API entry.
api_coverage_modules = [
    "aihw_jax.nn",
    "aihw_jax.optim",
    "aihw_jax.simulator.configs",
    "aihw_jax.simulator.presets",
    "aihw_jax.simulator.parameters.compounds",
    "aihw_jax.simulator.parameters.devices",
    "aihw_jax.simulator.parameters.enums",
    "aihw_jax.simulator.parameters.inference",
    "aihw_jax.simulator.parameters.inference_enums",
    "aihw_jax.simulator.parameters.io",
    "aihw_jax.simulator.parameters.mapping",
    "aihw_jax.simulator.parameters.training",
    "aihw_jax.simulator.tiles",
    "aihw_jax.inference",
    "aihw_jax.experiments",
    "aihw_jax.experiments.runners",
    "aihw_jax.datasets",
    "aihw_jax.cloud.api",
    "aihw_jax.cloud.codec",
    "aihw_jax.cloud.converter",
    "aihw_jax.cloud.jobs",
    "aihw_jax.cloud.client",
    "aihw_jax.cloud.service",
    "aihw_jax.serialization",
    "aihw_jax.errors",
    "aihw_jax.utils.visualization",
]
