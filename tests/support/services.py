"""The database servers the tests need: a throwaway PostgreSQL server and fresh databases on it.

``.ci/run`` starts one server for the whole run and names it in ``RUNQL_TEST_POSTGRES_URL``; a
developer's ``pytest`` without that variable starts its own here, the same way: ``initdb`` into a
temporary folder, ``pg_ctl start`` on a free loopback port with the socket in that folder, as the
``postgres`` user when running as root (``initdb`` refuses root). The server exists only for the tests,
so it runs without fsync.

The role named in the URL must be allowed to create databases: each test that writes gets a
database of its own (:meth:`PostgresServer.create_database`).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest
import sqlalchemy as sa

__all__ = [
    "NOT_INSTALLED",
    "POSTGRES_URL_VARIABLE",
    "PostgresServer",
    "PostgresUnavailable",
    "free_port",
    "mlflow_server",
    "postgres_bin_dir",
    "postgres_unavailable",
    "start_postgres",
]

POSTGRES_URL_VARIABLE = "RUNQL_TEST_POSTGRES_URL"
NOT_INSTALLED = "PostgreSQL is not installed: `bash .ci/run` installs it"
DRIVER = "postgresql+psycopg2"
# Test databases are named with this prefix, so a database left by a killed run is recognisable.
DATABASE_PREFIX = "runql_test_"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server programs are not on this machine."""


def postgres_unavailable(reason: str) -> NoReturn:
    """Skip the test that needs PostgreSQL; fail it on CI (``CI`` set), which installs PostgreSQL."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def postgres_bin_dir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: initdb's on PATH, else the newest Debian installs."""
    candidates = []
    on_path = shutil.which("initdb")
    if on_path:
        # Debian links initdb into PATH but not pg_ctl: take both from the folder the link points into.
        candidates.append(Path(on_path).resolve().parent)
    installed = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        installed, key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0, reverse=True
    )
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A PostgreSQL server the tests use: ``url`` is its main database, a role allowed to create others."""

    url: str
    # Set when this process started the server: its folder, programs and the user it runs as.
    folder: Path | None = None
    bin_dir: Path | None = None
    user: str | None = None
    _created: list[str] = field(default_factory=list)
    _watchdog: subprocess.Popen[bytes] | None = None

    def _admin(self) -> sa.Engine:
        # CREATE and DROP DATABASE cannot run inside a transaction.
        return sa.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def create_database(self, template: str | None = None) -> str:
        """A new database with a unique name, empty or a copy of ``template`` (a URL); its SQLAlchemy URL.

        A copy is how a test gets MLflow's schema without running MLflow's migrations again: they take
        seconds per database. Nothing may be connected to the template while it is copied.
        """
        name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:16]}"
        statement = f'CREATE DATABASE "{name}"'
        if template is not None:
            statement += f' TEMPLATE "{_database_name(template)}"'
        engine = self._admin()
        try:
            with engine.connect() as connection:
                connection.execute(sa.text(statement))
        finally:
            engine.dispose()
        self._created.append(name)
        return self._url_of(name)

    def drop_database(self, url: str) -> None:
        """Drop a database :meth:`create_database` made, closing any connection left open to it."""
        name = _database_name(url)
        if not name.startswith(DATABASE_PREFIX):
            raise ValueError(f"{name!r} is not a database these tests created")
        engine = self._admin()
        try:
            with engine.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            engine.dispose()
        if name in self._created:
            self._created.remove(name)

    def drop_created_databases(self) -> None:
        for name in list(self._created):
            self.drop_database(self._url_of(name))

    def _url_of(self, name: str) -> str:
        return sa.make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def stop(self) -> None:
        """Stop the server if this process started it, and remove its folder."""
        if self._watchdog is not None:
            self._watchdog.terminate()
            self._watchdog.wait()
            self._watchdog = None
        if self.folder is None or self.bin_dir is None:
            return
        try:
            _run_as(self.user, self._stop_command(), self.folder)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def _stop_command(self) -> list[str]:
        assert self.folder is not None and self.bin_dir is not None
        return [
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.folder / "data"),
            "-m",
            "immediate",
            "-w",
            "stop",
        ]

    def _watch(self) -> None:
        """Start a process that stops the server and removes its folder once this process is gone.

        A test run killed before its teardown (a timeout's SIGTERM, a SIGKILL) would otherwise leave
        the server running for good: pg_ctl detaches it from the process that started it.
        """
        assert self.folder is not None
        self._watchdog = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WATCHDOG,
                str(os.getpid()),
                str(self.folder),
                self.user or "",
                *self._stop_command(),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Not in the test run's process group: a Ctrl-C or a kill of that group must not end it too.
            start_new_session=True,
        )


# Waits for the test process to end, then stops the server (as its user) if it still runs.
_WATCHDOG = """
import os, pwd, shutil, subprocess, sys, time
parent, folder, user, *stop = sys.argv[1:]
while True:
    try:
        os.kill(int(parent), 0)
    except ProcessLookupError:
        break
    time.sleep(1)
if os.path.isdir(folder):
    as_user = {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []} if user else {}
    subprocess.run(stop, cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, **as_user)
    shutil.rmtree(folder, ignore_errors=True)
"""


def _database_name(url: str) -> str:
    name = sa.make_url(url).database
    if not name:
        raise ValueError(f"the URL {sa.make_url(url)!r} names no database")
    return name


def _run_as(user: str | None, command: list[str], cwd: Path) -> None:
    """Run ``command`` as ``user`` (None: as this process), its output kept for the error message."""
    # Output goes to a file, not a pipe: pg_ctl's server would inherit a pipe and keep it open.
    with tempfile.TemporaryFile("w+") as output:
        completed = subprocess.run(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            user=user,
            group=None if user is None else pwd.getpwnam(user).pw_gid,
            extra_groups=None if user is None else [],
            check=False,
        )
        if completed.returncode != 0:
            output.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed ({completed.returncode}):\n{output.read()}")


def _server_user() -> str | None:
    """The user to run the server as: this process's own, or ``postgres`` when this is root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "PostgreSQL refuses to run as root and there is no 'postgres' user: "
            "`bash .ci/run` installs PostgreSQL, which creates it"
        ) from None
    return "postgres"


def start_postgres(attempts: int = 3) -> PostgresServer:
    """Start a throwaway server on 127.0.0.1; :meth:`PostgresServer.stop` stops it and removes its files.

    The database cluster uses the C locale, so text sorts by code point whatever the machine's locale.
    """
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(NOT_INSTALLED)
    user = _server_user()
    # Not a pytest tmp_path: those sit in a folder only root can enter, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="runql-postgres-"))
    server = PostgresServer("", folder=folder, bin_dir=bin_dir, user=user)
    try:
        if user is not None:
            account = pwd.getpwnam(user)
            os.chown(folder, account.pw_uid, account.pw_gid)
        password = secrets.token_hex(12)
        password_file = folder / "password"
        password_file.write_text(password + "\n")
        if user is not None:
            os.chown(password_file, account.pw_uid, account.pw_gid)
        _run_as(
            user,
            [
                str(bin_dir / "initdb"),
                "--pgdata",
                str(folder / "data"),
                "--username",
                "runql",
                "--pwfile",
                str(password_file),
                "--auth-host",
                "scram-sha-256",
                "--auth-local",
                "trust",
                "--encoding",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            folder,
        )
        password_file.unlink()
        for attempt in range(attempts):
            port = free_port()
            options = (
                f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                _run_as(
                    user,
                    [
                        str(bin_dir / "pg_ctl"),
                        "-D",
                        str(folder / "data"),
                        "-l",
                        str(folder / "server.log"),
                        "-o",
                        options,
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ],
                    folder,
                )
                break
            except RuntimeError as error:
                # Another process may have taken the port between free_port() and the start.
                if attempt == attempts - 1:
                    log = folder / "server.log"
                    raise RuntimeError(f"{error}\n{log.read_text() if log.exists() else ''}") from None
        server._watch()
        server.url = f"{DRIVER}://runql:{password}@127.0.0.1:{port}/postgres"
        # The tests' main database, as .ci/run makes one; the 'postgres' database stays the maintenance one.
        engine = server._admin()
        try:
            with engine.connect() as connection:
                connection.execute(sa.text('CREATE DATABASE "runql"'))
        finally:
            engine.dispose()
        server.url = f"{DRIVER}://runql:{password}@127.0.0.1:{port}/runql"
        return server
    except BaseException:
        # pg_ctl stop fails when the server never started; the folder goes all the same.
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
        raise


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """The server ``RUNQL_TEST_POSTGRES_URL`` names, or else one started here for the duration."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    server = PostgresServer(url) if url else start_postgres()
    try:
        yield server
    finally:
        try:
            server.drop_created_databases()
        finally:
            server.stop()


# -- MLflow's tracking server ----------------------------------------------------------------------


@contextlib.contextmanager
def mlflow_server(
    backend_store_uri: str,
    artifacts: Path,
    timeout: float = 120,
    *,
    arguments: Sequence[str] = (),
    environment: Mapping[str, str] | None = None,
    log_name: str = "mlflow-server.log",
) -> Iterator[str]:
    """An ``mlflow server`` on a free loopback port over ``backend_store_uri``; yields its URL and
    stops it (and its workers) at exit. Its output goes to ``log_name`` in ``artifacts``, shown if it
    fails to start.

    ``arguments`` are added to the command (``["--app-name", "basic-auth"]``) and ``environment`` to
    the server's environment (``{"RUNQL_PROFILE": "mlflow"}``); give servers sharing ``artifacts``
    each a ``log_name``."""
    import urllib.error
    import urllib.request

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = artifacts / log_name
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend_store_uri,
        "--default-artifact-root", artifacts.as_uri(),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        *arguments,
    ]  # fmt: skip
    with open(log_path, "w") as log:
        # A session of its own, so that stopping it stops the workers it forks as well.
        # Without its job runner (a dozen worker processes the tests never use) it starts faster.
        variables = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(environment or {})}
        server = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=variables,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2).close()
                break
            except (urllib.error.URLError, OSError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow server did not start:\n{log_path.read_text()}") from None
                time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait()
