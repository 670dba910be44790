"""The runql command: ``runql check`` prints carets and exits 1 on refusal, 0 otherwise."""

from __future__ import annotations

import subprocess
import sys

import pytest

from runql.cli import main
from runql.profiles.catalog import matrix_markdown


def carets(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and set(line.strip()) == {"^"}]


def test_tag_not_equal_is_refused_by_azureml(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "tags.team != 'x'", "--profile", "azureml"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "  tags.team != 'x'" in err
    assert carets(err) == ["  " + " " * 10 + "^^"]
    assert "[unsupported-operator]" in err
    assert "refused by the azureml profile (runs): 1 problem" in err


def test_tag_not_equal_is_accepted_by_mlflow(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "tags.team != 'x'", "--profile", "mlflow"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.strip() == "accepted by the mlflow profile (runs)"


def test_default_profile_is_mlflow(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "metrics.a > 1 OR metrics.b > 1"]) == 1
    _, err = capsys.readouterr()
    assert "MLflow does not support OR" in err
    assert carets(err) == ["  " + " " * 14 + "^^"]


def test_every_problem_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "tags.t != 'x' AND params.p ILIKE 'y'", "-p", "azureml", "-o", "metrics.auc DESC"])
    assert code == 1
    _, err = capsys.readouterr()
    assert err.count("error: ") == 3
    assert "order_by[0], line 1, column 1: Azure ML cannot ORDER BY metrics.auc" in err
    assert "3 problems" in err


def test_syntax_error_exits_1_with_a_caret(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "metrics.a == 1"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: filter_string, line 1, column 11")
    assert carets(err) == ["  " + " " * 10 + "^^"]


def test_warnings_are_printed_and_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "attributes.creation_time > '1655703168'", "--profile", "azureml"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "warning: filter_string, line 1, column 28" in out
    assert "[seconds-not-milliseconds]" in out
    assert "accepted by the azureml profile (runs)" in out
    assert "evaluated as: filter_string='attributes.start_time > 1655703168'" in out


def test_order_by_only_and_entity(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--order-by", "tags.x", "--entity", "experiments"]) == 1
    _, err = capsys.readouterr()
    assert "order_by[0]" in err and "[unsupported-order-by]" in err
    assert main(["check", "experiment_id IN ('1', '2')", "-e", "experiments"]) == 0


def test_lowered_query_is_shown_for_azureml(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "status = 'Completed'", "-p", "azureml", "-o", "duration DESC"]) == 0
    out, _ = capsys.readouterr()
    assert "filter_string=\"attributes.status = 'FINISHED'\"" in out
    assert "order_by=['attributes.duration DESC']" in out


def test_help_shows_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", "--help"])
    assert exited.value.code == 0
    out, _ = capsys.readouterr()
    assert "runql check \"tags.team != 'x'\" --profile azureml" in out
    assert "exit status" in out


def test_help_examples_do_what_they_say(capsys: pytest.CaptureFixture[str]) -> None:
    examples = [
        (["check", "metrics.auc > 0.8 AND params.model = 'lr'"], 0),
        (["check", "tags.team != 'x'", "--profile", "azureml"], 1),
        (["check", "attributes.duration > '360000'", "--profile", "azureml"], 0),
        (
            [
                "check",
                "",
                "--order-by",
                "metrics.auc DESC",
                "--order-by",
                "start_time",
                "--profile",
                "azureml",
            ],
            1,
        ),
        (["check", "", "--order-by", "attributes.duration DESC", "--profile", "azureml"], 0),
        (["check", "name LIKE 'prod%'", "--entity", "experiments"], 0),
    ]
    for argv, code in examples:
        assert main(argv) == code, argv
    capsys.readouterr()


def test_unknown_profile_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", "metrics.a > 1", "--profile", "azure"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    capsys.readouterr()


def test_profiles_prints_the_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles"]) == 0
    assert capsys.readouterr().out == matrix_markdown()


def test_python_dash_m() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "runql", "check", "tags.team != 'x'", "--profile", "azureml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "^^" in done.stderr
