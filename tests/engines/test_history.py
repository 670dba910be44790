"""records.History: a metric's points kept as arrays, read as Metric objects, and the list of Metric a
history falls back to when a step or timestamp is beyond BIGINT."""

from __future__ import annotations

import math
from types import SimpleNamespace

import runql
from runql.model.entities import History, Metric, RunData, latest_metric
from runql.model.records import run_from_record

POINTS = [{"value": 1.0, "timestamp": 5, "step": 0}, {"value": math.nan, "timestamp": 6, "step": 1}]


def test_a_records_history_is_arrays_read_as_metrics() -> None:
    history = run_from_record({"run_id": "r", "metrics": {"m": POINTS}}).data.histories["m"]
    assert isinstance(history, History)
    assert len(history) == 2
    assert history[0] == Metric("m", 1.0, 5, 0)
    assert history[-1].step == 1 and math.isnan(history[-1].value)
    assert [p.timestamp for p in history[::-1]] == [6, 5]
    # Equal to the same points as objects, NaN to NaN; not to other points.
    assert history == [Metric("m", 1.0, 5, 0), Metric("m", math.nan, 6, 1)]
    assert history != [Metric("m", 1.0, 5, 0)]
    assert history != [Metric("m", 1.0, 5, 0), Metric("m", 2.0, 6, 1)]


def test_latest_is_mlflows_rule_over_the_arrays() -> None:
    points = [Metric("m", 3.0, 1, 2), Metric("m", 9.0, 1, 1), Metric("m", 1.0, 2, 2), Metric("m", 5.0, 2, 2)]
    history = History("m", [p.value for p in points], [p.timestamp for p in points], [p.step for p in points])
    assert history.latest() == latest_metric(list(points)) == Metric("m", 5.0, 2, 2)


def test_a_step_beyond_bigint_keeps_the_history_as_objects() -> None:
    huge = SimpleNamespace(value=2.0, timestamp=0, step=2**70)
    run = run_from_record({"run_id": "r", "metrics": {"m": [huge]}})
    assert run.data.histories["m"] == [Metric("m", 2.0, 0, 2**70)]
    assert not isinstance(run.data.histories["m"], History)
    found = runql.search([run], "max(metrics.m) = 2", profile="extended")[0]
    assert [r.info.run_id for r in found] == ["r"]


def test_logging_a_point_beyond_bigint_onto_arrays_keeps_every_point() -> None:
    data = run_from_record({"run_id": "r", "metrics": {"m": POINTS}}).data
    assert isinstance(data, RunData) and isinstance(data.histories["m"], History)
    data.log(Metric("m", 7.0, 9, 2**64))
    assert not isinstance(data.histories["m"], History)
    assert [p.step for p in data.history("m")] == [0, 1, 2**64]
    assert data.metrics["m"] == 7.0
