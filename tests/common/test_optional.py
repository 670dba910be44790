"""An engine whose package is not installed says which extra brings it (runql.common.optional), instead of
failing with Python's bare ModuleNotFoundError."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

CASES = [
    ("sqlalchemy", "runql.engines.sql", "mlflow-db"),
    ("sqlalchemy", "runql.sql", "mlflow-db"),
    ("pyspark", "runql.engines.spark", "spark"),
    ("pyspark", "runql.spark", "spark"),
]


@pytest.mark.parametrize(("package", "module", "extra"), CASES)
def test_an_engine_without_its_package_names_the_extra(package: str, module: str, extra: str) -> None:
    # In a fresh interpreter: a None in sys.modules makes every import of the package fail, as if it
    # were not installed.
    code = textwrap.dedent(
        f"""
        import importlib, sys
        sys.modules[{package!r}] = None
        import runql
        try:
            importlib.import_module({module!r})
        except runql.MissingDependencyError as error:
            print(error)
        else:
            sys.exit("imported without {package}")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert f"pip install 'runql[{extra}]'" in done.stdout
