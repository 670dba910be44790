"""runql against MLflow itself.

1. For generated runs (NaN and infinite metrics, histories with ties, missing keys, ``%`` and ``_`` in
   values, runs without an end) and generated queries of the mlflow profile, ``search_runs`` returns
   the ids, in order, that MLflow's in-memory search (``SearchUtils.filter``, ``sort``,
   ``paginate``) returns over the same data as ``mlflow.entities.Run``; pages and tokens agree too.
2. The DataFrame equals the one ``mlflow.search_runs`` returns from a real MLflow store (SQLite in a
   temporary folder) holding the same runs: the same columns within each group, values and dtypes.
"""

from __future__ import annotations

import base64
import json
import math
import warnings
from pathlib import Path
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow")

import pandas as pd  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from mlflow.utils.search_utils import SearchUtils  # noqa: E402
from support.mlflow_records import mlflow_run  # noqa: E402
from support.mlflow_stores import tracking_uri  # noqa: E402

from runql import Workspace  # noqa: E402

T0 = 1_700_000_000_000

# -- generated runs ---------------------------------------------------------------------------

VALUES = st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, 1.0, 2.5, 1e308])
# Values that trip LIKE, ILIKE and string ordering: newlines, wildcards as data, case, accents.
TRICKY = ["a\nb", "a%b", "a_b", "ab", "AB", "abc\n", "\nab", "ü", "Ü", "", " a", "10", "2", "b"]
TEXT = st.one_of(
    st.sampled_from(TRICKY), st.text(alphabet=["a", "A", "b", "%", "_", "\n", " ", "ü", "1", "0"], max_size=4)
)
POINT = st.fixed_dictionaries(
    {"value": VALUES, "step": st.integers(0, 2), "timestamp": st.integers(T0, T0 + 2)}
)


@st.composite
def run_records(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(0, 8))  # several runs at once make orderings and ties likely
    run_ids = draw(
        st.lists(
            st.sampled_from([f"run{i:02d}" for i in range(12)]), min_size=count, max_size=count, unique=True
        )
    )
    records = []
    for run_id in run_ids:
        start = T0 + draw(st.integers(0, 3)) * 1000
        end = draw(st.one_of(st.none(), st.integers(0, 5000).map(lambda d, s=start: s + d)))
        metrics = draw(st.dictionaries(st.sampled_from(["m", "n"]), st.lists(POINT, min_size=1, max_size=3)))
        inputs = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "dataset": st.fixed_dictionaries(
                            {
                                "name": st.sampled_from(["train", "eval"]),
                                "digest": st.sampled_from(["d1", "d2"]),
                            }
                        ),
                        "tags": st.one_of(
                            st.just({}),
                            st.sampled_from(["training", "evaluation"]).map(
                                lambda c: {"mlflow.data.context": c}
                            ),
                        ),
                    }
                ),
                max_size=2,
            )
        )
        records.append(
            {
                "run_id": run_id,
                "experiment_id": "0",
                "run_name": draw(st.one_of(st.none(), TEXT)),
                "user_id": draw(st.sampled_from(["ann", "bob", "Ann"])),
                "status": draw(st.sampled_from(["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"])),
                "start_time": start,
                "end_time": end,
                "metrics": {k: [{**p, "value": p["value"]} for p in v] for k, v in metrics.items()},
                "params": draw(st.dictionaries(st.sampled_from(["p", "q"]), TEXT)),
                "tags": draw(st.dictionaries(st.sampled_from(["t", "mlflow.note"]), TEXT)),
                "inputs": inputs,
            }
        )
    return records


# -- generated queries (mlflow profile) ---------------------------------------------------------

PATTERN = st.one_of(
    st.sampled_from(["a%b", "a_b", "%b", "a%", "%", "_", "A%", "Ü", "ab", "%a%", "__", "abc"]),
    st.text(alphabet=["a", "A", "b", "%", "_", " ", "ü", "1"], max_size=4),
)
NUMBER = st.sampled_from(["0", "0.5", "-1", "1", "2.5", "1e308", "-1e308", "1.7976931348623157e308"])
STRING_OPS = st.sampled_from(["=", "!=", "LIKE", "ILIKE"])


def _quoted(text: str) -> str:
    return f"'{text}'"


CLAUSES = st.one_of(
    st.tuples(
        st.sampled_from(["metrics.m", "metrics.n"]),
        st.sampled_from([">", ">=", "<", "<=", "=", "!="]),
        NUMBER,
    ).map(" ".join),
    st.tuples(
        st.sampled_from(["params.p", "params.q", "tags.t", "tags.mlflow.note"]),
        STRING_OPS,
        PATTERN.map(_quoted),
    ).map(" ".join),
    st.tuples(st.sampled_from(["params.p", "tags.t"]), st.sampled_from(["IS NULL", "IS NOT NULL"])).map(
        " ".join
    ),
    st.tuples(
        st.sampled_from(["attributes.status", "attributes.run_name", "attributes.user_id", "run_id"]),
        STRING_OPS,
        st.one_of(st.sampled_from(["FINISHED", "RUNNING", "ann", "Ann", "run01"]), PATTERN).map(_quoted),
    ).map(" ".join),
    st.tuples(
        st.sampled_from(["attributes.start_time", "attributes.end_time", "created"]),
        st.sampled_from([">", ">=", "<", "<=", "=", "!="]),
        st.integers(0, 5).map(lambda k: str(T0 + k * 1000)),
    ).map(" ".join),
    st.lists(st.sampled_from([f"run{i:02d}" for i in range(12)]), min_size=1, max_size=3).map(
        lambda xs: f"attributes.run_id {'IN'} ({', '.join(map(_quoted, xs))})"
    ),
    st.tuples(
        st.sampled_from(["datasets.name", "datasets.digest", "datasets.context"]),
        STRING_OPS,
        PATTERN.map(_quoted),
    ).map(" ".join),
    st.tuples(
        st.sampled_from(["datasets.name", "datasets.context"]),
        st.sampled_from(["IN", "NOT IN"]),
        st.sampled_from(["('train')", "('eval', 'd1')", "('training')"]),
    ).map(" ".join),
)
ORDER_KEYS = st.sampled_from(
    [
        "metrics.m",
        "metrics.n DESC",
        "metrics.m DESC",
        "params.p",
        "params.q DESC",
        "tags.t DESC",
        "attributes.start_time",
        "attributes.end_time DESC",
        "attributes.status",
        "attributes.run_name DESC",
        "attributes.user_id",
        "attributes.run_id DESC",
    ]
)
QUERIES = st.tuples(
    st.lists(CLAUSES, max_size=3).map(" AND ".join),
    st.lists(ORDER_KEYS, max_size=3),
    st.integers(1, 10),
)


def _runql(
    records: list[dict[str, Any]], filter_string: str, order_by: list[str], max_results: int
) -> list[str]:
    ws = Workspace.from_records(runs=records)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = ws.search_runs(
            experiment_ids=["0"],
            filter_string=filter_string,
            order_by=order_by,
            max_results=max_results,
            output_format="list",
        )
    return [r.info.run_id for r in runs]


def _mlflow(
    records: list[dict[str, Any]], filter_string: str, order_by: list[str], max_results: int
) -> list[str]:
    runs = [mlflow_run(r) for r in records]
    found = SearchUtils.sort(SearchUtils.filter(runs, filter_string), order_by)
    page, _ = SearchUtils.paginate(found, None, max_results)
    return [r.info.run_id for r in page]


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(records=run_records(), query=QUERIES)
def test_same_runs_in_the_same_order(
    records: list[dict[str, Any]], query: tuple[str, list[str], int]
) -> None:
    filter_string, order_by, max_results = query
    assert _runql(records, filter_string, order_by, max_results) == _mlflow(
        records, filter_string, order_by, max_results
    )


@settings(max_examples=40)
@given(records=run_records(), order_by=st.lists(ORDER_KEYS, min_size=1, max_size=3))
def test_same_order(records: list[dict[str, Any]], order_by: list[str]) -> None:
    assert _runql(records, "", order_by, 100) == _mlflow(records, "", order_by, 100)


STRING_CLAUSES = st.tuples(
    st.sampled_from(["params.p", "tags.t", "attributes.run_name"]),
    st.sampled_from(["LIKE", "ILIKE", "=", "!="]),
    PATTERN.map(_quoted),
).map(" ".join)


@settings(max_examples=40)
@given(records=run_records(), clause=STRING_CLAUSES)
def test_same_string_matches(records: list[dict[str, Any]], clause: str) -> None:
    assert _runql(records, clause, [], 100) == _mlflow(records, clause, [], 100)


@settings(max_examples=25)
@given(records=run_records(), order_by=st.lists(ORDER_KEYS, max_size=2), size=st.integers(1, 4))
def test_same_pages_and_tokens(records: list[dict[str, Any]], order_by: list[str], size: int) -> None:
    ws = Workspace.from_records(runs=records)
    expected = SearchUtils.sort([mlflow_run(r) for r in records], order_by)
    token: Any = None
    mine: Any = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while True:
            page, token = SearchUtils.paginate(expected, token, size)
            got, mine = ws.search_runs_paged(["0"], max_results=size, order_by=order_by, page_token=mine)
            assert [r.info.run_id for r in got] == [r.info.run_id for r in page]
            assert (mine is None) == (token is None)
            if token is None:
                break
            assert base64.b64decode(mine) == base64.b64decode(token)
            assert json.loads(base64.b64decode(mine))["offset"] > 0


# -- the DataFrame from a real store --------------------------------------------------------------

STORE_RUNS: list[dict[str, Any]] = [
    {
        "name": "alpha",
        "start": T0 + 3000,
        "end": T0 + 9000,
        "status": "FINISHED",
        "metrics": {"auc": [(0.7, 0, T0 + 1), (0.8, 1, T0 + 2), (0.75, 1, T0 + 1)], "loss": [(0.3, 0, T0)]},
        "params": {"lr": "0.1", "model": "xgboost"},
        "tags": {"framework": "xgboost", "note": "50% subsample"},
    },
    {
        "name": "beta",
        "start": T0 + 1000,
        "end": None,
        "status": "RUNNING",
        "metrics": {"auc": [(0.9, 0, T0), (0.6, 0, T0)], "accuracy": [(math.nan, 0, T0)]},
        "params": {"lr": "0.01"},
        "tags": {"framework": "torch"},
    },
    {
        "name": "gamma",
        "start": T0 + 2000,
        "end": T0 + 2500,
        "status": "FAILED",
        "metrics": {},
        "params": {"depth": "6", "model": "lgbm"},
        "tags": {},
    },
    {
        "name": "delta",
        "start": T0 + 2000,
        "end": T0 + 4000,
        "status": "KILLED",
        "metrics": {"loss": [(-1.5, 3, T0), (2.0, 2, T0 + 9)]},
        "params": {},
        "tags": {"note": "line1\nline2", "framework": "sklearn"},
    },
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("mlflow-store")
    with tracking_uri(f"sqlite:///{folder / 'mlflow.db'}"):
        client = mlflow.MlflowClient()
        experiment_id = client.create_experiment(
            "agreement", artifact_location=(folder / "artifacts").as_uri()
        )
        records = []
        for spec in STORE_RUNS:
            run = client.create_run(
                experiment_id, start_time=spec["start"], tags=spec["tags"], run_name=spec["name"]
            )
            run_id = run.info.run_id
            for key, points in spec["metrics"].items():
                for value, step, timestamp in points:
                    client.log_metric(run_id, key, value, timestamp=timestamp, step=step)
            for key, value in spec["params"].items():
                client.log_param(run_id, key, value)
            if spec["end"] is not None:
                client.set_terminated(run_id, spec["status"], end_time=spec["end"])
            elif spec["status"] != "RUNNING":
                client.update_run(run_id, status=spec["status"])
            records.append(
                {
                    "run_id": run_id,
                    "experiment_id": experiment_id,
                    "run_name": spec["name"],
                    "user_id": run.info.user_id,
                    "status": spec["status"],
                    "start_time": spec["start"],
                    "end_time": spec["end"],
                    "artifact_uri": run.info.artifact_uri,
                    "metrics": {
                        k: [{"value": v, "step": s, "timestamp": t} for v, s, t in points]
                        for k, points in spec["metrics"].items()
                    },
                    "params": spec["params"],
                    "tags": {**spec["tags"], "mlflow.runName": spec["name"]},
                }
            )
        ws = Workspace.from_records(
            experiments=[{"experiment_id": experiment_id, "name": "agreement"}], runs=records
        )
        yield experiment_id, ws


def _same_frames(mine: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert list(mine.columns[:6]) == list(theirs.columns[:6])
    for prefix in ("metrics.", "params.", "tags."):
        assert {c for c in mine.columns if c.startswith(prefix)} == {
            c for c in theirs.columns if c.startswith(prefix)
        }
        groups = [[c for c in frame.columns if c.startswith(prefix)] for frame in (mine, theirs)]
        # Groups are contiguous and follow each other in the same order in both frames.
        for frame, group in zip((mine, theirs), groups, strict=True):
            if group:
                positions = [list(frame.columns).index(c) for c in group]
                assert positions == list(range(positions[0], positions[0] + len(group)))
    pd.testing.assert_frame_equal(mine[list(theirs.columns)], theirs, check_exact=True)


@pytest.mark.parametrize(
    ("filter_string", "order_by", "max_results"),
    [
        ("", None, 100000),
        ("metrics.auc > 0.5", None, 100000),
        ("params.model LIKE '%g%'", ["attributes.start_time ASC"], 100000),
        ("", ["metrics.loss DESC"], 100000),
        ("", ["metrics.auc"], 2),
        ("attributes.status != 'RUNNING'", ["params.lr DESC"], 100000),
        ("tags.framework = 'none'", None, 100000),
    ],
)
def test_dataframe_matches_mlflow_store(
    store: Any, filter_string: str, order_by: list[str] | None, max_results: int
) -> None:
    experiment_id, ws = store
    theirs = mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string=filter_string,
        order_by=order_by,
        max_results=max_results,
    )
    mine = ws.search_runs(
        experiment_ids=[experiment_id],
        filter_string=filter_string,
        order_by=order_by,
        max_results=max_results,
    )
    _same_frames(mine, theirs)


def test_list_output_matches_mlflow_store(store: Any) -> None:
    experiment_id, ws = store
    theirs = mlflow.search_runs(experiment_ids=[experiment_id], output_format="list")
    mine = ws.search_runs(experiment_ids=[experiment_id], output_format="list")
    assert [r.info.run_id for r in mine] == [r.info.run_id for r in theirs]
    for a, b in zip(mine, theirs, strict=True):
        assert a.data.params == b.data.params and a.data.tags == b.data.tags
        assert a.data.metrics.keys() == b.data.metrics.keys()
        for key, value in a.data.metrics.items():
            assert value == b.data.metrics[key] or (math.isnan(value) and math.isnan(b.data.metrics[key]))
        assert (a.info.status, a.info.start_time, a.info.end_time, a.info.run_name) == (
            b.info.status,
            b.info.start_time,
            b.info.end_time,
            b.info.run_name,
        )


def test_duck_typed_mlflow_runs_give_the_same_frame(store: Any) -> None:
    experiment_id, _ = store
    theirs = mlflow.search_runs(experiment_ids=[experiment_id], output_format="list")
    ws = Workspace.from_records(runs=theirs)
    mine = ws.search_runs(experiment_ids=[experiment_id])
    _same_frames(mine, mlflow.search_runs(experiment_ids=[experiment_id]))


def test_empty_frame_matches(store: Any, tmp_path: Path) -> None:
    experiment_id, ws = store
    theirs = mlflow.search_runs(experiment_ids=[experiment_id], filter_string="metrics.auc > 10")
    mine = ws.search_runs(experiment_ids=[experiment_id], filter_string="metrics.auc > 10")
    pd.testing.assert_frame_equal(mine, theirs)
