"""The wheel carries the grammar, and an installed runql parses with no source checkout in sight."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
GRAMMARS = ("common", "filter", "order_by")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("runql-*.whl")
    return built


def test_wheel_holds_the_grammar_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in GRAMMARS:
            member = f"runql/grammar/{name}.lark"
            assert member in names
            assert archive.read(member).decode("utf-8") == (ROOT / "grammar" / f"{name}.lark").read_text(
                "utf-8"
            )


def test_installed_wheel_parses_from_its_own_grammar(wheel: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import runql, runql.language.grammar
        assert runql.__file__.startswith({str(wheel)!r}), runql.__file__
        print(runql.language.grammar.grammar_origin())
        print(runql.parse_filter("metrics.auc > 0.8 AND params.model = 'xgb'"))
        print(runql.parse_order_by(["metrics.auc DESC"]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(wheel), "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    origin, expr, order_by = result.stdout.splitlines()
    assert origin == "package"
    assert "Compare" in expr and "'xgb'" in expr
    assert "descending=True" in order_by
