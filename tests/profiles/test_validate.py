"""check() and validate(): every problem with its caret, the lowering for evaluation, the warnings."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pytest

from runql import (
    And,
    Compare,
    Entity,
    In,
    IsNull,
    Key,
    Literal,
    Op,
    Or,
    Query,
    QuerySyntaxError,
    QueryWarning,
    Severity,
    SortKey,
    UnsupportedQueryError,
    check,
    get_profile,
    parse,
    unparse,
    validate,
)
from runql.language.unparser import unparse_query


def codes(diagnostics: list) -> list[str]:  # type: ignore[type-arg]
    return [d.code for d in diagnostics]


def caret_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.strip() and set(line.strip()) == {"^"})


# -- every problem, with its place -------------------------------------------------------------


def test_check_returns_every_problem_in_order() -> None:
    text = "acc > 0.9 AND params.lr > 1 AND tags.t != 'x' AND metrics.`f 1` > 0 AND datasets.name = 'd'"
    found = check(text, "azureml")
    assert codes(found) == [
        "unknown-attribute",
        "unsupported-operator",
        "bad-value-type",
        "unsupported-operator",
        "unsupported-quoted-name",
        "unsupported-key",
    ]
    assert [d.span.column for d in found if d.span] == [1, 25, 27, 40, 51, 73]
    assert all(d.where == "filter_string" and d.source == text for d in found)


def test_validate_raises_once_with_every_diagnostic() -> None:
    with pytest.raises(UnsupportedQueryError) as raised:
        validate("tags.t != 'x' AND params.p ILIKE 'x'", "azureml", order_by=["metrics.auc DESC"])
    error = raised.value
    assert codes(error.diagnostics) == [
        "unsupported-operator",
        "unsupported-operator",
        "unsupported-order-by",
    ]
    assert error.code == "unsupported-operator"
    assert error.profile == "azureml"
    assert "(3 problems)" in error.message
    assert [d.where for d in error.diagnostics] == ["filter_string", "filter_string", "order_by[0]"]


def test_caret_under_the_operator() -> None:
    (diagnostic,) = check("tags.team != 'x'", "azureml")
    rendered = str(diagnostic)
    assert rendered.startswith(
        "error: filter_string, line 1, column 11: Azure ML does not support != on tags"
    )
    assert caret_line(rendered) == "  " + " " * 10 + "^^"
    assert "extended profile" in diagnostic.hint


def test_caret_on_a_later_line() -> None:
    (diagnostic,) = check("metrics.a > 1\nAND tags.t != 'x'", "azureml")
    assert (diagnostic.span.line, diagnostic.span.column) == (2, 12)  # type: ignore[union-attr]
    assert "  AND tags.t != 'x'" in str(diagnostic)


def test_carets_for_or_not_and_parentheses() -> None:
    text = "metrics.a > 1 or (params.b = 'x' and not tags.c = 'y')"
    found = check(text, "mlflow")
    assert codes(found) == ["unsupported-or", "unsupported-parentheses", "unsupported-not"]
    assert [text[d.span.start : d.span.end] for d in found if d.span] == ["or", "(", "not"]


def test_or_hint_suggests_in_where_lists_are_allowed() -> None:
    (diagnostic,) = check("run_id = 'a' OR run_id = 'b'", "mlflow")
    assert diagnostic.hint == "write attributes.run_id IN ('a', 'b')"


def test_not_hint_negates_the_comparison() -> None:
    (diagnostic,) = check("NOT metrics.a > 1", "mlflow")
    assert diagnostic.hint == "negate the comparison instead: metrics.a <= 1"


def test_is_null_caret_covers_is_null() -> None:
    (diagnostic,) = check("metrics.acc IS  NOT NULL", "mlflow")
    assert diagnostic.span is not None
    assert "metrics.acc IS  NOT NULL"[diagnostic.span.start : diagnostic.span.end] == "IS  NOT NULL"


def test_in_caret_covers_the_keyword() -> None:
    (diagnostic,) = check("status NOT IN ('a')", "mlflow")
    assert diagnostic.code == "unsupported-list"
    assert diagnostic.span is not None
    assert "status NOT IN ('a')"[diagnostic.span.start : diagnostic.span.end] == "NOT IN"


def test_syntax_errors_propagate() -> None:
    with pytest.raises(QuerySyntaxError):
        check("metrics.a == 1")
    with pytest.raises(QuerySyntaxError):
        validate("metrics.a > 1", "azureml", order_by=["metrics.a DESC NULLS LAST"])


# -- hints ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("acc > 0.9", "did you mean metrics.acc?"),
        ("model = 'lr'", "did you mean params.model or tags.model?"),
        ("owner IS NULL", "did you mean tags.owner?"),
        ("start_tim > 5", "did you mean start_time?"),
        ("Status = 'RUNNING'", "attribute names are case-sensitive: write status"),
        ("experiment_id = '1'", "pass experiment_ids=[...]"),
        ("creation_time > 5", "start_time (alias created)"),
        ("duration > 5", "use the azureml or extended profile"),
    ],
)
def test_unknown_attribute_hints(text: str, hint: str) -> None:
    (diagnostic,) = check(text, "mlflow")
    assert diagnostic.code == "unknown-attribute"
    assert hint in diagnostic.hint


def test_order_by_hint_for_azureml() -> None:
    (diagnostic,) = check("", "azureml", order_by="metrics.auc DESC")
    assert diagnostic.message == "Azure ML cannot ORDER BY metrics.auc"
    assert diagnostic.hint == "sort the result instead: df.sort_values('metrics.auc', ascending=False)"
    assert diagnostic.where == "order_by"


def test_value_hints() -> None:
    (quoted,) = check("metrics.a > '0.5'")
    assert quoted.hint == "remove the quotes: 0.5"
    (number,) = check("params.a = 5")
    assert number.hint == "params compare as text: write '5'"
    (date,) = check("start_time > '2024-01-01'", "azureml")
    assert "milliseconds since the epoch" in date.hint


# -- lowering for evaluation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "status"),
    [
        ("Failed", "FAILED"),
        ("failed", "FAILED"),
        ("Completed", "FINISHED"),
        ("Finished", "FINISHED"),
        ("Canceled", "KILLED"),
        ("Killed", "KILLED"),
        ("Queue", "SCHEDULED"),
        ("Preparing", "SCHEDULED"),
        ("not started", "SCHEDULED"),
        ("Scheduled", "SCHEDULED"),
        ("RUNNING", "RUNNING"),
    ],
)
def test_azureml_status_names(written: str, status: str) -> None:
    query = validate(f"attributes.status = '{written}'", "azureml")
    assert query.filter == Compare(Key(Entity.ATTRIBUTE, "status"), Op.EQ, Literal(status))


def test_azureml_status_not_equal_like_and_in() -> None:
    assert unparse(validate("status != 'Completed'", "azureml").filter) == "attributes.status != 'FINISHED'"
    assert unparse(validate("status LIKE 'fail%'", "azureml").filter) == "attributes.status ILIKE 'fail%'"
    with_lists = replace(get_profile("azureml"), list_attributes=frozenset({"run_id", "status"}))
    with pytest.warns(QueryWarning, match="'Odd' is not a status Azure ML knows"):
        lowered = validate("status IN ('Failed', 'Canceled', 'Odd')", with_lists)
    assert lowered.filter == In(
        Key(Entity.ATTRIBUTE, "status"), (Literal("FAILED"), Literal("KILLED"), Literal("Odd"))
    )


def test_azureml_quoted_numbers_and_creation_time() -> None:
    lowered = validate(
        "attributes.creation_time > '1655703168000' AND attributes.duration <= '3600000.5'",
        "azureml",
        order_by=["attributes.creation_time DESC", "attributes.duration"],
    )
    assert lowered.filter == And(
        (
            Compare(Key(Entity.ATTRIBUTE, "start_time"), Op.GT, Literal(1655703168000)),
            Compare(Key(Entity.ATTRIBUTE, "duration"), Op.LE, Literal(3600000.5)),
        )
    )
    assert lowered.order_by == (
        SortKey(Key(Entity.ATTRIBUTE, "start_time"), True),
        SortKey(Key(Entity.ATTRIBUTE, "duration")),
    )
    assert isinstance(lowered.filter.terms[0].value.value, int)  # type: ignore[union-attr]


def test_lowering_keeps_spans_and_texts() -> None:
    text = "status = 'Failed' AND params.p = 'Failed'"
    lowered = validate(text, "azureml")
    assert lowered.filter_string == text
    status, param = lowered.filter.terms  # type: ignore[union-attr]
    assert status.value.value == "FAILED" and param.value.value == "Failed"
    assert status.span is not None and status.span.start == 0


@pytest.mark.parametrize("profile", ["mlflow", "extended"])
def test_mlflow_and_extended_return_the_query_unchanged(profile: str) -> None:
    text = "metrics.a > 1 AND attributes.status = 'FINISHED' AND start_time > 1655703168000"
    parsed = parse(text, ["metrics.a DESC"])
    assert validate(parsed, profile) is parsed
    assert validate(text, profile, order_by=["metrics.a DESC"]) == parsed


def test_extended_lowers_only_what_it_shares_with_azureml() -> None:
    with pytest.warns(QueryWarning, match="upper case"):
        lowered = validate("start_time > '1655703168000' AND status = 'Failed'", "extended")
    assert unparse(lowered.filter) == "attributes.start_time > 1655703168000 AND attributes.status = 'Failed'"


def test_extended_accepts_the_superset() -> None:
    text = (
        "(metrics.a > 1 OR NOT params.b LIKE 'x%') AND tags.t IS NULL AND metrics.c IN (1, 2) "
        "AND params.p NOT ILIKE 'q' AND end_time IS NOT NULL"
    )
    assert [d for d in check(text, "extended") if d.severity is Severity.ERROR] == []
    assert isinstance(validate(text, "extended").filter, And)


# -- warnings --------------------------------------------------------------------------------------


def test_seconds_warning() -> None:
    (diagnostic,) = check("start_time > 1655703168")
    assert diagnostic.severity is Severity.WARNING
    assert diagnostic.code == "seconds-not-milliseconds"
    assert "did you mean 1655703168000 (2022-06-20 05:32:48 UTC)?" in diagnostic.hint
    assert str(diagnostic).startswith("warning: ")
    assert check("start_time > 1655703168000 AND end_time > 0 AND start_time < 99999999") == []


def test_duration_warning() -> None:
    (diagnostic,) = check("attributes.duration > 360", "azureml")
    assert diagnostic.code == "duration-units"
    assert "360000" in diagnostic.hint
    assert check("attributes.duration > 360000", "azureml") == []
    assert check("attributes.duration > 0", "azureml") == []


def test_status_warnings() -> None:
    (upper,) = check("status = 'failed'")
    assert upper.code == "unknown-status" and "'FAILED'" in upper.hint
    (azure,) = check("status = 'Completed'")
    assert "'FINISHED'" in azure.hint and "azureml" in azure.hint
    (unknown,) = check("status = 'Odd'", "azureml")
    assert unknown.code == "unknown-status"
    assert check("status = 'FINISHED' AND status LIKE 'f%'") == []


def test_validate_emits_warnings() -> None:
    with pytest.warns(QueryWarning) as caught:
        query = validate("tags.t LIKE 'a%' AND start_time > 1655703168", "azureml")
    assert [w.message.diagnostic.code for w in caught] == [  # type: ignore[union-attr]
        "observed-unsupported",
        "seconds-not-milliseconds",
    ]
    assert query.filter is not None


def test_warnings_do_not_refuse() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(QueryWarning):
            validate("status = 'failed'")


def test_unsupported_error_keeps_warnings_among_diagnostics() -> None:
    with pytest.raises(UnsupportedQueryError) as raised:
        validate("start_time > 1655703168 AND tags.t != 'x'", "azureml")
    assert [d.severity for d in raised.value.diagnostics] == [Severity.WARNING, Severity.ERROR]
    assert raised.value.code == "unsupported-operator"


# -- experiments ---------------------------------------------------------------------------------


def test_experiments() -> None:
    assert check("experiment_id IN ('1', '2') AND tags.t = 'x'", entity="experiments") == []
    found = check("name IN ('a') AND metrics.x > 1 AND attr.name = 'x'", entity="experiments")
    assert codes(found) == ["unsupported-list", "unsupported-key", "unsupported-key"]
    (order,) = check("", entity="experiments", order_by=["tags.x"])
    assert order.code == "unsupported-order-by"
    (unknown,) = check("created > 1", entity="experiments")
    assert unknown.code == "unknown-attribute" and "creation_time" in unknown.hint


def test_experiments_azureml_lowering() -> None:
    lowered = validate("creation_time > '1655703168000'", "azureml", entity="experiments")
    assert lowered.filter == Compare(Key(Entity.ATTRIBUTE, "creation_time"), Op.GT, Literal(1655703168000))


# -- inputs --------------------------------------------------------------------------------------


def test_hand_built_expressions() -> None:
    expr = Or((Compare(Key(Entity.TAG, "t"), Op.NE, Literal("x")), IsNull(Key(Entity.METRIC, "m"))))
    found = check(expr, "azureml")
    assert codes(found) == ["unsupported-or", "unsupported-operator", "unsupported-is-null"]
    assert all(d.span is None and d.source == "" for d in found)
    assert check(expr, "extended") == []
    hand_quoted = Compare(Key(Entity.METRIC, "f1 score"), Op.GT, Literal(1))
    assert codes(check(hand_quoted, "azureml")) == ["unsupported-quoted-name"]


def test_expression_with_order_by() -> None:
    expr = Compare(Key(Entity.METRIC, "m"), Op.GT, Literal(1))
    query = validate(expr, "mlflow", order_by="metrics.m DESC")
    assert query.order_by == (SortKey(Key(Entity.METRIC, "m"), True),)
    (diagnostic,) = check(expr, "azureml", order_by="metrics.m DESC")
    assert diagnostic.where == "order_by" and diagnostic.source == "metrics.m DESC"


def test_none_and_empty() -> None:
    assert check(None) == [] and check("") == []
    assert validate(None) == Query()


def test_query_with_order_by_argument_is_refused() -> None:
    with pytest.raises(TypeError):
        check(parse("metrics.a > 1"), order_by=["metrics.a"])


def test_profile_for_the_wrong_entity() -> None:
    mine = replace(get_profile("mlflow", "experiments"), name="mine")
    with pytest.raises(ValueError, match="pass entity='experiments'"):
        check("name = 'x'", mine)
    assert check("name = 'x'", mine, entity="experiments") == []
    # A shipped profile stands for its sibling on the other entity.
    assert check("name = 'x'", get_profile("mlflow", "runs"), entity="experiments") == []
    assert codes(check("tags.t != 'x'", get_profile("azureml", "runs"), entity="experiments")) == [
        "unsupported-operator"
    ]


def test_custom_profile_via_replace() -> None:
    no_ne = replace(get_profile("extended"), name="no-ne", tag_ops=get_profile("extended").tag_ops - {Op.NE})
    (diagnostic,) = check("tags.t != 'x' OR tags.t = 'y'", no_ne)
    assert diagnostic.code == "unsupported-operator"
    assert "the extended profile" in diagnostic.message
    with pytest.raises(UnsupportedQueryError) as raised:
        validate("tags.t != 'x'", no_ne)
    assert raised.value.profile == "no-ne"


def test_unparse_round_trip_of_lowered_query() -> None:
    lowered = validate("status = 'Failed'", "azureml", order_by=["attributes.duration DESC"])
    assert unparse_query(lowered) == ("attributes.status = 'FAILED'", ["attributes.duration DESC"])
