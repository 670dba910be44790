"""A text a user or a store supplies, as a log line or a message shows it: one line, of bounded length."""

from __future__ import annotations

import logging

import pytest

from runql.common.redact import SHOWN_LIMIT, shown


@pytest.mark.parametrize("text", ["my_experiment", "a name with spaces", "Größe 日本", "back\\slash", ""])
def test_a_plain_short_text_is_shown_as_it_is(text: str) -> None:
    assert shown(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("one\nForged log line", "one\\nForged log line"),
        ("tab\there", "tab\\there"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("line\u2028separator", "line\\u2028separator"),
        ("lone \udcff surrogate", "lone \\udcff surrogate"),
    ],
)
def test_what_is_not_printable_is_escaped(text: str, expected: str) -> None:
    assert shown(text) == expected


def test_a_long_text_is_cut_and_its_length_said() -> None:
    text = "x" * 1_000_000
    assert shown(text) == "x" * SHOWN_LIMIT + "... (1,000,000 characters)"
    assert shown("abcdef", 3) == "abc... (6 characters)"


def test_a_cut_text_of_control_characters_stays_bounded() -> None:
    escaped = shown("\x00" * 1_000_000)
    assert len(escaped) < 5 * SHOWN_LIMIT and "\n" not in escaped


def test_a_log_line_that_shows_a_hostile_name_is_one_short_line(caplog: pytest.LogCaptureFixture) -> None:
    name = "exp\nERROR forged entry" + "y" * 1_000_000
    with caplog.at_level(logging.WARNING, logger="runql"):
        logging.getLogger("runql").warning("Cannot retrieve experiment by name %s", shown(name))
    (record,) = caplog.records
    assert "\n" not in record.getMessage() and len(record.getMessage()) < 400
