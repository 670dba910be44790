"""A workspace shared by threads: searches see one state between two writes, nothing is lost, a write
that raises changes nothing, and the column store agrees with the reference evaluator afterwards.

Timing plays no part in what is checked: the threads start together at a barrier, the interpreter
switches threads as often as it can, and every snapshot a reader takes, whenever it takes it, must
be one of the states the writer passes through.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import runql
from runql import Workspace

T0 = 1_700_000_000_000
CREATED = 150  # runs the writer creates
READERS = 4
# Each run the writer makes goes through these states, one write each: created (RUNNING), metric m
# logged, tag i set, terminated (FINISHED).
STAGES = ("created", "metric", "tag", "finished")


@pytest.fixture
def switching_often() -> Iterator[None]:
    """Threads switch every microsecond, so that the calls of the threads interleave finely."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def stage_of(row: dict[str, Any]) -> int:
    """Which of STAGES a run shown in a search frame is at; -1 when no state of the writer shows it so."""
    has_metric = not math.isnan(row.get("metrics.m", math.nan))
    has_tag = isinstance(row.get("tags.i"), str)
    finished = row["status"] == "FINISHED"
    for stage, expected in enumerate([(False, False, False), (True, False, False), (True, True, False)]):
        if (has_metric, has_tag, finished) == expected:
            return stage
    return 3 if (has_metric, has_tag, finished) == (True, True, True) else -1


def check_snapshot(frame: Any) -> None:
    """The runs of one search: the writer's runs 0..k, every one but the last finished, each with its
    own values."""
    if frame.empty:
        return
    rows = sorted(frame.to_dict("records"), key=lambda row: row["start_time"])
    numbers = [int(row["tags.run"]) for row in rows]
    assert numbers == list(range(len(rows))), f"runs missing from a snapshot: {numbers}"
    for number, row in zip(numbers, rows, strict=True):
        stage = stage_of(row)
        assert stage >= 0, f"run {number} in no state the writer made: {row}"
        if number < len(rows) - 1:
            assert STAGES[stage] == "finished", f"run {number} not finished while a later one exists"
        if stage >= 1:
            assert row["metrics.m"] == float(number)
        if stage >= 2:
            assert row["tags.i"] == str(number)


def refused(write: Callable[[], Any]) -> None:
    with pytest.raises(ValueError):
        write()


def test_threads_searching_while_one_writes_lose_nothing(switching_often: None) -> None:
    ws = Workspace.from_records(experiments=[{"experiment_id": "1", "name": "shared"}])
    barrier = threading.Barrier(READERS + 1)
    done = threading.Event()
    errors: list[BaseException] = []
    snapshots: list[int] = [0] * READERS

    def writer() -> None:
        barrier.wait()
        try:
            for number in range(CREATED):
                run = ws.create_run("1", start_time=T0 + number, tags={"run": str(number)})
                run_id = run.info.run_id
                ws.log_metric(run_id, "m", float(number), timestamp=T0, step=0)
                # Writes that raise, between the good ones: each must leave the run as it was.
                refused(lambda: ws.log_metric(run_id, "m", "not a number"))  # noqa: B023
                refused(lambda: ws.set_terminated(run_id, end_time="later"))  # type: ignore[arg-type]  # noqa: B023
                refused(lambda: ws.set_tag(run_id, 5, "x"))  # type: ignore[arg-type]  # noqa: B023
                refused(lambda: ws.log_metric(run_id, "m", 1.0, step=2**64))  # noqa: B023
                ws.set_tag(run_id, "i", str(number))
                ws.set_terminated(run_id, end_time=T0 + 10_000)
        except BaseException as error:  # a failure in a thread must fail the test
            errors.append(error)
        finally:
            done.set()

    def reader(index: int) -> None:
        barrier.wait()
        try:
            while True:
                finished = done.is_set()
                check_snapshot(ws.search_runs(experiment_ids=["1"]))
                listed = ws.search_runs(["1"], "metrics.m >= 0", output_format="list", max_results=None)
                assert all("m" in r.data.metrics for r in listed)
                page, _ = ws.search_runs_paged(["1"], "tags.i LIKE '%'", order_by=["metrics.m DESC"])
                assert [r.data.metrics["m"] for r in page] == sorted(
                    (r.data.metrics["m"] for r in page), reverse=True
                )
                ws.search_experiments()
                snapshots[index] += 1
                if finished:
                    return
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert all(count > 0 for count in snapshots)

    # Nothing lost: every search sees every run, whole, and the two engines agree.
    frame = ws.search_runs(experiment_ids=["1"])
    assert len(frame) == CREATED
    check_snapshot(frame)
    runs = ws.runs
    assert len(runs) == CREATED and all(r.info.status == "FINISHED" for r in runs)
    for filter_string, order_by in [
        ("", None),
        ("metrics.m >= 100", ["metrics.m ASC"]),
        ("tags.i LIKE '1%'", ["tags.i DESC"]),
        ("attributes.status = 'FINISHED' AND metrics.m < 7", None),
    ]:
        columnar = ws.search_runs(
            ["1"], filter_string, order_by=order_by, output_format="list", max_results=None
        )
        reference, _ = runql.search(runs, filter_string, order_by=order_by)
        assert [r.info.run_id for r in columnar] == [r.info.run_id for r in reference], filter_string


def test_threads_creating_runs_and_experiments_together_lose_nothing(switching_often: None) -> None:
    ws = Workspace.from_records(experiments=[{"experiment_id": "1", "name": "shared"}])
    ws.search_runs(["1"])  # the column store exists before the writers start, and must follow them
    barrier = threading.Barrier(READERS)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        barrier.wait()
        try:
            for number in range(40):
                run = ws.create_run("1", tags={"writer": str(index)})
                ws.log_metric(run.info.run_id, "n", float(number))
                ws.search_runs(["1"], f"tags.writer = '{index}'", output_format="list", max_results=None)
            ws.create_experiment(f"from writer {index}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for index in range(READERS):
        found = ws.search_runs(["1"], f"tags.writer = '{index}'", output_format="list", max_results=None)
        assert sorted(r.data.metrics["n"] for r in found) == [float(n) for n in range(40)]
    assert len(ws.search_runs(["1"])) == 40 * READERS
    assert sorted(e.name for e in ws.search_experiments())[:READERS] == [
        f"from writer {i}" for i in range(READERS)
    ]
    assert len({e.experiment_id for e in ws.experiments}) == READERS + 1


@pytest.mark.parametrize(
    "write",
    [
        lambda ws, run_id: ws.log_metric(run_id, "m", "abc"),
        lambda ws, run_id: ws.log_metric(run_id, "m", 1.0, timestamp="soon"),
        lambda ws, run_id: ws.log_metric(run_id, ["m"], 1.0),
        lambda ws, run_id: ws.log_param(run_id, "p", "other"),
        lambda ws, run_id: ws.log_param(run_id, None, "x"),
        lambda ws, run_id: ws.set_tag(run_id, 1, "x"),
        lambda ws, run_id: ws.set_terminated(run_id, "DONE"),
        lambda ws, run_id: ws.set_terminated(run_id, "FINISHED", end_time=2**60),
        lambda ws, run_id: ws.set_terminated(run_id, "FAILED", end_time="x"),
        lambda ws, run_id: ws.create_run("1", start_time=1e300),
        lambda ws, run_id: ws.create_run("1", run_name=["x"]),
        lambda ws, run_id: ws.create_run("1", tags={None: "x"}),
        lambda ws, run_id: ws.rename_experiment("1", ""),
        lambda ws, run_id: ws.rename_experiment("1", 5),
        lambda ws, run_id: ws.create_experiment("x", tags={"t": {"a": 1}}),
        lambda ws, run_id: ws.create_experiment("y", artifact_location=["z"]),
    ],
)
def test_a_write_that_raises_changes_nothing(write: Callable[[Workspace, str], Any]) -> None:
    ws = Workspace.from_records(
        experiments=[{"experiment_id": "1", "name": "one"}],
        runs=[
            {
                "run_id": "a",
                "experiment_id": "1",
                "start_time": T0,
                "metrics": {"m": 1.0},
                "params": {"p": "1"},
            }
        ],
    )
    before_frame = ws.search_runs(["1"])  # the column store is built: it must stay in step too
    before = (repr(ws.runs), repr(ws.experiments))
    with pytest.raises((ValueError, TypeError)):
        write(ws, "a")
    assert (repr(ws.runs), repr(ws.experiments)) == before
    assert ws.search_runs(["1"]).equals(before_frame)
    fresh = Workspace.from_records(ws.experiments, ws.runs)
    assert fresh.search_runs(["1"]).equals(before_frame)
