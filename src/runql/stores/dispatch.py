"""``runql.connect``: the store that answers searches where the runs live, chosen by what the URL names.

What a URL names is read from the one table of schemes, :mod:`runql.sources.schemes`, which
:meth:`runql.Workspace.load` reads too: a tracking server's URI gives a
:class:`~runql.stores.server.ServerStore`, a database URL or a SQLite file's path a
:class:`~runql.stores.sql.SqlStore`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from runql.sources.schemes import scheme_kind
from runql.stores.server import DEADLINE, ServerStore

if TYPE_CHECKING:
    from runql.engines.sql import Schema
    from runql.profiles.catalog import Profile
    from runql.stores.sql import SqlStore

__all__ = ["connect"]


def connect(
    url: str | os.PathLike[str],
    *,
    profile: str | Profile | None = None,
    schema: Schema | None = None,
    target: str | Profile | None = None,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    pool_timeout: float | None = None,
    deadline: float | None = DEADLINE,
) -> SqlStore | ServerStore:
    """A read-only store that answers searches where the runs live.

    A database URL or a SQLite file's path gives a :class:`~runql.stores.sql.SqlStore`, which answers in
    SQL (see :func:`runql.stores.sql.connect`; ``schema`` maps tables named otherwise; ``pool_size``,
    ``max_overflow`` and ``pool_timeout`` size the pool of connections threads sharing the store draw
    from, by default 5, 10 more when those are busy, and 30 seconds of waiting for one; needs
    SQLAlchemy). A tracking server's URI (``http(s)://``, ``databricks``, ``azureml://``) gives a
    :class:`~runql.stores.server.ServerStore`, which sends the server what its language (``target``:
    ``mlflow``, or ``azureml`` for Azure ML URIs) accepts and evaluates the rest, each call within
    ``deadline`` seconds (None: no deadline; needs MLflow).
    ``profile`` is the language of the store's searches. Either store is a context manager that closes
    it. Raises :class:`~runql.StoreError` for a scheme no store reads.
    """
    text = os.fspath(url)
    if scheme_kind(text) == "mlflow":
        if schema is not None:
            raise TypeError("schema maps a database's tables: a tracking server has none")
        if (pool_size, max_overflow, pool_timeout) != (None, None, None):
            raise TypeError("pool_size, max_overflow and pool_timeout size a database's connection pool")
        return ServerStore(text, target=target, profile=profile, deadline=deadline)
    if target is not None:
        raise TypeError("target is the language of a tracking server: a database is answered in SQL")
    if deadline != DEADLINE:
        raise TypeError("deadline bounds a tracking server's answers: a database is answered in SQL")
    # Imported here: it needs SQLAlchemy, and without it names the extra to install.
    from runql.stores.sql import SqlStore

    return SqlStore(
        text,
        profile=profile,
        schema=schema,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
    )
