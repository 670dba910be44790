"""docs/api.md names every public name of runql and every public Workspace method."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import runql

API = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
NAMED = set(re.findall(r"`([A-Za-z_][A-Za-z_0-9.]*)", API))
METHODS = sorted(
    name
    for name in vars(runql.Workspace)
    if not name.startswith("_") and callable(getattr(runql.Workspace, name))
)


@pytest.mark.parametrize("name", runql.__all__)
def test_public_name_is_documented(name: str) -> None:
    assert name in NAMED, f"docs/api.md does not mention runql.{name}"


@pytest.mark.parametrize("name", METHODS)
def test_workspace_method_is_documented(name: str) -> None:
    assert name in NAMED or f"Workspace.{name}" in NAMED or f"ws.{name}" in NAMED, (
        f"docs/api.md does not mention Workspace.{name}"
    )
