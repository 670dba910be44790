"""The ``mlflow-X.Y`` profiles accept what each MLflow version accepted, without MLflow or a network.

tests/conformance/mlflow_versions.json holds, per text, the MLflow versions that accept it, as
scripts/mlflow_versions.py --record measured them on each version's own parser (docs/conformance.md,
"MLflow's versions as profiles"). Each version is compared with the profile
:func:`runql.profiles.catalog.mlflow_profile_for` gives it.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from runql import check
from runql.profiles.catalog import (
    ENTITIES,
    MLFLOW_VERSION_PROFILES,
    MLFLOW_VERSION_SINCE,
    get_profile,
    mlflow_profile_for,
)
from runql.testing.differential import runql_accepts

RECORD = Path(__file__).resolve().parents[2] / "tests" / "conformance" / "mlflow_versions.json"
RECORDED: dict[str, Any] = json.loads(RECORD.read_text(encoding="utf-8"))

# Where a profile deliberately answers otherwise than the version it describes (docs/compatibility.md),
# by (version, entity, text). The syntax differences of docs/compatibility.md (## Syntax) that validation
# does not close are left out of the recorded texts, as in test_mlflow_profile.py, and
# experiments-attributes-prefix is the difference between 3.17 and 3.18, which mlflow-3.17 describes.
# experiment-id-patterns: the recording asks MLflow's parser and in-memory search, which take a pattern on
# experiment_id; MLflow's SQL store, which the profiles follow, refuses it.
DIFFERENCES: dict[tuple[str, str, str], str] = {
    (version, "experiments", "experiment_id LIKE '1%'"): "experiment-id-patterns"
    for version in ("3.17.2", "3.18.0")
}


def _versions(ranges: list[str]) -> set[str]:
    """The versions the ranges of accepted_by name ('A-B': A to B in the recorded order; 'A': A)."""
    order: list[str] = RECORDED["versions"]
    found = set()
    for text in ranges:
        first, _, last = text.partition("-")
        found.update(order[order.index(first) : order.index(last or first) + 1])
    return found


ACCEPTED_BY = [_versions(case["expect"]["accepted_by"]) for case in RECORDED["cases"]]


def _query(case: dict[str, Any]) -> tuple[str, str, list[str]]:
    return case["entity"], case.get("filter", ""), case.get("order_by", [])


def _text(case: dict[str, Any]) -> str:
    return case.get("filter") or f"order_by:{case.get('order_by', [])}"


@pytest.mark.parametrize("version", RECORDED["versions"])
def test_profile_agrees_with_its_version(version: str) -> None:
    name = mlflow_profile_for(version).name
    disagreements = []
    for case, accepted_by in zip(RECORDED["cases"], ACCEPTED_BY, strict=True):
        if (version, case["entity"], _text(case)) in DIFFERENCES:
            continue
        accepted = version in accepted_by
        if runql_accepts(*_query(case), profile=name) != accepted:
            verdict = "accepts" if accepted else "refuses"
            disagreements.append(f"MLflow {version} {verdict} {case['entity']}: {_text(case)!r}, {name} not")
    assert disagreements == []


def test_every_versioned_profile_is_recorded() -> None:
    described = {mlflow_profile_for(v).name for v in RECORDED["versions"]}
    assert described == {*MLFLOW_VERSION_PROFILES, "mlflow"}


@pytest.mark.parametrize("name", MLFLOW_VERSION_PROFILES)
def test_each_version_differs_from_the_next_newer(name: str) -> None:
    index = MLFLOW_VERSION_PROFILES.index(name)
    newer = (*MLFLOW_VERSION_PROFILES, "mlflow")[index + 1]

    def rules(profile_name: str, entity: str) -> dict[str, Any]:
        profile = get_profile(profile_name, entity)
        return {f.name: getattr(profile, f.name) for f in fields(profile) if f.name not in ("name", "title")}

    assert any(rules(name, entity) != rules(newer, entity) for entity in ENTITIES)
    # And some recorded text tells the two apart.
    versions = RECORDED["versions"]
    last = max((v for v in versions if mlflow_profile_for(v).name == name), key=_release)
    following = min((v for v in versions if _release(v) > _release(last)), key=_release)
    assert any((last in accepted) != (following in accepted) for accepted in ACCEPTED_BY)


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_mlflow_profile_for() -> None:
    assert mlflow_profile_for("2.0.1").name == "mlflow-2.0"
    assert mlflow_profile_for("2.1").name == "mlflow-2.2"
    assert mlflow_profile_for("3.5.1").name == "mlflow-3.9"
    assert mlflow_profile_for("3.17.2", "experiments").name == "mlflow-3.17"
    assert mlflow_profile_for("3.18.0").name == "mlflow"
    assert mlflow_profile_for("4.0").name == "mlflow"
    with pytest.raises(ValueError, match=r"older than 2\.0"):
        mlflow_profile_for("1.30.1")
    for name, first in MLFLOW_VERSION_SINCE.items():
        assert mlflow_profile_for(first).name == name


def test_versioned_profiles_name_themselves() -> None:
    (problem,) = check("params.lr IS NULL", "mlflow-3.10")
    assert problem.code == "unsupported-is-null"
    assert problem.message.startswith("MLflow 3.10 ")
    (alias,) = check("created > 5", "mlflow-2.0")
    assert alias.code == "unknown-attribute"
    assert "write start_time" in alias.hint
    (listed,) = check("run_id IN ('a',)", "mlflow-2.22")
    assert listed.code == "unsupported-list"
    (fraction,) = check("start_time > 1.5", "mlflow-3.16")
    assert fraction.code == "bad-value-type"
    assert check("creation_time > 1.5", "mlflow-3.16", "experiments") == []
