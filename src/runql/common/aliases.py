"""Old module paths, served by the modules that took their place.

runql's modules once lay side by side in one folder; they now live in packages by layer. Code that
imports an old path keeps working: the four public short names (``runql.strategies``,
``runql.conformance``, ``runql.spark``, ``runql.sql``) silently, any other old path with a
``DeprecationWarning`` naming the new one. Five old modules shared their names with the functions the
package exports (``runql.parse`` and the like); importing one of those names as a module says where its
module went instead of handing back a function.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

# The public short names: documented, kept for good.
PUBLIC = {
    "runql.strategies": "runql.testing.strategies",
    "runql.conformance": "runql.testing.conformance",
    "runql.spark": "runql.engines.spark",
    "runql.sql": "runql.engines.sql",
}

# Module paths of the flat layout that a user may have imported; a module split in two is served as
# one module holding the names of both.
MOVED: dict[str, str | tuple[str, ...]] = {
    "runql.ast": "runql.language.ast",
    "runql.attributes": "runql.language.attributes",
    "runql._grammar": "runql.language.grammar",
    "runql.diagnose": "runql.language.diagnosis",
    "runql.bounded": "runql.common.bounded",
    "runql.optional": "runql.common.optional",
    "runql.redact": "runql.common.redact",
    "runql.regex": "runql.common.regex",
    "runql.errors_doc": "runql.common.errors_doc",
    "runql.records": ("runql.model.entities", "runql.model.records"),
    "runql.keys": "runql.model.keys",
    "runql.paging": "runql.model.paging",
    "runql.output": "runql.model.frames",
    "runql.arguments": "runql.model.arguments",
    "runql.profile_matrix": "runql.profiles.matrix",
    "runql.hints": "runql.profiles.hints",
    "runql.dates": "runql.profiles.dates",
    "runql.compiled": "runql.profiles.compiled",
    "runql.evaluate": "runql.engines",
    "runql.evaluate.reference": "runql.engines.reference",
    "runql.evaluate.columnar": "runql.engines.columnar",
    "runql.semantics": "runql.engines.semantics",
    "runql.aggregates": "runql.engines.aggregates",
    "runql.discover": "runql.sources.discovery",
    "runql.sample": "runql.sources.sample",
    "runql.export": "runql.sources.export",
    "runql.workspace": "runql.stores.workspace",
    "runql.sql_store": "runql.stores.sql",
    "runql.server_store": "runql.stores.server",
    "runql.pytest_plugin": "runql.testing.pytest_plugin",
}

# Old modules named like a function of the package: ``runql.parse`` is the function.
SHADOWED = {
    "runql.parse": "runql.language.parser",
    "runql.plan": "runql.engines.planner",
    "runql.validate": "runql.profiles.checker",
    "runql.unparse": "runql.language.unparser",
    "runql.search": "runql.engines.embedding",
}


class _OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an import of an old path with the module now at the new one."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in SHADOWED:
            raise ModuleNotFoundError(
                f"{fullname} is a function of runql; the module that defines it is {SHADOWED[fullname]}",
                name=fullname,
            )
        if fullname in PUBLIC or fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        if spec.name in PUBLIC:
            return importlib.import_module(PUBLIC[spec.name])
        new = MOVED[spec.name]
        places = (new,) if isinstance(new, str) else new
        warnings.warn(
            f"{spec.name} moved to {' and '.join(places)}; import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        if isinstance(new, str):
            return importlib.import_module(new)
        joined = ModuleType(spec.name, f"The names of {', '.join(places)}.")
        for place in places:
            module = importlib.import_module(place)
            joined.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
        return joined

    def exec_module(self, module: ModuleType) -> None:
        """The module was run when it was imported under its own name."""


def install() -> None:
    """Serve the old paths from now on (once per process)."""
    if not any(isinstance(finder, _OldPaths) for finder in sys.meta_path):
        # First: a submodule of a moved package (runql.evaluate.reference) would otherwise be found again
        # in its new folder and run a second time under the old name.
        sys.meta_path.insert(0, _OldPaths())
