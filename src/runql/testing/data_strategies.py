"""Hypothesis strategies for runs, experiments, workspaces, metric histories, the model registry and
logged models.

The data holds what real stores hold and what trips them: keys with dots, spaces, hyphens and
non-ASCII letters; NaN and infinite metrics; histories whose points tie on step and on timestamp;
params that look like numbers; empty strings; quotes, ``%`` and ``_`` in values; runs that never
ended; start-time ties. ``Vocabulary`` is the pool the data and the queries
(:mod:`runql.testing.query_strategies`) both draw from; :meth:`Vocabulary.store_safe` leaves out what
MLflow's SQL store is known to treat otherwise (newlines, case-folding non-ASCII, infinities).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from hypothesis import strategies as st

from runql.model.entities import (
    DATASET_CONTEXT_TAG,
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
)
from runql.model.logged_models import LoggedModel, LoggedModelMetric
from runql.model.registry import PROMPT_TAG, ModelVersion, RegisteredModel, Registry
from runql.stores.workspace import Workspace

__all__ = [
    "DEFAULT_VOCABULARY",
    "T0",
    "TIME_STEP",
    "Vocabulary",
    "experiments",
    "histories",
    "logged_models",
    "registries",
    "runs",
    "workspaces",
]

T0 = 1_700_000_000_000
"""The first start time of generated runs (milliseconds since the epoch)."""

TIME_STEP = 1000
"""The milliseconds between the times generated runs and experiments may take."""


@dataclass(frozen=True)
class Vocabulary:
    """The keys and values generated data and generated queries share."""

    metric_keys: tuple[str, ...]
    param_keys: tuple[str, ...]
    tag_keys: tuple[str, ...]
    experiment_tag_keys: tuple[str, ...]
    texts: tuple[str, ...]
    numbers: tuple[float, ...]
    run_names: tuple[str, ...]
    users: tuple[str, ...]
    dataset_names: tuple[str, ...]
    digests: tuple[str, ...]
    contexts: tuple[str, ...]
    nan_ties: bool = True

    def store_safe(self) -> Vocabulary:
        """Without what MLflow's SQL store answers otherwise than its in-memory search.

        Newlines (``%`` and ``_`` cross them in SQL), letters whose case SQLite's ASCII-only
        ``lower()`` does not fold, infinite metrics (stored as the largest float), and NaN points
        that tie on step and timestamp with another point (SQL compares a stored 0 for NaN).
        """
        return replace(
            self,
            texts=tuple(t for t in self.texts if _store_safe(t)),
            run_names=tuple(t for t in self.run_names if _store_safe(t) and t),
            users=tuple(t for t in self.users if _store_safe(t)),
            dataset_names=tuple(t for t in self.dataset_names if _store_safe(t)),
            numbers=tuple(n for n in self.numbers if not math.isinf(n)),
            nan_ties=False,
        )

    def where_stores_part(self) -> Vocabulary:
        """Only the values on which MLflow's SQL store and its in-memory search part, and one plain value.

        Newlines, backslashes and letters whose case SQLite's ``lower()`` does not fold: drawn from these,
        most LIKE and ILIKE patterns meet a difference, to test a store's meaning where it is most
        likely wrong.
        """

        def parting(texts: tuple[str, ...], plain: str) -> tuple[str, ...]:
            return (*(t for t in texts if "\\" in t or not _store_safe(t)), plain)

        return replace(
            self,
            texts=parting(self.texts, "a"),
            run_names=parting(self.run_names, "alpha"),
            users=parting(self.users, "ann"),
            dataset_names=parting(self.dataset_names, "train"),
        )

    def held_by(self, rows: Sequence[Any]) -> Vocabulary:
        """Keys and values ``rows`` (runs, experiments or logged models) hold first, then a few of this
        vocabulary's."""
        metric_keys: list[str] = []
        param_keys: list[str] = []
        tag_keys: list[str] = []
        texts: list[str] = []
        numbers: list[float] = []
        for row in rows:
            data = getattr(row, "data", None)
            if isinstance(row, LoggedModel):
                metric_keys.extend(m.key for m in row.metrics)
                numbers.extend(m.value for m in row.metrics if m.value is not None and math.isfinite(m.value))
                param_keys.extend(row.params)
                tag_keys.extend(row.tags)
                texts.extend([row.name, *row.params.values(), *row.tags.values()])
                continue
            if data is None:  # an experiment
                tag_keys.extend(row.tags)
                texts.extend([row.name, *row.tags.values()])
                continue
            metric_keys.extend(data.metrics)
            numbers.extend(v for v in data.metrics.values() if math.isfinite(v))
            param_keys.extend(data.params)
            tag_keys.extend(data.tags)
            texts.extend([*data.params.values(), *data.tags.values()])
        return replace(
            self,
            metric_keys=_first(metric_keys, self.metric_keys),
            param_keys=_first(param_keys, self.param_keys),
            tag_keys=_first(tag_keys, self.tag_keys),
            experiment_tag_keys=_first(tag_keys, self.experiment_tag_keys),
            texts=_first(texts, self.texts),
            numbers=_first(numbers, self.numbers),
        )


def _first(held: Sequence[Any], fallback: Sequence[Any]) -> tuple[Any, ...]:
    # Held values four times over: about four draws in five name something the data has.
    unique = tuple(dict.fromkeys(held))
    extra = tuple(v for v in fallback if v not in unique)[:3]
    return unique * 4 + extra if unique else tuple(fallback)


def _store_safe(text: str) -> bool:
    return "\n" not in text and all(c.isascii() or c.lower() == c.upper() for c in text)


DEFAULT_VOCABULARY = Vocabulary(
    metric_keys=("acc", "loss", "val.loss", "f1 score", "val-loss", "größe", "x_1"),
    param_keys=("lr", "model", "batch size", "opt.name", "drop-out", "café", "seed"),
    tag_keys=("team", "mlflow.note", "note", "owner name", "run-kind", "ключ"),
    experiment_tag_keys=("team", "project.phase", "cost center", "stage-2"),
    texts=(
        "",
        "a",
        "A",
        "ab",
        "abc",
        "a%b",
        "a_b",
        "50% off",
        "x_y",
        "10",
        "2",
        "0.1",
        "1e3",
        "-1",
        "007",
        " a",
        "a ",
        "O'Brien",
        'say "hi"',
        "back\\slash",
        "ü",
        "Ü",
        "Straße",
        "日本",
        "line1\nline2",
        "abc\n",
        "a.b",
        "NULL",
    ),
    numbers=(math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, 0.5, -1.0, 2.5, 1e308, 1e-7, 100.0, 3.0),
    run_names=("alpha", "beta", "Beta", "run 1", "", "ünï", "a%b", "x_y", "line\nbreak"),
    users=("ann", "bob", "Ann", "o'neil"),
    dataset_names=("train", "eval", "Train", "ünï data", "a%b"),
    digests=("d1", "d2", "D1"),
    contexts=("training", "evaluation", "Training"),
)


_RUN_IDS = tuple(f"{i:02d}{c}" for i in range(16) for c in "ab")


def _vocabulary(vocabulary: Vocabulary | None) -> Vocabulary:
    return DEFAULT_VOCABULARY if vocabulary is None else vocabulary


class _DataStrategies:
    """The strategies of one vocabulary, built once: hypothesis validates a strategy on first use."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.point = st.tuples(
            st.sampled_from(vocab.numbers), st.integers(0, 2).map(lambda k: T0 + k), st.integers(0, 2)
        )
        self.points = st.lists(self.point, min_size=1, max_size=4)
        self.params = st.dictionaries(
            st.sampled_from(vocab.param_keys), st.sampled_from(vocab.texts), max_size=len(vocab.param_keys)
        )
        self.tags = st.dictionaries(
            st.sampled_from(vocab.tag_keys), st.sampled_from(vocab.texts), max_size=len(vocab.tag_keys)
        )
        self.experiment_tags = st.dictionaries(
            st.sampled_from(vocab.experiment_tag_keys),
            st.sampled_from(vocab.texts),
            max_size=len(vocab.experiment_tag_keys),
        )
        self.metric_keys = st.lists(st.sampled_from(vocab.metric_keys), unique=True, max_size=4)
        self.start = st.integers(0, 4)
        self.end = st.one_of(st.none(), st.integers(0, 3))
        self.run_name = st.one_of(st.none(), st.sampled_from(vocab.run_names))
        self.user = st.sampled_from(vocab.users)
        self.status = st.sampled_from(RunStatus.ALL)
        self.inputs = st.lists(
            st.tuples(
                st.sampled_from(vocab.dataset_names),
                st.sampled_from(vocab.digests),
                st.one_of(st.none(), st.sampled_from(vocab.contexts)),
            ),
            max_size=2,
        )
        self.name = st.sampled_from(vocab.texts)
        self.created = st.integers(0, 3)
        self.updated = st.integers(0, 2)


@lru_cache(maxsize=16)
def _data(vocab: Vocabulary) -> _DataStrategies:
    return _DataStrategies(vocab)


def _history(key: str, raw: Sequence[tuple[float, int, int]], vocab: Vocabulary) -> list[Metric]:
    points = [Metric(key, value, timestamp, step) for value, timestamp, step in raw]
    if not vocab.nan_ties:
        seen: dict[tuple[int, int], list[float]] = {}
        for point in points:
            seen.setdefault((point.step, point.timestamp), []).append(point.value)
        if any(len(values) > 1 and any(math.isnan(v) for v in values) for values in seen.values()):
            points = [p for p in points if not math.isnan(p.value)] or points[:1]
    return points


def histories(key: str, vocabulary: Vocabulary | None = None) -> st.SearchStrategy[list[Metric]]:
    """One metric's logged points: steps and timestamps from a small range, so both tie often."""
    vocab = _vocabulary(vocabulary)
    return _data(vocab).points.map(lambda raw: _history(key, raw, vocab))


def _run(draw: st.DrawFn, run_id: str, experiment_id: str, vocab: Vocabulary) -> Run:
    s = _data(vocab)
    start = T0 + draw(s.start) * TIME_STEP
    end = draw(s.end)
    info = RunInfo(
        run_id=run_id,
        experiment_id=experiment_id,
        run_name=draw(s.run_name),
        user_id=draw(s.user),
        status=draw(s.status),
        start_time=start,
        end_time=None if end is None else start + end * TIME_STEP,
        artifact_uri=f"file:///artifacts/{run_id}",
    )
    data = RunData(params=draw(s.params), tags=draw(s.tags))
    for key in draw(s.metric_keys):
        for point in _history(key, draw(s.points), vocab):
            data.log(point)
    inputs = [
        DatasetInput(
            Dataset(name, digest, "local", f"file:///data/{digest}"),
            [] if context is None else [InputTag(DATASET_CONTEXT_TAG, context)],
        )
        for name, digest, context in draw(s.inputs)
    ]
    return Run(info, data, RunInputs(inputs))


@st.composite
def runs(
    draw: st.DrawFn,
    vocabulary: Vocabulary | None = None,
    min_size: int = 0,
    max_size: int = 8,
    experiment_ids: Sequence[str] = ("0",),
) -> list[Run]:
    """A list of runs with distinct ids, spread over ``experiment_ids``."""
    vocab = _vocabulary(vocabulary)
    ids = draw(st.lists(st.sampled_from(_RUN_IDS), min_size=min_size, max_size=max_size, unique=True))
    experiment = st.sampled_from(list(experiment_ids))
    return [_run(draw, run_id, draw(experiment), vocab) for run_id in ids]


@st.composite
def experiments(
    draw: st.DrawFn, vocabulary: Vocabulary | None = None, min_size: int = 1, max_size: int = 6
) -> list[Experiment]:
    """Experiments with distinct ids (``"0"`` to ``"12"``: their text and number orders differ).

    Every experiment has a creation time, as every MLflow 3 experiment has (MLflow's in-memory
    filter raises on a missing one); times tie often.
    """
    vocab = _vocabulary(vocabulary)
    s = _data(vocab)
    ids = draw(st.lists(st.integers(0, 12).map(str), min_size=min_size, max_size=max_size, unique=True))
    found = []
    for experiment_id in ids:
        created = T0 + draw(s.created) * TIME_STEP
        updated = created + draw(s.updated) * TIME_STEP
        found.append(
            Experiment(
                experiment_id=experiment_id,
                name=f"{draw(s.name)}{experiment_id}",
                artifact_location=f"file:///artifacts/{experiment_id}",
                tags=draw(s.experiment_tags),
                creation_time=created,
                last_update_time=updated,
            )
        )
    return found


@st.composite
def registries(
    draw: st.DrawFn,
    vocabulary: Vocabulary | None = None,
    min_models: int = 0,
    max_models: int = 6,
    min_versions: int = 0,
    max_versions: int = 3,
) -> Registry:
    """Registered models with distinct names (tagged like experiments; one in four a prompt) and up to
    ``max_versions`` versions each, whose run ids, sources and tags repeat across models. Times tie often."""
    vocab = _vocabulary(vocabulary)
    s = _data(vocab)
    texts = [t for t in vocab.texts if t]
    names = draw(st.lists(st.sampled_from(texts), min_size=min_models, max_size=max_models, unique=True))
    registry = Registry()
    for name in names:
        prompt = draw(st.integers(0, 3)) == 3
        tags = draw(s.experiment_tags) | ({PROMPT_TAG: "true"} if prompt else {})
        created = T0 + draw(s.created) * TIME_STEP
        versions = []
        for number in range(1, draw(st.integers(min_versions, max_versions)) + 1):
            made = created + draw(s.created) * TIME_STEP
            versions.append(
                ModelVersion(
                    name,
                    str(number),
                    made,
                    made + draw(s.updated) * TIME_STEP,
                    run_id=draw(st.sampled_from((*_RUN_IDS[:4], None))),
                    source=draw(st.sampled_from(("s3://models/a", "s3://models/b", "file:///m", "gs://c"))),
                    tags=draw(s.experiment_tags) | ({PROMPT_TAG: "true"} if prompt else {}),
                )
            )
        updated = max([created, *(v.last_updated_timestamp or created for v in versions)])
        registry.models.append(RegisteredModel(name, created, updated, tags=tags))
        registry.versions.extend(versions)
    return registry


_MODEL_TYPES = (None, "sklearn", "xgboost")


def _model_name(text: str) -> bool:
    """Whether MLflow takes ``text`` as a logged model's name: not empty, none of ``/ : . % " '``."""
    return bool(text) and not any(c in text for c in "/:.%\"'")


_LOGGED_STATUSES = ("PENDING", "READY", "FAILED")


@st.composite
def logged_models(
    draw: st.DrawFn,
    vocabulary: Vocabulary | None = None,
    min_size: int = 0,
    max_size: int = 6,
    experiment_ids: Sequence[str] = ("1",),
    run_ids: Sequence[str] = _RUN_IDS[:3],
) -> list[LoggedModel]:
    """Logged models with distinct ids (``m-<hex>``), spread over ``experiment_ids``; one in six deleted.
    Names, types and params repeat; creation times tie often. Each metric's points are logged by
    ``run_ids`` at times and steps from small ranges, on a dataset of the vocabulary or on none, so that
    points tie on step and on timestamp; no two share a time, a step and a run, which MLflow's table keys
    them by. Values are finite: MLflow's SQL store keeps no NaN for a logged model's metric. Names are
    those MLflow accepts for a logged model."""
    vocab = _vocabulary(vocabulary)
    s = _data(vocab)
    count = draw(st.integers(min_size, max_size))
    numbers = [n for n in vocab.numbers if math.isfinite(n)] or [0.0]
    datasets = [None, *((name, digest) for name in vocab.dataset_names[:2] for digest in vocab.digests[:2])]
    point = st.tuples(
        st.sampled_from(numbers),
        st.integers(0, 2),
        st.integers(0, 2),
        st.sampled_from(list(run_ids)),
        st.sampled_from(datasets),
    )
    found = []
    for index in range(count):
        model_id = f"m-{index:032x}"
        created = T0 + draw(s.created) * TIME_STEP
        metrics: dict[tuple[str, int, int, str], LoggedModelMetric] = {}
        for key in draw(s.metric_keys):
            for value, time, step, run_id, dataset in draw(st.lists(point, min_size=1, max_size=4)):
                name, digest = dataset or (None, None)
                at = created + time * TIME_STEP
                metrics.setdefault(
                    (key, at, step, run_id),
                    LoggedModelMetric(key, value, at, step, run_id, name, digest, model_id),
                )
        found.append(
            LoggedModel(
                experiment_id=draw(st.sampled_from(list(experiment_ids))),
                model_id=model_id,
                name=draw(s.name.filter(_model_name)),
                artifact_location=f"file:///artifacts/models/{model_id}",
                creation_timestamp=created,
                last_updated_timestamp=created + draw(s.updated) * TIME_STEP,
                model_type=draw(st.sampled_from(_MODEL_TYPES)),
                source_run_id=draw(st.sampled_from((None, *run_ids))),
                status=draw(st.sampled_from(_LOGGED_STATUSES)),
                tags=draw(s.tags),
                params=draw(s.params),
                metrics=list(metrics.values()),
                lifecycle_stage="deleted" if draw(st.integers(0, 5)) == 5 else "active",
            )
        )
    return found


@st.composite
def workspaces(draw: st.DrawFn, vocabulary: Vocabulary | None = None, max_runs: int = 12) -> Workspace:
    """A :class:`runql.Workspace` of generated experiments and their runs."""
    found = draw(experiments(vocabulary, max_size=3))
    return Workspace.from_records(
        experiments=found,
        runs=draw(runs(vocabulary, max_size=max_runs, experiment_ids=[e.experiment_id for e in found])),
    )
