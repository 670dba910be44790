"""The corpora under tests/conformance/ share the schema their README describes, and its example runs."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

CONFORMANCE = Path(__file__).parents[1] / "conformance"
README = CONFORMANCE / "README.md"

# The keys a case may have in each file: the shared ones, then the file's inputs and annotations.
MODEL_ENTITIES = ("registered_models", "model_versions", "logged_models")
SHARED = {"name", "expect", "entity", "filter", "order_by", "profile", "note"}
FILE_KEYS = {
    "filters.json": {"mlflow", "diff"},
    "order_by.json": {"mlflow", "diff", "ast_diff"},
    "profiles.json": {"capability", "source"},
    "models.json": {"source"},
    "evaluation.json": {
        "max_results",
        "experiment_ids",
        "experiment_names",
        "search_all_experiments",
        "view_type",
        "output_format",
        "rows",
    },
    "mlflow_corpus.json": {"workspace", "max_results"},
    "mlflow_versions.json": set(),
}


def _corpus(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONFORMANCE / name).read_text(encoding="utf-8"))
    return data


def test_every_corpus_is_described() -> None:
    assert {p.name for p in CONFORMANCE.glob("*.json")} == set(FILE_KEYS)
    text = README.read_text(encoding="utf-8")
    for name in FILE_KEYS:
        assert f"## {name}:" in text, f"README.md has no section for {name}"


@pytest.mark.parametrize("name", sorted(FILE_KEYS))
def test_cases_have_a_name_and_an_expectation(name: str) -> None:
    corpus = _corpus(name)
    assert isinstance(corpus["description"], str) and "README.md" in corpus["description"]
    names = [case["name"] for case in corpus["cases"]]
    assert all(isinstance(n, str) and n for n in names)
    assert len(names) == len(set(names)), f"{name}: case names repeat"
    for case in corpus["cases"]:
        assert "expect" in case, case["name"]
        assert set(case) <= SHARED | FILE_KEYS[name], f"{case['name']}: {sorted(set(case) - SHARED)}"
        entities = MODEL_ENTITIES if name == "models.json" else ("runs", "experiments")
        assert case.get("entity", "runs") in entities, case["name"]
        assert isinstance(case.get("filter", ""), str), case["name"]


@pytest.mark.parametrize("name", sorted(FILE_KEYS))
def test_errors_are_objects_with_a_code(name: str) -> None:
    for case in _corpus(name)["cases"]:
        expect = case["expect"]
        if isinstance(expect, dict) and "error" in expect:
            assert isinstance(expect["error"]["code"], str), case["name"]


def test_the_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) == 1
    source = blocks[0].replace("tests/conformance/", f"{CONFORMANCE}/")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some cases are queries the profile warns about, on purpose
        exec(compile(source, str(README), "exec"), {"__name__": "corpus_readme_example"})
