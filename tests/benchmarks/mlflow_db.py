"""Large MLflow tracking databases for the benchmarks, built deterministically and fast.

    python tests/benchmarks/mlflow_db.py                          # SQLite files of 10k and 100k runs
    python tests/benchmarks/mlflow_db.py 1000 --postgres URL      # fill an empty PostgreSQL database

MLflow's own ``SqlAlchemyStore`` creates the schema on an empty database; the rows are then inserted
straight into MLflow's tables (``experiments``, ``runs``, ``params``, ``tags``, ``metrics``,
``latest_metrics``, ``datasets``, ``inputs``, ``input_tags``) with SQLAlchemy Core, many rows per
statement, as bound parameters: logging 100,000 runs through MLflow's API would take hours. The rows
are what MLflow writes for the same runs: a NaN metric is stored as 0 with ``is_nan`` set,
``latest_metrics`` holds each key's latest point, a run's source columns are MLflow's defaults.

The runs are :func:`benchmark_records`: ``workload.run_records`` (about 20 params, 10 metrics and 8 tags
per run, NaN metrics, missing keys) with dataset inputs on one run in ten, so a workspace built from
the same records holds what the database holds. The workload's experiment ids become MLflow's integer
ids (:data:`EXPERIMENT_IDS`); their names stay the workload's ids.

SQLite files are cached, keyed by size, seed and MLflow version, under ``$RUNQL_BENCH_CACHE`` or
``~/.cache/runql-bench``; a second build of the same size is a file lookup.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from support.mlflow_stores import create_mlflow_schema
from workload import EXPERIMENTS, run_records, wide_run_records

__all__ = [
    "CACHE_VARIABLE",
    "EXPERIMENT_IDS",
    "benchmark_records",
    "build_postgres",
    "build_sqlite",
    "cache_dir",
    "fill",
]

SEED = 7
SIZES = (10_000, 100_000)
CACHE_VARIABLE = "RUNQL_BENCH_CACHE"
# Part of a cached file's name: change it when what a build writes changes, so no stale file is reused.
LAYOUT = 1
# The workload's experiment ids, as MLflow numbers them; "0" is the Default experiment the schema has.
EXPERIMENT_IDS = {
    experiment: str(number) for number, experiment in enumerate(["0", *(e for e in EXPERIMENTS if e != "0")])
}
ARTIFACT_ROOT = "file:///tmp/mlruns"
CREATED = 1_640_000_000_000  # every experiment's creation time, before every run's start
DATA_CONTEXT = "mlflow.data.context"
# name, digest, context: the datasets runs take as inputs.
DATASETS = [
    ("train", "5f3a9c1e", "training"),
    ("validation", "a0b1c2d3", "validation"),
    ("test", "0f1e2d3c", "test"),
]
RUNS_PER_CHUNK = 5_000


def cache_dir() -> Path:
    """Where built SQLite files are kept: ``$RUNQL_BENCH_CACHE``, else ``~/.cache/runql-bench``."""
    return Path(os.environ.get(CACHE_VARIABLE) or Path.home() / ".cache" / "runql-bench")


WORKLOADS = {"standard": run_records, "wide": wide_run_records}
"""The workloads a database is built from (workload.py): the first one, and the wide one."""


def benchmark_records(n_runs: int, seed: int = SEED, workload: str = "standard") -> list[dict[str, Any]]:
    """``workload.run_records(n_runs, seed)`` (or the ``workload`` named in :data:`WORKLOADS`), one run
    in ten with one or two dataset inputs."""
    records = WORKLOADS[workload](n_runs, seed)
    rng = random.Random(seed + 1)
    for record in records:
        if rng.random() < 0.1:
            record["inputs"] = [
                {
                    "dataset": {
                        "name": name,
                        "digest": digest,
                        "source_type": "local",
                        "source": _source(name),
                    },
                    "tags": {DATA_CONTEXT: context},
                }
                for name, digest, context in rng.sample(DATASETS, rng.choice([1, 2]))
            ]
    return records


def build_sqlite(
    n_runs: int, seed: int = SEED, folder: Path | None = None, workload: str = "standard"
) -> str:
    """The URL of a SQLite MLflow database of ``n_runs`` benchmark runs of ``workload``, built unless
    already cached."""
    import mlflow

    folder = cache_dir() if folder is None else folder
    folder.mkdir(parents=True, exist_ok=True)
    # The first workload's files keep the names they always had.
    kind = "" if workload == "standard" else f"-{workload}"
    path = folder / f"mlflow-{n_runs}{kind}-seed{seed}-mlflow{mlflow.__version__}-layout{LAYOUT}.db"
    if not path.exists():
        # Built under another name and renamed when complete: an interrupted build is never taken as cached.
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.unlink(missing_ok=True)
        try:
            url = f"sqlite:///{partial}"
            create_mlflow_schema(url, ARTIFACT_ROOT)
            fill(url, benchmark_records(n_runs, seed, workload))
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def build_postgres(url: str, n_runs: int, seed: int = SEED, workload: str = "standard") -> None:
    """Fill the empty PostgreSQL database at ``url`` with ``n_runs`` benchmark runs of ``workload``,
    MLflow's schema first."""
    create_mlflow_schema(url, ARTIFACT_ROOT)
    fill(url, benchmark_records(n_runs, seed, workload))


def fill(url: str, records: Sequence[dict[str, Any]], progress: Callable[[int], None] | None = None) -> None:
    """Insert ``records`` (run records with plain metric values) into the MLflow database at ``url``,
    which has MLflow's schema and no runs; ``progress`` is told how many runs are in so far.

    SQLite takes the rows by ``executemany``; PostgreSQL by ``COPY`` through psycopg2, ten times
    faster than INSERT statements there.
    """
    engine = sa.create_engine(url)
    if engine.dialect.name == "postgresql" and engine.dialect.driver != "psycopg2":
        raise ValueError(
            f"filling PostgreSQL needs the psycopg2 driver (postgresql+psycopg2://), not {url!r}"
        )
    if engine.dialect.name not in ("sqlite", "postgresql"):
        raise ValueError(f"only SQLite and PostgreSQL databases are built, not {engine.dialect.name}")
    try:
        with engine.connect() as connection:
            sqlite = engine.dialect.name == "sqlite"
            if sqlite:
                # A failed build is thrown away whole: no journal, no waiting for the disk.
                connection.exec_driver_sql("PRAGMA journal_mode=OFF")
                connection.exec_driver_sql("PRAGMA synchronous=OFF")
                connection.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MiB: the indexes stay in memory
            metadata = sa.MetaData()
            tables = {
                name: sa.Table(name, metadata, autoload_with=connection)
                for name in ("experiments", "datasets")
            }
            runs = sa.table("runs")
            if connection.execute(sa.select(sa.func.count()).select_from(runs)).scalar():
                raise ValueError(f"{engine.url!r} already holds runs: fill an empty MLflow database")
            write = _insert_many if sqlite else _copy
            # Inside the build's transaction: a failed build leaves MLflow's schema as it was.
            restore = [] if sqlite else _drop_indexes_and_foreign_keys(connection)
            dataset_ids = _experiments_and_datasets(connection, tables)
            for done, chunk in _chunks(records, RUNS_PER_CHUNK):
                for name, rows in _rows(chunk, dataset_ids).items():
                    if rows:
                        write(connection, name, COLUMNS[name], rows)
                if progress is not None:
                    progress(done)
            for statement in restore:
                connection.exec_driver_sql(statement)
            if not sqlite:
                # The experiments came with their ids: MLflow's next experiment takes the next one.
                connection.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), "
                    "(SELECT max(experiment_id) FROM experiments))"
                )
            connection.commit()
            if not sqlite:
                # What autovacuum would soon do: the planner's statistics, so timings do not depend on when.
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()


def _drop_indexes_and_foreign_keys(connection: sa.Connection) -> list[str]:
    """Drop the secondary indexes and foreign keys of the tables runs' rows go to; the statements that
    make them again, as MLflow defined them.

    PostgreSQL then builds each index once, sorted, and checks each foreign key with one join, instead
    of per row: half the time of a 100,000-run build.
    """
    children = [name for name in COLUMNS if name != "runs"]
    indexes = connection.execute(
        sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(:tables) "
            # Not the indexes of primary keys and unique constraints: those stay.
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        ),
        {"tables": children},
    ).all()
    foreign_keys = connection.execute(
        sa.text(
            "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid::regclass::text = ANY(:tables)"
        ),
        {"tables": children},
    ).all()
    for name, _ in indexes:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    for name, table, _ in foreign_keys:
        connection.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return [definition for _, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for name, table, definition in foreign_keys
    ]


def _insert_many(
    connection: sa.Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    # Tuples straight to the driver's executemany: building a dict per row costs more than SQLite's insert.
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)


def _copy(connection: sa.Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    text = "".join(["\t".join([_copy_field(value) for value in row]) + "\n" for row in rows])
    names = ", ".join(f'"{c}"' for c in columns)
    # The connection's own DBAPI connection: the rows join the transaction the rest of the build is in.
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(f'COPY "{table}" ({names}) FROM STDIN', io.StringIO(text))
    finally:
        cursor.close()


# COPY's text format escapes these with a backslash.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: Any) -> str:
    """``value`` in COPY's text format."""
    if value is None:
        return "\\N"
    if type(value) is str:
        # Most values need no escape; isprintable() is false for tab, newline and carriage return.
        return value if value.isprintable() and "\\" not in value else value.translate(_COPY_ESCAPES)
    if type(value) is bool:
        return "t" if value else "f"
    return str(value)  # an int, or a float: str gives the shortest text that reads back as the same double


def _source(name: str) -> str:
    return f'{{"uri": "/data/{name}.parquet"}}'


def _chunks(records: Sequence[dict[str, Any]], size: int) -> Iterator[tuple[int, Sequence[dict[str, Any]]]]:
    for start in range(0, len(records), size):
        chunk = records[start : start + size]
        yield start + len(chunk), chunk


def _experiments_and_datasets(
    connection: sa.Connection, tables: dict[str, sa.Table]
) -> dict[tuple[str, str], str]:
    """Insert the experiments and their datasets; the dataset ids by (experiment id, dataset name)."""
    experiments = tables["experiments"]
    connection.execute(
        experiments.update()
        .where(experiments.c.experiment_id == 0)
        .values(creation_time=CREATED, last_update_time=CREATED)
    )
    connection.execute(
        experiments.insert(),
        [
            {
                "experiment_id": int(number),
                "name": name,
                "artifact_location": f"{ARTIFACT_ROOT}/{number}",
                "lifecycle_stage": "active",
                "creation_time": CREATED,
                "last_update_time": CREATED,
            }
            for name, number in EXPERIMENT_IDS.items()
            if number != "0"
        ],
    )
    # Ids drawn from a seeded generator, not uuid4: the same build gives the same file.
    rng = random.Random(SEED)
    ids = {
        (number, name): uuid.UUID(int=rng.getrandbits(128)).hex
        for number in EXPERIMENT_IDS.values()
        for name, _, _ in DATASETS
    }
    connection.execute(
        tables["datasets"].insert(),
        [
            {
                "dataset_uuid": ids[number, name],
                "experiment_id": int(number),
                "name": name,
                "digest": digest,
                "dataset_source_type": "local",
                "dataset_source": _source(name),
                "dataset_schema": None,
                "dataset_profile": None,
            }
            for number in EXPERIMENT_IDS.values()
            for name, digest, _ in DATASETS
        ],
    )
    return ids


COLUMNS = {
    "runs": (
        "run_uuid",
        "name",
        "source_type",
        "source_name",
        "entry_point_name",
        "user_id",
        "status",
        "start_time",
        "end_time",
        "source_version",
        "lifecycle_stage",
        "artifact_uri",
        "experiment_id",
        "deleted_time",
    ),
    "params": ("key", "value", "run_uuid"),
    "tags": ("key", "value", "run_uuid"),
    "metrics": ("key", "value", "timestamp", "step", "is_nan", "run_uuid"),
    "latest_metrics": ("key", "value", "timestamp", "step", "is_nan", "run_uuid"),
    "inputs": ("input_uuid", "source_type", "source_id", "destination_type", "destination_id", "step"),
    "input_tags": ("input_uuid", "name", "value"),
}
"""The columns each table is filled by, in the order of the rows' tuples; parents before children."""


def _rows(
    chunk: Sequence[dict[str, Any]], dataset_ids: dict[tuple[str, str], str]
) -> dict[str, list[tuple[Any, ...]]]:
    """The rows MLflow would hold for ``chunk``, by table, in the order of :data:`COLUMNS`."""
    out: dict[str, list[tuple[Any, ...]]] = {name: [] for name in COLUMNS}
    for record in chunk:
        run_id = record["run_id"]
        experiment_id = EXPERIMENT_IDS[record["experiment_id"]]
        # MLflow's create_run leaves the source columns at these values.
        out["runs"].append(
            (
                run_id,
                record["run_name"],
                "UNKNOWN",
                "",
                "",
                record["user_id"],
                record["status"],
                record["start_time"],
                record["end_time"],
                "",
                record["lifecycle_stage"],
                record["artifact_uri"],
                int(experiment_id),
                None,
            )
        )
        out["params"].extend((k, v, run_id) for k, v in record["params"].items())
        out["tags"].extend((k, v, run_id) for k, v in record["tags"].items())
        for key, value in record["metrics"].items():
            is_nan = math.isnan(value)
            # One point per key, logged at the run's start, so also the latest. MLflow stores NaN as 0.
            point = (key, 0.0 if is_nan else value, record["start_time"], 0, is_nan, run_id)
            out["metrics"].append(point)
            out["latest_metrics"].append(point)
        for position, item in enumerate(record.get("inputs", [])):
            # Derived from the run id and position, so the same records give the same rows.
            input_id = uuid.uuid5(uuid.NAMESPACE_OID, f"{run_id}/{position}").hex
            dataset_id = dataset_ids[experiment_id, item["dataset"]["name"]]
            out["inputs"].append((input_id, "DATASET", dataset_id, "RUN", run_id, 0))
            out["input_tags"].extend((input_id, k, v) for k, v in item["tags"].items())
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=list(SIZES), help="runs per database")
    parser.add_argument(
        "--postgres", metavar="URL", help="fill this empty PostgreSQL database instead (one size)"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="standard")
    args = parser.parse_args(argv)
    if args.postgres and len(args.sizes) != 1:
        parser.error("--postgres fills one database: give one size")
    for n_runs in args.sizes:
        start = time.perf_counter()
        if args.postgres:
            build_postgres(args.postgres, n_runs, args.seed, args.workload)
            where = args.postgres.split("@")[-1]
        else:
            where = build_sqlite(n_runs, args.seed, workload=args.workload)
        print(f"{n_runs:>9,} runs  {time.perf_counter() - start:8.1f} s  {where}", flush=True)


if __name__ == "__main__":
    main()
