"""View types by MLflow's names and the command's, in any case; anything else is an ArgumentError with
the code ``bad-view-type`` that lists the names accepted, never a plain ValueError."""

from __future__ import annotations

from typing import Any

import pytest

from runql import ArgumentError, Workspace
from runql.errors import ERROR_CODES
from runql.model.entities import LifecycleStage, ViewType


@pytest.mark.parametrize(
    ("given", "view"),
    [
        ("active_only", ViewType.ACTIVE_ONLY),
        ("ACTIVE_ONLY", ViewType.ACTIVE_ONLY),
        ("active", ViewType.ACTIVE_ONLY),
        ("Active", ViewType.ACTIVE_ONLY),
        ("deleted_only", ViewType.DELETED_ONLY),
        ("deleted", ViewType.DELETED_ONLY),
        ("DELETED", ViewType.DELETED_ONLY),
        ("all", ViewType.ALL),
        (" ALL ", ViewType.ALL),
        (1, ViewType.ACTIVE_ONLY),
        (2, ViewType.DELETED_ONLY),
        (3, ViewType.ALL),
        (ViewType.ALL, ViewType.ALL),
    ],
)
def test_a_view_is_named_as_mlflow_or_the_command_names_it(given: int | str, view: ViewType) -> None:
    assert ViewType.coerce(given) is view


@pytest.mark.parametrize("given", ["bogus", "", "active only", 0, 4, True, None, 1.0, ["all"]])
def test_anything_else_is_an_argument_error_listing_the_names(given: Any) -> None:
    with pytest.raises(ArgumentError) as caught:
        ViewType.coerce(given)
    error = caught.value
    assert error.code == "bad-view-type" and error.code in ERROR_CODES
    assert error.where == "run_view_type"
    for name in ("'active_only'", "'active'", "'deleted_only'", "'deleted'", "'all'", "ACTIVE_ONLY (1)"):
        assert name in error.message


def test_a_huge_name_is_cut_in_the_message() -> None:
    with pytest.raises(ArgumentError) as caught:
        ViewType.coerce("x" * 1_000_000 + "\n")
    assert len(str(caught.value)) < 500


def test_a_search_refuses_a_bogus_view_and_reads_the_commands_names() -> None:
    ws = Workspace.sample()
    with pytest.raises(ArgumentError) as caught:
        ws.search_runs(search_all_experiments=True, run_view_type="bogus")
    assert caught.value.code == "bad-view-type"
    deleted = ws.search_runs(search_all_experiments=True, run_view_type="deleted", output_format="list")
    assert deleted and {run.info.lifecycle_stage for run in deleted} == {LifecycleStage.DELETED}
    with pytest.raises(ArgumentError):
        ws.search_experiments(view_type="bogus")
