"""Conformance you can measure: drive any backend's search against runql's reference evaluator.

:func:`check_backend` generates runs and valid queries (``runql.testing.strategies``), asks the backend,
and raises :class:`ConformanceError` with hypothesis's smallest failing example when an answer
differs from the reference evaluator's. It needs hypothesis (``pip install runql[strategies]``).

``python -m runql.testing.conformance --report`` measures runql itself against MLflow, layer by layer:
(1) accept or refuse, (2) results of MLflow's in-memory search, (3) results of a real MLflow
SQLite store. It needs MLflow, which runql otherwise never imports.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import os
import re
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

from runql.engines.embedding import search, search_experiments
from runql.engines.reference import filter_experiments, filter_runs, sort_experiments, sort_runs
from runql.errors import QueryError, RunqlError, Severity
from runql.language.ast import Query
from runql.model.records import DATASET_CONTEXT_TAG, Metric, Run, RunData, RunInfo, RunInputs, latest_metric
from runql.profiles.catalog import Profile, get_profile
from runql.profiles.checker import QueryWarning, check, validate

__all__ = [
    "DEFAULT_EXAMPLES",
    "ConformanceError",
    "LayerResult",
    "MlflowUnavailableError",
    "check_backend",
    "examples",
    "expected_ids",
    "main",
]

T = TypeVar("T")
SearchFn = Callable[[list[Any], str, list[str]], Sequence[str]]
DEFAULT_EXAMPLES = 200
EXAMPLES_VARIABLE = "RUNQL_CONFORMANCE_EXAMPLES"


def _examples(default: int) -> int:
    return int(os.environ.get(EXAMPLES_VARIABLE, default))


# -- the kit: check any backend against the reference ----------------------------------------------


class ConformanceError(RunqlError, AssertionError):
    """A backend's answer differs from the reference evaluator's; ``str()`` is a readable report."""

    def __init__(
        self,
        rows: Sequence[Any],
        query: Query,
        expected: Sequence[str],
        got: Sequence[str] | BaseException,
        profile: str,
        entity: str,
    ) -> None:
        self.rows, self.query, self.expected, self.got = list(rows), query, list(expected), got
        self.filter_string = query.filter_string
        self.order_by = list(query.order_by_strings)
        super().__init__(_report(self.rows, query, self.expected, got, profile, entity))


def _report(
    rows: Sequence[Any],
    query: Query,
    expected: Sequence[str],
    got: Sequence[str] | BaseException,
    profile: str,
    entity: str,
) -> str:
    lines = [
        f"the backend disagrees with runql's reference evaluator ({profile} profile, {entity})",
        f"  filter_string: {query.filter_string!r}",
        f"  order_by:      {list(query.order_by_strings)!r}",
        f"  expected:      {_answer_text(expected)}",
        f"  got:           {_answer_text(got)}",
        f"  {entity} ({len(rows)}):",
    ]
    lines += [f"    {_describe(row)}" for row in rows]
    return "\n".join(lines)


def _answer_text(answer: Sequence[str] | BaseException) -> str:
    if isinstance(answer, BaseException):
        return f"raised {type(answer).__name__}: {answer}"
    return answer if isinstance(answer, str) else repr(list(answer))


def _describe(row: Any) -> str:
    if not hasattr(row, "data"):
        return (
            f"{row.experiment_id}: name={row.name!r} creation_time={row.creation_time} "
            f"last_update_time={row.last_update_time} tags={dict(row.tags)!r}"
        )
    info, data = row.info, row.data
    inputs = getattr(getattr(row, "inputs", None), "dataset_inputs", None) or []
    datasets = [
        (d.dataset.name, d.dataset.digest, *[t.value for t in d.tags if t.key == DATASET_CONTEXT_TAG])
        for d in inputs
    ]
    parts = [
        f"{info.run_id}: run_name={info.run_name!r} status={info.status} user_id={info.user_id!r}",
        f"start_time={info.start_time} end_time={info.end_time}",
        f"metrics={dict(data.metrics)!r} params={dict(data.params)!r} tags={dict(data.tags)!r}",
    ]
    if datasets:
        parts.append(f"datasets={datasets!r}")
    return " ".join(parts)


def _row_id(row: Any) -> str:
    return str(row.info.run_id) if hasattr(row, "info") else str(row.experiment_id)


def expected_ids(rows: Sequence[Any], query: Query, entity: str = "runs") -> list[str]:
    """The ids the reference evaluator returns for ``query`` (already validated) over ``rows``."""
    if entity == "runs":
        found = sort_runs(filter_runs(rows, query.filter), query.order_by)
    else:
        found = sort_experiments(filter_experiments(rows, query.filter), query.order_by)
    return [_row_id(row) for row in found]


def check_backend(
    search_fn: SearchFn,
    *,
    profile: str = "mlflow",
    entity: str = "runs",
    max_examples: int | None = None,
    seed: int | None = 0,
    shrink: bool = True,
) -> None:
    """Drive ``search_fn`` with generated data and queries; raise :class:`ConformanceError` on a difference.

    ``search_fn(rows, filter_string, order_by)`` gets a list of runql ``Run`` objects (shaped like
    ``mlflow.entities.Run``; ``Experiment`` objects with ``entity="experiments"``), a filter string
    and a list of order_by clauses the profile accepts, and returns the ids of the rows it selects,
    in its order (run ids, or experiment ids). The report shows hypothesis's smallest failing
    example. ``max_examples`` defaults to ``$RUNQL_CONFORMANCE_EXAMPLES`` or 200; ``seed`` fixes the
    examples (``None`` explores anew on every call). ``shrink=False`` reports the first failing example
    as found: shrinking a generated workspace can take minutes.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fix_seed

    from runql.testing.strategies import search_cases

    count = _examples(DEFAULT_EXAMPLES) if max_examples is None else max_examples

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[phase for phase in Phase if shrink or phase is not Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(search_cases(profile, entity))
    def conforms(case: tuple[list[Any], Query]) -> None:
        rows, query = case
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lowered = validate(query, profile, entity)
        expected = expected_ids(rows, lowered, entity)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", QueryWarning)
                got = [
                    str(i) for i in search_fn(list(rows), query.filter_string, list(query.order_by_strings))
                ]
        except Exception as error:  # any failure of the backend is a finding, reported like a wrong answer
            raise ConformanceError(rows, query, expected, error, profile, entity) from error
        if got != expected:
            raise ConformanceError(rows, query, expected, got, profile, entity)

    if seed is not None:
        conforms = fix_seed(seed)(conforms)
    conforms()


def examples(strategy: Any, count: int, seed: int = 0) -> list[Any]:
    """``count`` values of a hypothesis ``strategy``, the same ones for the same ``seed`` (no shrinking)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fix_seed

    found: list[Any] = []

    @fix_seed(seed)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found[:count]


# -- the MLflow oracle (imported only here, only when asked) ------------------------------------


class MlflowUnavailableError(RunqlError, RuntimeError):
    """MLflow is needed for the differential layers and is not installed."""


def _mlflow() -> SimpleNamespace:
    try:
        return SimpleNamespace(
            mlflow=importlib.import_module("mlflow"),
            entities=importlib.import_module("mlflow.entities"),
            search=importlib.import_module("mlflow.utils.search_utils"),
        )
    except ImportError as error:
        raise MlflowUnavailableError(
            "the differential layers compare runql with MLflow, which is not installed: "
            "pip install 'runql[test]' (or mlflow>=3.17.2)"
        ) from error


def to_mlflow_run(run: Any) -> Any:
    """``run`` as an ``mlflow.entities.Run`` (its latest metric points, as a store returns them)."""
    e = _mlflow().entities
    info = run.info
    histories = getattr(run.data, "histories", {})
    metrics = []
    for key, value in run.data.metrics.items():
        latest = _latest(histories.get(key), key, value, info.start_time or 0)
        metrics.append(e.Metric(key, latest.value, latest.timestamp, latest.step))
    inputs = [
        e.DatasetInput(
            e.Dataset(
                d.dataset.name, d.dataset.digest, d.dataset.source_type or "local", d.dataset.source or ""
            ),
            [e.InputTag(t.key, t.value) for t in d.tags],
        )
        for d in (getattr(getattr(run, "inputs", None), "dataset_inputs", None) or [])
    ]
    return e.Run(
        e.RunInfo(
            run_id=info.run_id,
            experiment_id=info.experiment_id,
            user_id=info.user_id or "",
            status=info.status,
            start_time=info.start_time,
            end_time=info.end_time,
            lifecycle_stage=info.lifecycle_stage,
            artifact_uri=info.artifact_uri,
            run_name=info.run_name,
        ),
        e.RunData(
            metrics=metrics,
            params=[e.Param(k, v) for k, v in run.data.params.items()],
            tags=[e.RunTag(k, v) for k, v in run.data.tags.items()],
        ),
        e.RunInputs(dataset_inputs=inputs),
    )


def _latest(history: Sequence[Metric] | None, key: str, value: float, timestamp: int) -> Metric:
    # runql's runs keep every point; the latest one follows the stores' rule (records.latest_metric).
    return latest_metric(history) if history else Metric(key, value, timestamp, 0)


def to_mlflow_experiment(experiment: Any) -> Any:
    e = _mlflow().entities
    return e.Experiment(
        experiment.experiment_id,
        experiment.name,
        experiment.artifact_location,
        experiment.lifecycle_stage,
        tags=[e.ExperimentTag(k, v) for k, v in experiment.tags.items()],
        creation_time=experiment.creation_time,
        last_update_time=experiment.last_update_time,
    )


def _dummy_rows() -> tuple[Any, Any]:
    """One run and one experiment holding every kind of key: MLflow checks comparators on a row only."""
    e = _mlflow().entities
    run = e.Run(
        e.RunInfo("r", "0", "u", "FINISHED", 1, 2, "active", "file:///a", run_name="n"),
        e.RunData(metrics=[e.Metric("m", 0.5, 1, 0)], params=[e.Param("p", "v")], tags=[e.RunTag("t", "v")]),
        e.RunInputs(
            dataset_inputs=[
                e.DatasetInput(
                    e.Dataset("d", "g", "local", "s"), [e.InputTag(DATASET_CONTEXT_TAG, "training")]
                )
            ]
        ),
    )
    experiment = e.Experiment(
        "0", "e", "file:///a", "active", tags=[e.ExperimentTag("t", "v")], creation_time=1, last_update_time=2
    )
    return run, experiment


def mlflow_accepts(entity: str, filter_string: str, order_by: Sequence[str]) -> bool:
    """Whether MLflow accepts the query: it parses, and each clause and sort key works on a row."""
    utils = _mlflow().search
    run, experiment = _dummy_rows()
    try:
        if entity == "runs":
            for clause in utils.SearchUtils.parse_search_filter(filter_string):
                # Each clause on its own: MLflow stops at the first false clause of a conjunction.
                utils.SearchUtils._does_run_match_clause(run, clause)
            utils.SearchUtils.sort([run], list(order_by))
        else:
            experiments = utils.SearchExperimentsUtils
            for clause in experiments.parse_search_filter(filter_string):
                experiments._does_experiment_match_clause(experiment, clause)
            experiments.sort([experiment], list(order_by))
    except Exception:  # MLflow raises MlflowException, and a bare ValueError for some lists
        return False
    return True


def runql_accepts(entity: str, filter_string: str, order_by: Sequence[str], profile: str = "mlflow") -> bool:
    try:
        diagnostics = check(filter_string, profile, entity, list(order_by))
    except QueryError:
        return False
    return not any(d.severity is Severity.ERROR for d in diagnostics)


def _token_offset(token: str | bytes | None) -> int | None:
    return None if token is None else int(json.loads(base64.b64decode(token))["offset"])


def mlflow_search(
    rows: Sequence[Any], entity: str, filter_string: str, order_by: Sequence[str], max_results: int
) -> tuple[list[str], int | None]:
    """MLflow's in-memory answer (``SearchUtils.filter``, ``sort``, ``paginate``) and the next offset."""
    utils = _mlflow().search
    if entity == "runs":
        found = utils.SearchUtils.filter([to_mlflow_run(r) for r in rows], filter_string)
        ordered = utils.SearchUtils.sort(found, list(order_by))
    else:
        found = utils.SearchExperimentsUtils.filter([to_mlflow_experiment(r) for r in rows], filter_string)
        # The file store's default order, which it passes to sort when none is given.
        ordered = utils.SearchExperimentsUtils.sort(
            found, list(order_by) or ["creation_time DESC", "experiment_id ASC"]
        )
    page, token = utils.SearchUtils.paginate(ordered, None, max_results)
    return [_row_id(r) for r in page], _token_offset(token)


def runql_search(
    rows: Sequence[Any], entity: str, filter_string: str, order_by: Sequence[str], max_results: int
) -> tuple[list[str], int | None]:
    find = search if entity == "runs" else search_experiments
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        page, token = find(rows, filter_string, list(order_by), max_results)
    return [_row_id(r) for r in page], _token_offset(token)


class SqliteStore:
    """A real MLflow SQLite store holding workspaces of generated runs, one experiment each.

    ``runs[i]`` are the runs of workspace ``i`` as runql sees them: the generated data under the
    ids, names, users and tags the store gave them.
    """

    def __init__(self, workspaces: Sequence[Sequence[Run]], folder: Path) -> None:
        m = _mlflow()
        self.client = m.mlflow.MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
        self.experiment_ids: list[str] = []
        self.runs: list[list[Run]] = []
        for index, generated in enumerate(workspaces):
            experiment_id = self.client.create_experiment(
                f"conformance-{index}", artifact_location=(folder / f"artifacts-{index}").as_uri()
            )
            self.experiment_ids.append(experiment_id)
            self.runs.append([self._add(experiment_id, run, m.entities) for run in generated])

    def _add(self, experiment_id: str, run: Run, e: Any) -> Run:
        info = run.info
        created = self.client.create_run(
            experiment_id, start_time=info.start_time, tags=dict(run.data.tags), run_name=info.run_name
        )
        run_id = created.info.run_id
        points = [
            e.Metric(p.key, p.value, p.timestamp, p.step)
            for history in run.data.histories.values()
            for p in history
        ]
        params = [e.Param(k, v) for k, v in run.data.params.items()]
        self.client.log_batch(run_id, metrics=points, params=params)
        inputs = {(d.dataset.name, d.dataset.digest): d for d in run.inputs.dataset_inputs}
        if inputs:
            self.client.log_inputs(
                run_id,
                datasets=[
                    e.DatasetInput(
                        e.Dataset(d.dataset.name, d.dataset.digest, "local", d.dataset.source or ""),
                        [e.InputTag(t.key, t.value) for t in d.tags],
                    )
                    for d in inputs.values()
                ],
            )
        if info.end_time is not None:
            self.client.set_terminated(run_id, info.status, end_time=info.end_time)
        elif info.status != "RUNNING":
            self.client.update_run(run_id, status=info.status)
        stored = self.client.get_run(run_id)
        data = RunData(params=dict(run.data.params), tags=dict(stored.data.tags))
        for history in run.data.histories.values():
            for point in history:
                data.log(Metric(point.key, point.value, point.timestamp, point.step))
        kept = RunInputs(list(inputs.values()))
        return Run(
            RunInfo(
                run_id=run_id,
                experiment_id=experiment_id,
                run_name=stored.info.run_name,
                user_id=stored.info.user_id,
                status=stored.info.status,
                start_time=stored.info.start_time,
                end_time=stored.info.end_time,
                artifact_uri=stored.info.artifact_uri,
            ),
            data,
            kept,
        )

    def search(self, workspace: int, filter_string: str, order_by: Sequence[str]) -> list[str]:
        found = self.client.search_runs(
            [self.experiment_ids[workspace]], filter_string, order_by=list(order_by), max_results=50000
        )
        return [r.info.run_id for r in found]


# -- the differential layers -----------------------------------------------------------------------

# Differences runql keeps on purpose (docs/compatibility.md): a name, and a test on the case.
_ATTRIBUTES_PREFIX = re.compile(r"(?:^|[\s(])attributes\.")


def documented_difference(entity: str, filter_string: str, order_by: Sequence[str]) -> str | None:
    """The name of the documented difference a disagreement on accept-or-refuse falls under, if any."""
    if entity == "experiments" and (
        _ATTRIBUTES_PREFIX.search(filter_string) or any(o.startswith("attributes.") for o in order_by)
    ):
        return "experiments-attributes-prefix"
    return None


@dataclass
class LayerResult:
    """What one layer measured: how many queries, how many agreed, and every difference found."""

    name: str
    total: int = 0
    agreed: int = 0
    documented: Counter[str] = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)

    def add(self, agreed: bool, documented: str | None, describe: Callable[[], str]) -> None:
        self.total += 1
        if agreed:
            self.agreed += 1
        elif documented is not None:
            self.documented[documented] += 1
        else:
            self.disagreements.append(describe())

    @property
    def rate(self) -> float:
        return self.agreed / self.total if self.total else 1.0

    def summary(self) -> str:
        documented = sum(self.documented.values())
        named = ", ".join(f"{k} {v}" for k, v in sorted(self.documented.items())) or "none"
        return (
            f"{self.name}: {self.total} queries, {self.agreed} agree ({self.rate:.4%}); "
            f"documented differences {documented} ({named}); undocumented {len(self.disagreements)}"
        )


def _split(count: int) -> tuple[int, int]:
    runs = (count * 3 + 3) // 4
    return runs, count - runs


def layer_parse(count: int, seed: int = 0) -> LayerResult:
    """Layer 1: accept or refuse, for runs and experiments, on queries from the whole language."""
    from runql.testing.strategies import queries

    result = LayerResult("layer 1 (accept/refuse)")
    for entity, share in zip(("runs", "experiments"), _split(count), strict=True):
        for query in examples(queries("mlflow", entity, valid=False), share, seed):
            text, order_by = query.filter_string, list(query.order_by_strings)
            theirs = mlflow_accepts(entity, text, order_by)
            mine = runql_accepts(entity, text, order_by)
            result.add(
                mine == theirs,
                documented_difference(entity, text, order_by),
                lambda e=entity, t=text, o=order_by, a=theirs: (  # type: ignore[misc]
                    f"{e}: filter {t!r} order_by {o!r}: "
                    f"MLflow {'accepts' if a else 'refuses'}, runql does not"
                ),
            )
    return result


def _answer(find: Callable[..., Any], *args: Any) -> Any:
    """The answer, or the error raised, as a comparable value: an error is an answer too."""
    try:
        return find(*args)
    except Exception as error:  # both sides are compared on what they raise as well
        return f"{type(error).__name__}: {error}"


def oracle_profile(entity: str) -> Profile:
    """The mlflow profile without the documented differences, for queries MLflow must answer alike."""
    profile = get_profile("mlflow", entity)
    if entity == "experiments":  # experiments-attributes-prefix: MLflow 3.17.2 knows only `attribute.`
        return replace(profile, prefixes=profile.prefixes - {"attributes"})
    return profile


def _cases(entity: str, per_rows: int, vocabulary: Any = None) -> Any:
    from hypothesis import strategies as st

    from runql.testing.strategies import experiments, queries, runs

    @st.composite
    def draw_cases(draw: st.DrawFn) -> tuple[list[Any], list[tuple[Query, int]]]:
        rows: list[Any] = draw(
            runs(vocabulary, min_size=1, max_size=10)
            if entity == "runs"
            else experiments(vocabulary, max_size=8)
        )
        strategy = st.tuples(
            queries(oracle_profile(entity), entity, vocabulary, rows), st.sampled_from([1, 2, 3, 1000])
        )
        return rows, [draw(strategy) for _ in range(per_rows)]

    return draw_cases()


def layer_memory(count: int, seed: int = 0, per_rows: int = 4) -> LayerResult:
    """Layer 2: ids, order and next-page offset against MLflow's in-memory search on generated rows."""
    result = LayerResult("layer 2 (in-memory search)")
    for entity, share in zip(("runs", "experiments"), _split(count), strict=True):
        for rows, cases in examples(_cases(entity, per_rows), -(-share // per_rows), seed):
            for query, max_results in cases:
                text, order_by = query.filter_string, list(query.order_by_strings)
                theirs = _answer(mlflow_search, rows, entity, text, order_by, max_results)
                mine = _answer(runql_search, rows, entity, text, order_by, max_results)
                result.add(
                    mine == theirs,
                    None,
                    lambda r=rows, q=query, a=theirs, b=mine, e=entity: (  # type: ignore[misc]
                        _report(r, q, a[0], b[0], "mlflow", e)
                        + f"\n  next offsets: MLflow {a[1]}, runql {b[1]}"
                    ),
                )
    return result


@contextmanager
def _store(workspaces: Sequence[Sequence[Run]]) -> Iterator[SqliteStore]:
    with tempfile.TemporaryDirectory(prefix="runql-conformance-") as folder, _quiet():
        yield SqliteStore(workspaces, Path(folder))


@contextmanager
def _quiet() -> Iterator[None]:
    import logging

    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def layer_store(count: int, seed: int = 0, workspaces: int = 4) -> LayerResult:
    """Layer 3: ids and order against ``MlflowClient.search_runs`` on a real SQLite store.

    The data leaves out what the SQL store is known to answer otherwise than MLflow's in-memory
    search (``Vocabulary.store_safe``), so every remaining difference is a finding.
    """
    from hypothesis import strategies as st

    from runql.testing.strategies import DEFAULT_VOCABULARY, queries, runs

    vocabulary = DEFAULT_VOCABULARY.store_safe()
    generated = examples(runs(vocabulary, min_size=6, max_size=12), workspaces, seed)
    result = LayerResult("layer 3 (MLflow SQLite store)")
    with _store(generated) as store:
        per_workspace = -(-count // len(store.runs))
        for index, stored in enumerate(store.runs):
            drawn = examples(
                st.lists(queries("mlflow", "runs", vocabulary, stored), min_size=1, max_size=1),
                per_workspace,
                seed + index,
            )
            for (query,) in drawn:
                text, order_by = query.filter_string, list(query.order_by_strings)
                theirs = _answer(store.search, index, text, order_by)
                mine = _answer(lambda *a: runql_search(*a)[0], stored, "runs", text, order_by, 50000)
                result.add(
                    mine == theirs,
                    None,
                    lambda r=stored, q=query, a=theirs, b=mine: _report(  # type: ignore[misc]
                        r, q, a, b, "mlflow", "runs"
                    ),
                )
    return result


LAYERS: dict[str, Callable[[int, int], LayerResult]] = {
    "parse": layer_parse,
    "memory": layer_memory,
    "store": layer_store,
}


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, not {text}")
    return number


def _layers(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in LAYERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown layer {', '.join(unknown)}: use parse, memory, store")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runql.testing.conformance",
        description="Measure runql's agreement with MLflow, layer by layer.",
    )
    parser.add_argument(
        "--report", action="store_true", help="run the differential layers and print the rates"
    )
    parser.add_argument(
        "--examples", type=_positive, default=2000, help="generated queries per layer (default 2000)"
    )
    parser.add_argument(
        "--store-examples", type=_positive, help="queries for the SQLite layer (default: --examples)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--layers", type=_layers, default="parse,memory,store", help="comma-separated: parse, memory, store"
    )
    parser.add_argument("--show", type=int, default=5, help="undocumented differences to print per layer")
    args = parser.parse_args(argv)
    if not args.report:
        parser.print_help()
        return 2
    try:
        _mlflow()
    except MlflowUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    version = _mlflow().mlflow.__version__
    print(f"runql conformance against MLflow {version} (seed {args.seed})")
    failed = False
    for name in args.layers:
        count = args.store_examples if name == "store" and args.store_examples else args.examples
        result = LAYERS[name](count, args.seed)
        print(result.summary(), flush=True)
        for text in result.disagreements[: args.show]:
            print(text)
        failed = failed or bool(result.disagreements)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
