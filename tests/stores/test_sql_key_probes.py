"""The SQL store's absent-key warnings: index seeks on the keys a query names, never whole tables.

A search whose page lacks a key it names asks the database whether some searched run has the key; that
is one probe per key, and every key of a kind is listed only when one of that kind is absent (for the
close keys the warning names). The warnings equal those computed from every searched run, on SQLite and
on PostgreSQL. Statements are counted with SQLAlchemy's ``before_cursor_execute`` event.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from support.mlflow_stores import log_with_mlflow

import runql
from runql.errors import Diagnostic, QueryWarning
from runql.model.entities import LifecycleStage, ViewType
from runql.model.keys import KeySets, absent_keys
from runql.stores.sql import SqlStore

T0 = 1_700_000_000_000
PARENT = "mlflow.parentRunId"


def _records() -> list[dict[str, Any]]:
    """Runs of two experiments: in ``a`` one run has the parent tag and one deleted run the param
    ``gone``; ``b`` alone has the metric ``only_b`` and the param ``feature set``."""
    records = []
    for index in range(12):
        experiment = "a" if index < 8 else "b"
        record: dict[str, Any] = {
            "run_id": f"r{index}",
            "run_name": f"r{index}",
            "experiment_id": experiment,
            "user_id": "ann",
            "status": "FINISHED",
            "start_time": T0 + 1000 * index,
            "end_time": T0 + 1000 * index + 500,
            "params": {"model": "xgb" if index % 2 else "rf", "lr": "0.1"},
            "tags": {"team": "x"},
            "metrics": {"accuracy": 0.5 + 0.01 * index, "loss": 0.4},
        }
        if index == 3:
            record["tags"][PARENT] = "r1"
        if index == 5:
            record["params"]["gone"] = "yes"
            record["lifecycle_stage"] = LifecycleStage.DELETED
        if experiment == "b":
            record["metrics"]["only_b"] = 1.0
            record["params"]["feature set"] = "text"
        records.append(record)
    return records


@dataclass
class Probed:
    url: str
    store: SqlStore
    reference: runql.Workspace
    experiments: dict[str, str]  # record's experiment id to the database's
    statements: list[str]


@pytest.fixture(scope="module", params=("sqlite", "postgresql"))
def probed(request: pytest.FixtureRequest) -> Iterator[Probed]:
    make = request.getfixturevalue(
        f"new_{'postgres' if request.param == 'postgresql' else 'sqlite'}_database"
    )
    url = make(mlflow_schema=True)
    written = log_with_mlflow(url, _records(), [{"experiment_id": e, "name": e} for e in ("a", "b")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = runql.from_mlflow_db(url)
    store = runql.connect(url)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    yield Probed(url, store, reference, written.experiments, statements)
    store.close()


def _reference(
    probed: Probed, experiments: Sequence[str], filter_string: str, order_by: list[str], view: ViewType
) -> list[Diagnostic]:
    """The warnings computed from every run searched, as a store that reads them all would give."""
    ids = {probed.experiments[e] for e in experiments}
    searched = [
        r
        for r in probed.reference.runs
        if r.info.experiment_id in ids and r.info.lifecycle_stage in view.stages
    ]
    query = runql.compile(filter_string, order_by).query
    return absent_keys(query, KeySets.of_runs(searched))


def _search(
    probed: Probed, experiments: Sequence[str], filter_string: str, order_by: list[str], view: ViewType
) -> list[Diagnostic]:
    ids = [probed.experiments[e] for e in experiments]
    probed.statements.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probed.store.search_runs_paged(ids, filter_string, view, order_by=order_by, max_results=2)
    return [
        w.message.diagnostic
        for w in caught
        if isinstance(w.message, QueryWarning) and w.message.diagnostic.code == "unknown-key"
    ]


CASES = [
    # The runs found lack the tag (IS NULL), a searched run has it: no warning, and no listing of keys.
    (["a"], f"tags.`{PARENT}` IS NULL AND params.model = 'xgb'", [], ViewType.ACTIVE_ONLY),
    (["a"], "metrics.acc > 0.5", [], ViewType.ACTIVE_ONLY),
    (["a"], "metrics.only_b > 0 AND params.`feature set` = 'text'", [], ViewType.ACTIVE_ONLY),
    (["a", "b"], "metrics.only_b > 5 AND params.`feature set` = 'none'", [], ViewType.ACTIVE_ONLY),
    (["a"], "params.gone = 'yes'", [], ViewType.ACTIVE_ONLY),
    (["a"], "params.gone = 'yes'", [], ViewType.ALL),
    (["a"], "", ["params.modle", "tags.Team"], ViewType.ACTIVE_ONLY),
]


@pytest.mark.parametrize(("experiments", "filter_string", "order_by", "view"), CASES)
def test_the_warnings_equal_those_of_every_searched_run(
    probed: Probed, experiments: list[str], filter_string: str, order_by: list[str], view: ViewType
) -> None:
    found = _search(probed, experiments, filter_string, order_by, view)
    assert found == _reference(probed, experiments, filter_string, order_by, view)
    # Never a scan of a whole key table.
    assert not [s for s in probed.statements if "DISTINCT" in s.upper()]
    # Every key of a kind is listed only for a kind with a key absent.
    listed = [s for s in probed.statements if "RECURSIVE" in s.upper()]
    assert len(listed) == len({d.message.split("has a ")[1].split(" ")[0] for d in found})


def test_a_named_key_present_reads_no_key_list(probed: Probed) -> None:
    found = _search(
        probed, ["a"], f"tags.`{PARENT}` IS NULL AND metrics.accuracy > 0", [], ViewType.ACTIVE_ONLY
    )
    assert found == []
    # The probes are labelled k0, k1...: one statement, a probe per key.
    probes = [s for s in probed.statements if " AS k0" in s]
    assert len(probes) == 1 and " AS k1" in probes[0] and " AS k2" not in probes[0]
    assert not [s for s in probed.statements if "RECURSIVE" in s.upper() or "DISTINCT" in s.upper()]


@pytest.mark.parametrize("view", [ViewType.ACTIVE_ONLY, ViewType.ALL, ViewType.DELETED_ONLY])
@pytest.mark.parametrize("experiments", [["a"], ["b"], ["a", "b"], []])
def test_key_sets_are_the_keys_of_the_searched_runs(
    probed: Probed, experiments: list[str], view: ViewType
) -> None:
    ids = {probed.experiments[e] for e in experiments}
    searched = [
        r
        for r in probed.reference.runs
        if r.info.experiment_id in ids and r.info.lifecycle_stage in view.stages
    ]
    assert probed.store.key_sets(sorted(ids), view.stages) == KeySets.of_runs(searched)


def test_a_schema_is_checked_once_per_database(probed: Probed) -> None:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        runql.connect(probed.url).close()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    assert statements == []


def test_a_key_only_another_experiment_or_a_deleted_run_has_is_warned_of(probed: Probed) -> None:
    found = _search(probed, ["a"], "metrics.acc > 0.5 AND metrics.only_b > 0", [], ViewType.ACTIVE_ONLY)
    assert [d.message for d in found] == [
        "no run in the searched experiments has a metric 'acc'; did you mean 'accuracy'?",
        "no run in the searched experiments has a metric 'only_b'",
    ]
    assert found[1].hint == "the runs' metrics are accuracy, loss"
    assert len(_search(probed, ["a"], "params.gone = 'yes'", [], ViewType.ACTIVE_ONLY)) == 1
    assert _search(probed, ["a"], "params.gone = 'yes'", [], ViewType.ALL) == []
