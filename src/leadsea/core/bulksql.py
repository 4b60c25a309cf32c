"""Bulk writes for batch paths (intake above all): many plain value rows in one statement, no model objects.

On PostgreSQL inserts go through COPY and updates through one UPDATE ... FROM unnest(arrays): the server
parses one statement instead of one per row (an executemany of INSERTs cost about 70 µs a row, COPY a few).
On SQLite, where a statement costs little, both are an executemany. Values are given by field attname
(`lead_id`), in the order of `names`; JSON values are dumped here, datetimes adapted as Django would.
Every column not named must have a database default or be nullable. Callers own the tenant scoping: every
row they insert carries its tenant_id, and update_rows always filters on the tenant."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection, models

__all__ = ["insert_rows", "update_rows"]


def _fields(model: type[models.Model], names: Sequence[str]) -> list[models.Field[Any, Any]]:
    by_name = {f.attname: f for f in model._meta.concrete_fields}
    return [by_name[n] for n in names]


def _prepared(fields: list[models.Field[Any, Any]], rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """The rows with JSON dumped (PostgreSQL and SQLite both take JSON as text) and datetimes adapted."""
    json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    time_at = [i for i, f in enumerate(fields) if isinstance(f, models.DateTimeField)]
    if not json_at and not time_at:
        return [list(row) for row in rows]
    adapt, dumps = connection.ops.adapt_datetimefield_value, json.dumps
    out = []
    for row in rows:
        values = list(row)
        for i in json_at:
            if values[i] is not None:
                values[i] = dumps(values[i], ensure_ascii=False)
        for i in time_at:
            values[i] = adapt(values[i])
        out.append(values)
    return out


def insert_rows(model: type[models.Model], names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT the rows into the model's table: COPY on PostgreSQL, one executemany elsewhere."""
    if not rows:
        return
    fields = _fields(model, names)
    values = _prepared(fields, rows)
    table, columns = model._meta.db_table, ", ".join(f.column for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(fields))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)


def update_rows(
    model: type[models.Model], tenant_id: int, names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """UPDATE the named columns of rows given as (id, value, ...) in the order of `names`, each row scoped to
    the tenant: one UPDATE ... FROM unnest(...) on PostgreSQL, one executemany elsewhere."""
    if not rows:
        return
    fields = _fields(model, names)
    values = [
        [row[0], *rest] for row, rest in zip(rows, _prepared(fields, [row[1:] for row in rows]), strict=True)
    ]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array parameter per column; JSON travels as text and is cast per element.
            arrays = ["%s::bigint[]"]
            sets: list[str] = []
            for f in fields:
                db_type = "jsonb" if isinstance(f, models.JSONField) else f.db_type(connection)
                arrays.append("%s::text[]" if db_type == "jsonb" else f"%s::{_array_type(db_type)}[]")
                cast = "::jsonb" if db_type == "jsonb" else ""
                sets.append(f"{f.column} = v.c{len(sets)}{cast}")
            aliases = ", ".join(["id", *(f"c{i}" for i in range(len(fields)))])
            sql = (
                f"UPDATE {table} AS t SET {', '.join(sets)} "
                f"FROM unnest({', '.join(arrays)}) AS v({aliases}) WHERE t.tenant_id = %s AND t.id = v.id"
            )
            columns = [list(col) for col in zip(*values, strict=True)]
            cursor.execute(sql, [*columns, tenant_id])
            return
        assignments = ", ".join(f"{f.column} = %s" for f in fields)
        cursor.executemany(
            f"UPDATE {table} SET {assignments} WHERE tenant_id = %s AND id = %s",
            [[*row[1:], tenant_id, row[0]] for row in values],
        )


def _array_type(db_type: str | None) -> str:
    """The element type of a column's array parameter: varchar(n) as text (no length check needed again),
    the rest as the column's own type."""
    if db_type is None:
        raise ValueError("a column without a database type cannot be bulk updated")
    if db_type.startswith("varchar") or db_type.startswith("character varying"):
        return "text"
    return db_type
