"""Runs and RLIKE patterns shared by the tests of the engines on databases and on Spark."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runql.model.entities import Run

# Patterns where RE2 and Python's re agree (no $, no \d \w \s \b): re.search is the independent answer.
RLIKE_PATTERNS = ["^x", "boost", "(?i)^LIGHT", "[0-9]", "é|日", "^(?:vision|nlp)(?:-2)?", ".", "^\\.|_|%"]
RLIKE_KEYS: dict[str, Callable[[Run], str | None]] = {
    "params.model": lambda run: run.data.params.get("model"),
    "params.`batch size`": lambda run: run.data.params.get("batch size"),
    "tags.team": lambda run: run.data.tags.get("team"),
    "attributes.run_name": lambda run: run.info.run_name,
}


def rlike_records() -> list[dict[str, Any]]:
    """Runs whose values the patterns tell apart; some lack each key; one holds 5,000 ``a``s."""
    values = [
        ("xgboost", "32", "vision", "trial-1"),
        ("lightgbm", "64", "nlp-2", "Trial_2"),
        ("LightGBM", None, "Vision", "café"),
        ("torch.nn", "a" * 5_000 + "!", None, "日本-3"),  # MLflow keeps 6,000 characters
        (None, "1e3", "nlp", ".hidden"),
        ("50% off", "0", "vision-2", "x"),
    ]
    records: list[dict[str, Any]] = []
    for index, (model, batch, team, name) in enumerate(values):
        params = {k: v for k, v in (("model", model), ("batch size", batch)) if v is not None}
        context = "train" if index % 2 else "eval"
        records.append(
            {
                "run_id": f"{index:032x}",
                "experiment_id": "r",
                "run_name": name,
                "user_id": "someone",
                "start_time": 1_700_000_000_000 + index,
                "params": params,
                "tags": {} if team is None else {"team": team},
                "inputs": [
                    {
                        "dataset": {"name": f"{team or 'none'}-{context}", "digest": f"d{index}"},
                        "tags": {"mlflow.data.context": context},
                    }
                ],
            }
        )
    return records


# Patterns on which a backtracking engine (Python's re, Java's) runs for ages against 5,000 ``a``s and a
# ``!``, with the number of the runs above each selects; RE2 answers at once.
CATASTROPHIC = [("params.`batch size` RLIKE '(a+)+$'", 0), ("params.`batch size` RLIKE '(a|aa)+!'", 1)]
