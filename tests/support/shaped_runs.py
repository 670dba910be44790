"""Run-shaped objects (the attributes mlflow.entities.Run has), for tests that search runs built by hand."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def shaped_run(run_id: str, start_time: int = 1, tags: dict[str, str] | None = None, **metrics: float) -> Any:
    """A finished run named ``run_id`` in experiment 0 with ``tags`` and ``metrics``, no params or inputs."""
    info = SimpleNamespace(
        run_id=run_id,
        run_name=run_id,
        experiment_id="0",
        user_id="u",
        status="FINISHED",
        start_time=start_time,
        end_time=None,
        artifact_uri="",
        lifecycle_stage="active",
    )
    data = SimpleNamespace(metrics=metrics, params={}, tags=tags or {})
    return SimpleNamespace(info=info, data=data, inputs=SimpleNamespace(dataset_inputs=[]))
