"""Profiles: the conformance cases of tests/conformance/profiles.json, the generated matrix, the data."""

from __future__ import annotations

import inspect
import json
import warnings
from dataclasses import FrozenInstanceError, fields, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runql
from runql import (
    And,
    Compare,
    Entity,
    In,
    IsNull,
    Key,
    Literal,
    Not,
    Op,
    Or,
    Severity,
    UnsupportedQueryError,
    check,
    get_profile,
    parse,
    unparse,
    validate,
)
from runql.language.ast import Expr
from runql.language.unparser import unparse_query
from runql.profiles.catalog import (
    ALL_PROFILE_NAMES,
    ENTITIES,
    PROFILE_NAMES,
    PROFILES,
    Profile,
    matrix_markdown,
)
from runql.profiles.matrix import DOCUMENT_ROWS

ROOT = Path(__file__).resolve().parents[2]
CORPUS = json.loads((ROOT / "tests" / "conformance" / "profiles.json").read_text(encoding="utf-8"))
MODEL_CORPUS = json.loads((ROOT / "tests" / "conformance" / "models.json").read_text(encoding="utf-8"))
QUERY_CASES = [c for c in CORPUS["cases"] if "capability" not in c] + MODEL_CORPUS["cases"]
CAPABILITY_CASES = [c for c in CORPUS["cases"] if "capability" in c]


def _params() -> list[Any]:
    return [
        pytest.param(case, profile, id=f"{case['name']}[{profile}]")
        for case in QUERY_CASES
        for profile in case["expect"]
    ]


@pytest.mark.parametrize(("case", "profile"), _params())
def test_case(case: dict[str, Any], profile: str) -> None:
    expect = case["expect"][profile]
    expect = {"accept": True} if expect == "accept" else expect
    filter_string = case.get("filter", "")
    order_by = case.get("order_by")
    diagnostics = check(filter_string, profile, case["entity"], order_by)
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    warned = [d.code for d in diagnostics if d.severity is Severity.WARNING]
    shown = "\n".join(str(d) for d in diagnostics)
    if "refuse" in expect:
        codes = expect["refuse"] if isinstance(expect["refuse"], list) else [expect["refuse"]]
        assert [d.code for d in errors] == codes, shown
        if "column" in expect:
            assert errors[0].span is not None and errors[0].span.column == expect["column"], shown
        if "where" in expect:
            assert errors[0].where == expect["where"], shown
        with pytest.raises(UnsupportedQueryError) as raised:
            validate(filter_string, profile, case["entity"], order_by)
        assert [d.code for d in raised.value.diagnostics if d.severity is Severity.ERROR] == codes
        return
    assert errors == [], shown
    assert warned == expect.get("warn", []), shown
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lowered = validate(filter_string, profile, case["entity"], order_by)
    if "evaluated_as" in expect:
        assert unparse(lowered.filter) == expect["evaluated_as"]


@pytest.mark.parametrize("case", CAPABILITY_CASES, ids=[c["name"] for c in CAPABILITY_CASES])
def test_capability(case: dict[str, Any]) -> None:
    for profile, value in case["expect"].items():
        assert getattr(get_profile(profile, case["entity"]), case["capability"]) == value


def test_every_case_covers_the_three_profiles() -> None:
    for case in CORPUS["cases"]:
        assert set(case["expect"]) == set(PROFILE_NAMES), case["name"]
        assert case["source"], case["name"]


def test_every_model_case_covers_the_profiles_of_its_entity() -> None:
    for case in MODEL_CORPUS["cases"]:
        shipped = {"mlflow", "extended"} if case["entity"] == "logged_models" else set(PROFILE_NAMES)
        assert set(case["expect"]) == shipped, case["name"]
        assert case["source"], case["name"]
    with pytest.raises(ValueError, match="Azure ML documents no search of logged models"):
        get_profile("azureml", "logged_models")


def test_codes_are_documented_and_used() -> None:
    used: set[str] = set()
    for case in CORPUS["cases"]:
        if "capability" in case:
            continue
        for expect in case["expect"].values():
            if isinstance(expect, dict):
                refuse = expect.get("refuse", [])
                used.update(refuse if isinstance(refuse, list) else [refuse])
                used.update(expect.get("warn", []))
    assert used == set(CORPUS["codes"])


def test_case_names_are_unique() -> None:
    names = [c["name"] for c in CORPUS["cases"]]
    assert len(names) == len(set(names))


# -- the generated matrix ---------------------------------------------------------------------


def test_docs_profiles_md_is_generated_from_the_data() -> None:
    written = (ROOT / "docs" / "profiles.md").read_text(encoding="utf-8")
    assert written == matrix_markdown(), (
        "docs/profiles.md differs from the profiles: regenerate it with `runql profiles > docs/profiles.md`"
    )


def test_matrix_follows_the_data() -> None:
    # The document's "string comparators = and !=" row reads the tag comparators of each profile.
    row = next(line for line in matrix_markdown().splitlines() if "`=` and `!=`" in line)
    assert row.endswith("| yes | yes, except `!=` on tags | yes |")
    changed = replace(get_profile("azureml"), tag_ops=get_profile("mlflow").tag_ops)
    cell = dict(DOCUMENT_ROWS)[
        "Filtering runs with string comparators (params, tags, attributes): `=` and `!=`"
    ]
    assert cell(changed, get_profile("azureml", "experiments")) == "yes"


def test_matrix_has_every_row_of_the_document() -> None:
    assert len(DOCUMENT_ROWS) == 15
    text = matrix_markdown()
    for label, _ in DOCUMENT_ROWS:
        assert f"| {label} |" in text


# -- the data ---------------------------------------------------------------------------------


def test_every_field_is_documented() -> None:
    source = inspect.getsource(Profile)
    for f in fields(Profile):
        marker = f"    {f.name}: "
        assert marker in source, f.name
        after = source.split(marker, 1)[1].split("\n", 2)[1]
        assert after.strip().startswith('"""'), f"field {f.name} has no docstring"


def test_shipped_profiles() -> None:
    assert set(PROFILES) == {(n, e) for n in ALL_PROFILE_NAMES for e in ENTITIES}
    for (name, entity), profile in PROFILES.items():
        assert (profile.name, profile.entity) == (name, entity)
        assert runql.PROFILES[(name, entity)] is profile


def test_profiles_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        get_profile("mlflow").allow_or = True  # type: ignore[misc]


def test_get_profile_errors() -> None:
    with pytest.raises(ValueError, match="did you mean 'azureml'"):
        get_profile("azure")
    with pytest.raises(ValueError, match="unknown entity"):
        get_profile("mlflow", "models")


def test_custom_profile_with_replace() -> None:
    strict = replace(get_profile("mlflow"), name="no-like", param_ops=frozenset({Op.EQ, Op.NE}))
    with pytest.raises(UnsupportedQueryError) as raised:
        validate("params.model LIKE 'lr%'", strict)
    assert raised.value.profile == "no-like"
    assert [d.code for d in raised.value.diagnostics] == ["unsupported-operator"]
    assert validate("params.model = 'lr'", strict).filter == Compare(
        Key(Entity.PARAM, "model"), Op.EQ, Literal("lr")
    )


def test_custom_profile_allows_or_on_top_of_mlflow() -> None:
    with_or = replace(get_profile("mlflow"), name="mlflow+or", allow_or=True)
    assert check("metrics.a > 1 OR metrics.b > 2", with_or) == []
    assert [d.code for d in check("metrics.a > 1 OR metrics.b > 2", "mlflow")] == ["unsupported-or"]


def test_status_for() -> None:
    azure = get_profile("azureml")
    assert azure.status_for("not STARTED") == "SCHEDULED"
    assert azure.status_for("Cancelled") is None
    assert get_profile("mlflow").status_for("FAILED") is None


# -- capabilities are ordered: a smaller profile never accepts what a larger one refuses -----------

_RUN_KEYS = [
    Key(Entity.METRIC, "acc"),
    Key(Entity.METRIC, "f1 score"),
    Key(Entity.PARAM, "lr"),
    Key(Entity.TAG, "team"),
    Key(Entity.TAG, "mlflow.parentRunId"),
    Key(Entity.DATASET, "name"),
    Key(Entity.DATASET, "profile"),
    *(
        Key(Entity.ATTRIBUTE, n)
        for n in (
            "run_id",
            "run_name",
            "status",
            "user_id",
            "start_time",
            "end_time",
            "duration",
            "creation_time",
            "experiment_id",
            "name",
        )
    ),
]
_EXPERIMENT_KEYS = [
    Key(Entity.TAG, "team"),
    Key(Entity.METRIC, "acc"),
    *(
        Key(Entity.ATTRIBUTE, n)
        for n in ("name", "experiment_id", "creation_time", "last_update_time", "start_time")
    ),
]
_VALUES = st.one_of(
    st.sampled_from(["x", "Failed", "FINISHED", "1655703168000", "lr%", "2024-01-01", ""]),
    st.sampled_from([0, 1, 360, 1655703168, 1655703168000, -5, 0.5]),
)


def _clauses(keys: list[Key]) -> st.SearchStrategy[Expr]:
    key = st.sampled_from(keys)
    compare = st.builds(Compare, key, st.sampled_from(list(Op)), st.builds(Literal, _VALUES))
    in_list = st.builds(
        In, key, st.lists(st.builds(Literal, _VALUES), min_size=1, max_size=3).map(tuple), st.booleans()
    )
    is_null = st.builds(IsNull, key, st.booleans())
    return st.one_of(compare, compare, in_list, is_null)


def _exprs(keys: list[Key]) -> st.SearchStrategy[Expr]:
    return st.recursive(
        _clauses(keys),
        lambda inner: st.one_of(
            st.lists(inner, min_size=2, max_size=3).map(lambda t: And(tuple(t))),
            st.lists(inner, min_size=2, max_size=3).map(lambda t: Or(tuple(t))),
            inner.map(Not),
        ),
        max_leaves=4,
    )


def _orders(keys: list[Key]) -> st.SearchStrategy[list[str]]:
    return st.lists(
        st.tuples(st.sampled_from(keys), st.booleans()).map(lambda kd: unparse_key_desc(*kd)), max_size=2
    )


def unparse_key_desc(key: Key, descending: bool) -> str:
    from runql.language.unparser import unparse_key

    return unparse_key(key) + (" DESC" if descending else "")


def _refused(text: str, order_by: list[str], profile: str, entity: str) -> bool:
    return any(d.severity is Severity.ERROR for d in check(text, profile, entity, order_by))


@pytest.mark.parametrize(("entity", "keys"), [("runs", _RUN_KEYS), ("experiments", _EXPERIMENT_KEYS)])
@settings(max_examples=150)
@given(data=st.data())
def test_smaller_profiles_accept_no_more_than_extended(
    entity: str, keys: list[Key], data: st.DataObject
) -> None:
    expr = data.draw(st.one_of(st.none(), _exprs(keys)))
    order_by = data.draw(_orders(keys))
    # Through the text, so the checks that read it (quoted names, parentheses) take part.
    text, _ = unparse_query(runql.Query(filter=expr))
    assert parse(text).filter == expr
    if _refused(text, order_by, "extended", entity):
        assert _refused(text, order_by, "mlflow", entity)
        assert _refused(text, order_by, "azureml", entity)
