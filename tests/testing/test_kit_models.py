"""The conformance kit drives a backend's search of registered models, model versions and logged models:
a backend answering as MLflow's SQL stores passes, and one with a typical bug is caught."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

pytest.importorskip("hypothesis")

from runql.conformance import ConformanceError, check_backend, row_id

import runql
from runql.language.ast import Entity
from runql.model.logged_models import LoggedModel
from runql.model.registry import Registry


def _workspace(entity: str, rows: list[Any]) -> runql.Workspace:
    if entity == "logged_models":
        return runql.Workspace(logged_models=rows)
    registry = Registry(models=rows) if entity == "registered_models" else Registry(versions=rows)
    return runql.Workspace(registry=registry)


def _order_dicts(order_by: list[str]) -> list[dict[str, Any]]:
    """The order_by clauses as MLflow's dicts: a key's name as it is, without backticks."""
    found = []
    for sort_key in runql.parse("", order_by).order_by:
        key = sort_key.key
        prefix = {Entity.METRIC: "metrics.", Entity.PARAM: "params.", Entity.TAG: "tags."}.get(key.entity, "")
        field = prefix + key.name
        found.append({"field_name": field, "ascending": not sort_key.descending})
    return found


def _store_search(entity: str, profile: str) -> Any:
    """A backend that answers through a runql store, as MLflow's SQL stores answer."""

    def search(rows: list[Any], filter_string: str, order_by: list[str]) -> list[str]:
        workspace = _workspace(entity, rows)
        if entity == "logged_models":
            experiments = sorted({m.experiment_id for m in rows})
            page = workspace.search_logged_models(
                experiments, filter_string, max_results=1000, order_by=_order_dicts(order_by), profile=profile
            )
        elif entity == "registered_models":
            page = workspace.search_registered_models(filter_string, 1000, order_by, profile=profile)
        else:
            page = workspace.search_model_versions(filter_string, 200_000, order_by, profile=profile)
        return [row_id(row) for row in page]

    return search


@pytest.mark.parametrize("profile", ["mlflow", "extended"])
@pytest.mark.parametrize("entity", ["registered_models", "model_versions", "logged_models"])
def test_a_store_answering_as_mlflow_conforms(entity: str, profile: str) -> None:
    check_backend(_store_search(entity, profile), profile=profile, entity=entity, max_examples=60)


def _latest_points_only(model: LoggedModel) -> LoggedModel:
    latest = {}
    for point in sorted(model.metrics, key=lambda p: (p.timestamp, p.step)):
        latest[point.key] = point
    return replace(model, metrics=list(latest.values()))


def test_a_backend_comparing_the_latest_point_is_caught() -> None:
    """A typical bug: a metric clause compares each model's latest point, where MLflow's store matches
    any point."""
    right = _store_search("logged_models", "mlflow")

    def latest_only(rows: list[LoggedModel], filter_string: str, order_by: list[str]) -> list[str]:
        return right([_latest_points_only(m) for m in rows], filter_string, order_by)

    with pytest.raises(ConformanceError, match="logged_models"):
        check_backend(latest_only, entity="logged_models", max_examples=300, shrink=False)


def test_a_registry_showing_prompts_is_caught() -> None:
    """A typical bug: prompts are searched as any registered model."""
    right = _store_search("registered_models", "mlflow")

    def with_prompts(rows: list[Any], filter_string: str, order_by: list[str]) -> list[str]:
        shown = [
            replace(m, tags={k: v for k, v in m.tags.items() if k != "mlflow.prompt.is_prompt"}) for m in rows
        ]
        return right(shown, filter_string, order_by)

    with pytest.raises(ConformanceError, match="registered_models"):
        check_backend(with_prompts, entity="registered_models", max_examples=300, shrink=False)
