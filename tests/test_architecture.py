"""The package's shape: modules that import each other without cycles, one error root, every code declared.

The import graph counts imports anywhere in a module, inside functions too (a deferred import still
runs, only later), but not those under ``if TYPE_CHECKING:``, which never run. A package stands for
its ``__init__``; importing ``a.b.c`` also runs the packages ``a.b`` and ``a`` that the importer is
not already inside.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import runql
from runql.errors import ERROR_CODES

PACKAGE = Path(runql.__file__).parent


def _module_files() -> dict[str, Path]:
    """Every module of the package by dotted name; a package's name maps to its ``__init__.py``."""
    files = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("runql", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    return files


MODULES = _module_files()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that can run: everywhere except the body of ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]))
        else:
            yield from _imports(node)


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute name ``from <dots><name> import ...`` refers to, inside ``module``."""
    if not node.level:
        return node.module or ""
    is_package = MODULES[module].name == "__init__.py"
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The package's modules an import statement runs or reads from.

    The module named is a target even when it is an ancestor of ``module`` (``from . import
    helper`` reads the package's ``__init__``); the packages on the way to it are targets unless
    ``module`` is inside them, since those are already loaded.
    """
    if isinstance(node, ast.Import):
        named = [alias.name for alias in node.names]
    else:
        source = _resolve(module, node)
        # ``from pkg import sub`` names the submodule ``pkg.sub``; ``from pkg import name`` names ``pkg``.
        named = [
            f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source
            for alias in node.names
        ]
    found = set()
    for name in named:
        parts = name.split(".")
        for end in range(1, len(parts)):
            prefix = ".".join(parts[:end])
            if prefix in MODULES and not module.startswith(prefix + "."):
                found.add(prefix)
        if name in MODULES:
            found.add(name)
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at load time or later."""
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        graph[module] = set().union(*(_targets(module, node) for node in _imports(tree)))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as the list of its modules (first repeated at the end), or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert graph["runql.stores.workspace"], "the graph found no imports"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# -- layers ----------------------------------------------------------------------------------------
# The packages in the order of the pipeline, lowest first: a module imports its own layer and those
# below it, never one above. docs/architecture.md draws the same order.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("runql.errors", "runql.common"),
    ("runql.language",),
    ("runql.model",),
    ("runql.profiles",),
    ("runql.engines",),
    ("runql.sources",),
    ("runql.stores",),
    ("runql.testing", "runql.cli"),
    ("runql", "runql.__main__"),
)

# The one import that points up, and why: a compiled query answers over runs by itself
# (CompiledQuery.search, .predicate), and the reference evaluator is what answers.
UPWARD_EXCEPTIONS = {("runql.profiles.compiled", "runql.engines.reference")}


def layer_of(module: str) -> int:
    """The index in LAYERS of the most specific package holding ``module``."""
    best, found = -1, None
    for index, packages in enumerate(LAYERS):
        for package in packages:
            if (module == package or module.startswith(package + ".")) and len(package) > best:
                best, found = len(package), index
    assert found is not None, f"{module} is in no layer: add its package to LAYERS"
    return found


def _excepted(module: str, target: str) -> bool:
    """Whether ``module`` may import ``target``: a declared exception, or a package on its way."""
    return any(
        module == importer and (target == imported or imported.startswith(target + "."))
        for importer, imported in UPWARD_EXCEPTIONS
    )


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a module from a higher layer, but the declared exceptions."""
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(module) and not _excepted(module, target)
    )


def test_imports_point_down_the_layers() -> None:
    graph = import_graph()
    assert all(layer_of(module) >= 0 for module in graph)
    assert upward_imports(graph) == []


def test_the_layer_check_finds_an_upward_import() -> None:
    graph = {"runql.language.parser": {"runql.stores.workspace"}, "runql.stores.workspace": {"runql.errors"}}
    assert upward_imports(graph) == ["runql.language.parser -> runql.stores.workspace"]
    assert upward_imports({"runql.profiles.compiled": {"runql.engines.reference"}}) == []


def test_every_exception_is_still_needed() -> None:
    graph = import_graph()
    assert all(target in graph[module] for module, target in UPWARD_EXCEPTIONS)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def _exception_classes() -> Iterator[type[BaseException]]:
    for info in pkgutil.walk_packages(runql.__path__, "runql."):
        if info.name == "runql.__main__":  # running the command line is all it does
            continue
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("runql"):
                yield value


def test_every_exception_runql_defines_is_a_runql_error() -> None:
    classes = set(_exception_classes())
    assert runql.StoreError in classes
    # Warnings are reported, not raised, so they stand outside the error root.
    outside = sorted(c.__qualname__ for c in classes if not issubclass(c, (runql.RunqlError, Warning)))
    assert not outside, f"not a runql.RunqlError: {outside}"


# -- error codes -----------------------------------------------------------------------------------

_CODE_LITERAL = re.compile(r"\bcode\s*=\s*[\"']([^\"']*)[\"']")


def _sources() -> list[str]:
    """The text of every module, without the registry itself: errors.py without ERROR_CODES, and
    not errors_doc.py, which renders it."""
    texts = []
    for path in MODULES.values():
        text = path.read_text("utf-8")
        if path.name == "errors_doc.py":
            continue
        if path.name == "errors.py":
            tree = ast.parse(text)
            tree.body = [node for node in tree.body if "ERROR_CODES" not in ast.dump(node)]
            text = ast.unparse(tree)
        texts.append(text)
    return texts


def test_every_code_in_the_source_is_registered() -> None:
    used = {code for text in _sources() for code in _CODE_LITERAL.findall(text)}
    assert len(used) > 10, "the code= literals were not found"
    assert used <= set(ERROR_CODES), f"not in runql.errors.ERROR_CODES: {sorted(used - set(ERROR_CODES))}"


def test_every_registered_code_is_used() -> None:
    text = "\n".join(_sources())
    unused = [code for code in ERROR_CODES if not re.search(f"[\"']{code}[\"']", text)]
    assert not unused, f"registered but never raised: {unused}"


def test_the_registry_names_runql_errors() -> None:
    for entry in ERROR_CODES.values():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", entry.code), entry.code
        assert entry.meaning and "\n" not in entry.meaning, entry.code
        assert entry.warning != bool(entry.raised_as), f"{entry.code}: a warning, or raised as errors"
        assert all(issubclass(cls, runql.RunqlError) for cls in entry.raised_as), entry.code


# -- the documented tree -----------------------------------------------------------------------------

ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def documented_tree(text: str) -> set[str]:
    """The files the tree in docs/architecture.md names, as paths under src/runql (a package line,
    ``name/``, stands for its ``__init__.py``). The tree is the fenced block after "## The tree"; each
    line is a name indented two spaces per level, then what it holds."""
    block = text.split("## The tree", 1)[1].split("```", 2)[1]
    paths: set[str] = set()
    folders: list[str] = []
    for line in block.splitlines()[1:]:
        if not line.strip() or line.strip() == "src/runql/":
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2 - 1
        name = line.split()[0]
        folders = folders[:depth]
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
            paths.add("/".join([*folders, "__init__.py"]))
        else:
            paths.add("/".join([*folders, name]))
    return paths


def test_the_documented_tree_is_the_code() -> None:
    documented = documented_tree(ARCHITECTURE.read_text("utf-8"))
    actual = {path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")}
    assert sorted(actual - documented) == [], "in src/runql but not in docs/architecture.md's tree"
    assert sorted(documented - actual) == [], "in docs/architecture.md's tree but not in src/runql"


def test_the_tree_reader_reads_nesting() -> None:
    text = "## The tree\n\n```\nsrc/runql/\n  a.py    one\n  b/      two\n    c.py  three\n  d.py\n```\n"
    assert documented_tree(text) == {"a.py", "b/__init__.py", "b/c.py", "d.py"}
