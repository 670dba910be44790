"""Old module paths keep working: the public short names silently, the others with a warning naming
the new place, and the names of the package's functions say where their module went."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Each check runs in a fresh interpreter: an import already done in this process would not be redone.
CHECKS = {
    "public names, silently": """
import warnings; warnings.simplefilter("error")
import runql.sql, runql.spark
from runql import strategies, conformance
from runql.sql import runs_select
assert strategies.__name__ == "runql.testing.strategies"
assert runql.sql is __import__("runql.engines.sql", fromlist=["x"])
""",
    "a moved module, with a warning": """
import warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from runql.sql_store import SqlStore
from runql.stores.sql import SqlStore as New
assert SqlStore is New
assert any("runql.stores.sql" in str(w.message) for w in caught), caught
""",
    "a submodule of a moved package is the same module": """
import warnings; warnings.simplefilter("ignore")
import runql.evaluate.reference as old, runql.engines.reference as new
assert old is new
""",
    "a split module serves both halves": """
import warnings; warnings.simplefilter("ignore")
from runql.records import Run, run_from_record
from runql.model.entities import Run as R
from runql.model.records import run_from_record as f
assert (Run, run_from_record) == (R, f)
""",
    "a function's old module name says where it went": """
try:
    import runql.parse
except ModuleNotFoundError as error:
    assert "runql.language.parser" in str(error), error
else:
    raise AssertionError("runql.parse imported as a module")
import runql
assert callable(runql.parse) and callable(runql.plan) and callable(runql.search)
""",
}


@pytest.mark.parametrize("code", CHECKS.values(), ids=CHECKS.keys())
def test_an_old_path(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_every_submodule_path_gives_that_module() -> None:
    """No submodule is shadowed by a function the package exports."""
    code = """
import importlib, pkgutil, runql
for info in pkgutil.walk_packages(runql.__path__, "runql."):
    if info.name == "runql.__main__":
        continue
    module = importlib.import_module(info.name)
    parent, _, leaf = info.name.rpartition(".")
    assert getattr(importlib.import_module(parent), leaf) is module, info.name
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
