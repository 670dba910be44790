"""A compiled registry query as SQL over MLflow's registry tables: one SQLAlchemy ``Select`` of the names of
registered models, or of the (name, version) of model versions, in MLflow's order, one page of them.

It answers what :mod:`runql.engines.registry` answers in memory: each clause's true and false sets (as a
run query's, :mod:`runql.engines.sql`), tags as semi-joins on their tables, prompts kept or left out as
:func:`~runql.engines.registry.prompt_scope` says, a version in MLflow's internal ``Deleted_Internal`` stage
never found, and the order of :func:`~runql.engines.semantics.registry_order` with missing values last.
Only the default workspace's rows are read, as the registry's reader does. Every value reaches the
database as a bound parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runql.common.optional import require
from runql.engines.registry import prompt_scope
from runql.engines.semantics import registry_order
from runql.engines.sql import ColumnTruthSets, DistinctValues, storable
from runql.language.ast import Compare, Entity, In, IsNull, Key
from runql.language.attributes import ENTITY_NUMERIC_ATTRIBUTES
from runql.model.registry import PROMPT_TAG
from runql.profiles.compiled import CompiledQuery

require("sqlalchemy", "mlflow-db", "runql.engines.sql_registry")

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.sql.elements import ColumnElement  # noqa: E402

__all__ = ["REGISTRY_TABLES", "registry_select"]

Condition = ColumnElement[bool]

REGISTRY_TABLES = ("registered_models", "registered_model_tags", "model_versions", "model_version_tags")
"""The tables a registry search reads, reflected from the database by the caller (a database from before
MLflow's workspaces has no ``workspace`` column)."""

_DELETED_INTERNAL = "Deleted_Internal"
_DEFAULT_WORKSPACE = "default"
# An attribute's column, where its name is not the attribute's.
_COLUMNS = {
    "creation_timestamp": "creation_time",
    "last_updated_timestamp": "last_updated_time",
    "source_path": "source",
    "version_number": "version",
}


def _in_workspace(table: sa.Table) -> Condition:
    return table.c.workspace == _DEFAULT_WORKSPACE if "workspace" in table.c else sa.true()


@dataclass
class _Compiler(ColumnTruthSets):
    rows: sa.Table = field(kw_only=True)  # registered_models or model_versions
    tags: sa.Table = field(kw_only=True)  # their tags
    owner: tuple[str, ...] = field(kw_only=True)  # the columns a tag's row shares with its owner's
    numbers: frozenset[str] = field(kw_only=True)

    def tag_rows(self, key: str) -> Condition:
        """The rows of the current model's (or version's) tag ``key``."""
        shared = (self.tags.c[c] == self.rows.c[c] for c in self.owner)
        return sa.and_(
            *shared, _in_workspace(self.tags), self.tags.c.key == key, self.tags.c.value.is_not(None)
        )

    def clause(self, node: Compare | In | IsNull) -> tuple[Condition, Condition]:
        key = node.key
        if key.entity is Entity.ATTRIBUTE:
            column = self.attribute(key)
            present: Condition = column.is_not(None)
            if isinstance(node, IsNull):
                return (present, ~present) if node.negated else (~present, present)
            holds = self.compare(node, column, key.name in self.numbers, None)
            return sa.and_(present, holds), sa.and_(present, sa.not_(holds))
        if not storable(key.name, self.dialect):  # no model has the tag
            if isinstance(node, IsNull):
                return (sa.false(), sa.true()) if node.negated else (sa.true(), sa.false())
            return sa.false(), sa.false()
        rows = self.tag_rows(key.name)
        if isinstance(node, IsNull):
            held = sa.exists().where(rows)
            return (held, sa.not_(held)) if node.negated else (sa.not_(held), held)
        holds = self.compare(node, self.tags.c.value, False, self.tags.c.key == key.name)
        return sa.exists().where(rows, holds), sa.exists().where(rows, sa.not_(holds))

    def attribute(self, key: Key) -> Any:
        return self.rows.c[_COLUMNS.get(key.name, key.name)]

    def sort_value(self, key: Key) -> Any:
        column = self.attribute(key)
        if key.name in self.numbers or self.dialect != "postgresql":
            return column
        return column.collate("C")  # text by code point, as runql orders it everywhere


def _is_prompt(tags: sa.Table, owner: sa.Table) -> Condition:
    """Whether ``owner``'s model is a prompt: it, or one of its versions, carries the prompt tag."""
    return sa.exists().where(
        tags.c.name == owner.c.name,
        _in_workspace(tags),
        tags.c.key == PROMPT_TAG,
        sa.func.lower(tags.c.value) == "true",
    )


def registry_select(
    compiled: CompiledQuery,
    tables: Mapping[str, sa.Table],
    dialect: str,
    *,
    prompts: bool = False,
    limit: int | None = None,
    offset: int = 0,
    distinct_values: DistinctValues | None = None,
) -> sa.Select[Any]:
    """The names of the registered models (or the name and version of the model versions) ``compiled``
    selects, in MLflow's order, from ``offset`` on, at most ``limit``; prompts alone with ``prompts``.
    ``tables`` are :data:`REGISTRY_TABLES`, by name."""
    query, keep = prompt_scope(compiled, prompts)
    entity = compiled.entity
    owner: tuple[str, ...]
    if entity == "registered_models":
        rows, tags, owner = tables["registered_models"], tables["registered_model_tags"], ("name",)
        selected = [rows.c.name]
        conditions: list[Condition] = [_in_workspace(rows)]
        prompt = _is_prompt(tags, rows)
    elif entity == "model_versions":
        rows, tags, owner = tables["model_versions"], tables["model_version_tags"], ("name", "version")
        selected = [rows.c.name, rows.c.version]
        stage = rows.c.current_stage
        conditions = [_in_workspace(rows), sa.or_(stage.is_(None), stage != _DELETED_INTERNAL)]
        prompt = _is_prompt(tags, rows)
    else:
        raise ValueError("registry_select compiles registered-model and model-version queries")
    if keep is not None:
        conditions.append(prompt if keep else sa.not_(prompt))
    compiler = _Compiler(
        dialect,
        query.profile.database_patterns,
        distinct_values,
        rows=rows,
        tags=tags,
        owner=owner,
        numbers=ENTITY_NUMERIC_ATTRIBUTES[entity],
    )
    if query.query.filter is not None:
        conditions.append(compiler.true(query.query.filter))
    order: list[Any] = []
    for sort_key in registry_order(query.query.order_by, entity):
        value = compiler.sort_value(sort_key.key)
        # Missing values last either way (SQLite and PostgreSQL read NULLS LAST); each value read once.
        order.append((value.desc() if sort_key.descending else value.asc()).nulls_last())
    statement = sa.select(*selected).where(*conditions).order_by(*order)
    if limit is not None:
        statement = statement.limit(limit)
    return statement.offset(offset) if offset else statement
