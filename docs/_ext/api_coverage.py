"""Check that every public name of the listed modules has an API entry.

Each name in the ``__all__`` of a module in ``api_coverage_modules`` needs an
object description (autodoc or a ``py:`` directive, not ``:no-index:``)
under ``module.name``. A class or function that is re-exported counts as
documented when the same object has an entry under another name, so each
object is described once. Every missing name is reported as a Sphinx warning,
which fails a build run with ``-W``.

The ``api-aliases`` directive lists the names of a module that re-exports
another module's objects, each linked to its entry there.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


def _public_names(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        logger.warning(
            "api coverage: module %s has no __all__, so its public names are unknown",
            module.__name__,
            type="api_coverage",
        )
        return []
    return list(names)


def _resolve(fullname: str, modules: set[str]) -> Any:
    """Return the object documented as ``fullname``, or None for a non-member."""
    modname, _, name = fullname.rpartition(".")
    if modname not in modules:
        return None
    try:
        return getattr(importlib.import_module(modname), name, None)
    except ImportError:
        return None


def _is_aliasable(value: Any) -> bool:
    # Identity proves nothing for constants: equal small ints or strings are
    # often the same object, so only classes and functions count as aliases.
    return inspect.isclass(value) or inspect.isroutine(value)


def find_missing(env: BuildEnvironment, module_names: list[str]) -> list[str]:
    """Return ``module.name`` for every public name without an API entry."""
    domain = env.get_domain("py")
    documented = set(domain.objects)
    documented_modules = set(domain.modules)
    documented_ids = set()
    for fullname in documented:
        value = _resolve(fullname, documented_modules)
        if _is_aliasable(value):
            documented_ids.add(id(value))
    missing = []
    for module_name in module_names:
        module = importlib.import_module(module_name)
        for name in _public_names(module):
            if f"{module_name}.{name}" in documented:
                continue
            value = getattr(module, name, None)
            if _is_aliasable(value) and id(value) in documented_ids:
                continue
            missing.append(f"{module_name}.{name}")
    return missing


def check_coverage(app: Sphinx, env: BuildEnvironment) -> None:
    """Warn once per public name that has no API entry."""
    for fullname in find_missing(env, app.config.api_coverage_modules):
        module_name, _, name = fullname.rpartition(".")
        logger.warning(
            "api coverage: %s is in the __all__ of %s but has no API entry",
            name,
            module_name,
            type="api_coverage",
        )


class ApiAliases(SphinxDirective):
    """List the public names of a module that ``:target:`` re-exports, as links.

    Names that the target does not export are left out: they are expected to
    be documented in the module itself, which the coverage check verifies.
    """

    required_arguments = 1
    option_spec: ClassVar = {"target": directives.unchanged_required}

    def run(self) -> list[nodes.Node]:
        module = importlib.import_module(self.arguments[0])
        target_name = self.options["target"]
        target = importlib.import_module(target_name)
        items = nodes.bullet_list()
        for name in _public_names(module):
            if not hasattr(target, name):
                continue  # documented in this module itself
            if getattr(target, name) is not getattr(module, name):
                logger.warning(
                    "api-aliases: %s.%s is not the same object as %s.%s",
                    module.__name__,
                    name,
                    target_name,
                    name,
                    location=self.get_location(),
                )
                continue
            reference = addnodes.pending_xref(
                "",
                nodes.literal(name, name, classes=["xref", "py", "py-obj"]),
                refdomain="py",
                reftype="obj",
                reftarget=f"{target_name}.{name}",
                refexplicit=True,
                refwarn=True,
            )
            items += nodes.list_item("", nodes.paragraph("", "", reference))
        return [items]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("api_coverage_modules", [], "env", types=[list])
    app.add_directive("api-aliases", ApiAliases)
    app.connect("env-check-consistency", check_coverage)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
