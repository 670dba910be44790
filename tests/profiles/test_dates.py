"""Dates on time attributes in the extended profile, lowered to milliseconds at validation."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.mlflow_stores import log_with_mlflow

import runql
from runql.errors import UnsupportedQueryError
from runql.profiles import dates
from runql.profiles.compiled import compile_quietly

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
    st.sampled_from(["T", " "]),
)
def test_a_datetime_with_a_zone_is_the_instant_it_names(
    moment: datetime, minutes: int, separator: str
) -> None:
    zone = timezone(timedelta(minutes=minutes))
    aware = moment.replace(tzinfo=zone, microsecond=moment.microsecond // 1000 * 1000)
    text = aware.isoformat(sep=separator, timespec="milliseconds")  # 2026-11-01T08:30:00.250+02:00
    assert dates.to_milliseconds(text) == _ms(aware)
    compact = text[:-3] + text[-2:]  # the zone without its colon: +0200
    assert dates.to_milliseconds(compact) == _ms(aware)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)))
def test_without_a_zone_the_time_is_utc(moment: datetime) -> None:
    utc = moment.replace(tzinfo=timezone.utc)
    assert dates.to_milliseconds(moment.strftime("%Y-%m-%dT%H:%M:%S")) == _ms(utc.replace(microsecond=0))
    assert dates.to_milliseconds(moment.strftime("%Y-%m-%d")) == _ms(
        datetime(moment.year, moment.month, moment.day, tzinfo=timezone.utc)
    )
    assert dates.to_milliseconds(moment.strftime("%Y-%m-%dT%H:%MZ")) == _ms(
        utc.replace(second=0, microsecond=0)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01", 1_793_491_200_000),
        ("2026-11-01T00:00:00Z", 1_793_491_200_000),
        ("2026-11-01T02:00+02:00", 1_793_491_200_000),
        ("2026-10-31 19:00:00-0500", 1_793_491_200_000),
        ("2026-11-01T00:00:00.0019", 1_793_491_200_001),  # below a millisecond: dropped
        ("1969-12-31T23:59:59.999Z", -1),
    ],
)
def test_forms(text: str, expected: int) -> None:
    assert dates.to_milliseconds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30",
        "2026-13-01",
        "2026-11-01T25:00",
        "2026-11-01T10:00+24:00",
        "2026-11-01T10:00+01:75",
        "2026-11-1",
        "26-11-01",
        "2026-11-01T10",
        "now-7",
        "now - 7d",
        "now-7y",
        "yesterday",
    ],
)
def test_texts_that_are_not_dates(text: str) -> None:
    assert dates.to_milliseconds(text) is None


def test_relative_dates_count_from_now() -> None:
    now = 1_800_000_000_000
    assert dates.to_milliseconds("now", now) == now
    assert dates.to_milliseconds("now-7d", now) == now - 7 * 86_400_000
    assert dates.to_milliseconds("now-12h", now) == now - 12 * 3_600_000
    assert dates.to_milliseconds("now+30m", now) == now + 30 * 60_000
    assert dates.to_milliseconds("now-2w", now) == now - 14 * 86_400_000
    assert dates.to_milliseconds("now-5s", now) == now - 5_000


def test_validation_lowers_dates_to_milliseconds() -> None:
    query = runql.validate(
        "attributes.start_time >= '2026-11-01' AND end_time < '2026-11-02T00:00:00Z' AND "
        "created IN ('2026-11-01', '5')",
        "extended",
    )
    assert runql.unparse(query.filter) == (
        "attributes.start_time >= 1793491200000 AND attributes.end_time < 1793577600000 AND "
        "attributes.start_time IN (1793491200000, 5)"
    )
    experiments = runql.validate("attributes.creation_time > '2026-11-01'", "extended", entity="experiments")
    assert runql.unparse(experiments.filter) == "attributes.creation_time > 1793491200000"


def test_a_relative_date_is_read_at_each_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_800_000_000_000]
    monkeypatch.setattr(dates.time, "time_ns", lambda: clock[0] * 1_000_000)
    text = "attributes.start_time >= 'now-7d'"
    first = compile_quietly(text, profile="extended").query.filter
    clock[0] += 86_400_000
    second = compile_quietly(text, profile="extended").query.filter
    assert runql.unparse(first) == f"attributes.start_time >= {1_800_000_000_000 - 7 * 86_400_000}"
    assert runql.unparse(second) == f"attributes.start_time >= {1_800_000_000_000 - 6 * 86_400_000}"


@pytest.mark.parametrize("profile", ["mlflow", "azureml"])
@pytest.mark.parametrize("text", ["'2026-11-01'", "'2026-11-01T08:30:00Z'", "'now-7d'"])
def test_mlflow_and_azureml_refuse_dates_with_a_caret(profile: str, text: str) -> None:
    filter_string = f"attributes.start_time >= {text}"
    with pytest.raises(UnsupportedQueryError) as caught:
        runql.validate(filter_string, profile)
    (problem,) = caught.value.diagnostics
    assert problem.code == "bad-value-type"
    assert "milliseconds" in problem.message and "extended profile" in problem.hint
    assert problem.span is not None and filter_string[problem.span.start : problem.span.end] == text
    if text == "'2026-11-01'":
        assert "1793491200000" in problem.hint


@pytest.mark.parametrize("text", ["'2026-02-30'", "'2026-11-01T25:00'", "'now-7y'"])
def test_the_extended_profile_refuses_a_date_it_cannot_read(text: str) -> None:
    with pytest.raises(UnsupportedQueryError) as caught:
        runql.validate(f"attributes.start_time >= {text}", "extended")
    assert [d.code for d in caught.value.diagnostics] == ["bad-value-type"]


def test_durations_take_no_dates() -> None:
    with pytest.raises(UnsupportedQueryError):
        runql.validate("attributes.duration > '2026-11-01'", "extended")


# -- every engine ----------------------------------------------------------------------------------

DAY = 86_400_000
NOV_1 = 1_793_491_200_000
STARTS = [NOV_1 - DAY, NOV_1 - 1, NOV_1, NOV_1 + 1, NOV_1 + 3_600_000, NOV_1 + DAY]


def _records() -> list[dict[str, Any]]:
    return [
        {
            "run_id": f"{i:032x}",
            "experiment_id": "w",
            "start_time": start,
            "user_id": "u",
            "run_name": f"r{i}",
        }
        for i, start in enumerate(STARTS)
    ]


CASES = [
    ("attributes.start_time >= '2026-11-01'", lambda s: s >= NOV_1),
    ("attributes.start_time < '2026-11-01T01:00:00+01:00'", lambda s: s < NOV_1),
    ("start_time > '2026-11-01 00:30'", lambda s: s > NOV_1 + 1_800_000),
    ("start_time >= 'now-30000d'", lambda s: True),
    ("start_time >= 'now+1d'", lambda s: False),
]


@pytest.mark.parametrize(("text", "test"), CASES)
def test_every_engine_answers_dates(
    text: str, test: Callable[[int], bool], new_sqlite_database: Callable[..., str]
) -> None:
    records = _records()
    expected = sorted(r["run_id"] for r in records if test(r["start_time"]))
    workspace = runql.Workspace.from_records(runs=records)
    found = workspace.search_runs(["w"], text, output_format="list", profile="extended")
    assert sorted(r.info.run_id for r in found) == expected
    rows, _ = compile_quietly(text, profile="extended").search(workspace.runs)
    assert sorted(r.info.run_id for r in rows) == expected
    url = new_sqlite_database(mlflow_schema=True)
    written = log_with_mlflow(url, records, [{"experiment_id": "w", "name": "dates"}])
    store = runql.connect(url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found, _ = store.search_runs_paged(
                [written.experiments["w"]], text, max_results=None, profile="extended"
            )
    finally:
        store.close()
    assert sorted(written_id_to_record(written, r.info.run_id) for r in found) == expected


def written_id_to_record(written: Any, run_id: str) -> str:
    return {mine: theirs for theirs, mine in written.runs.items()}.get(run_id, run_id)
