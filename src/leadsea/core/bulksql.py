"""Bulk writes for batch paths (intake above all): many plain value rows in one statement, no model objects.

On PostgreSQL inserts go through COPY and updates through one UPDATE ... FROM json_to_recordset(...): the
server parses one statement instead of one per row (an executemany of INSERTs cost about 70 µs a row, COPY a
few).
On SQLite, where a statement costs little, both are an executemany. Values are given by field attname
(`lead_id`), in the order of `names`; JSON values are dumped here, datetimes adapted as Django would.
Every column not named must have a database default or be nullable. Callers own the tenant scoping: every
row they insert carries its tenant_id, and update_rows always filters on the tenant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, connections, models

from leadsea.core import jsontext

__all__ = ["insert_objects", "insert_rows", "int_array", "reserve_ids", "update_rows"]


def _fields(model: type[models.Model], names: Sequence[str]) -> list[models.Field[Any, Any]]:
    by_name = {f.attname: f for f in model._meta.concrete_fields}
    return [by_name[n] for n in names]


def _prepared(
    fields: list[models.Field[Any, Any]], rows: Sequence[Sequence[Any]], *, json_text: bool = False
) -> list[list[Any]]:
    """The rows with JSON dumped (PostgreSQL and SQLite both take JSON as text; `json_text`: the callers
    dumped it) and datetimes adapted."""
    json_at = [] if json_text else [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    time_at = [i for i, f in enumerate(fields) if isinstance(f, models.DateTimeField)]
    if not json_at and not time_at:
        return [list(row) for row in rows]
    adapt = connection.ops.adapt_datetimefield_value
    out = []
    for row in rows:
        values = list(row)
        for i in json_at:
            if values[i] is not None:
                values[i] = jsontext.dumps(values[i])
        for i in time_at:
            values[i] = adapt(values[i])
        out.append(values)
    return out


def int_array(values: Sequence[int]) -> str:
    """Integers as a PostgreSQL array literal, for `= ANY(%s::bigint[])`: psycopg's list dumper costs about
    25 µs per thousand values more, and a long IN (...) list costs its parse on both sides."""
    return "{" + ",".join(map(str, map(int, values))) + "}"


def insert_rows(
    model: type[models.Model], names: Sequence[str], rows: Sequence[Sequence[Any]], *, json_text: bool = False
) -> None:
    """INSERT the rows into the model's table: COPY on PostgreSQL, one executemany elsewhere. `json_text`:
    the values of JSON columns are JSON text already."""
    if not rows:
        return
    fields = _fields(model, names)
    values = _prepared(fields, rows, json_text=json_text)
    table, columns = model._meta.db_table, ", ".join(f.column for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # psycopg's own cursor: its errors are turned into Django's (IntegrityError and the like)
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
            ):
                for row in values:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(fields))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)


def reserve_ids(model: type[models.Model], n: int) -> list[int]:
    """n ids of the model's table that no other transaction will take (PostgreSQL: from its sequence)."""
    pk = model._meta.pk
    assert pk is not None and connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, pk.column, n],
        )
        return [row[0] for row in cursor.fetchall()]


def insert_objects(objs: Sequence[models.Model]) -> None:
    """INSERT new instances of one model and set their primary keys. On PostgreSQL the ids are drawn from the
    table's sequence in one query (unless the instances have them, from reserve_ids) and the rows go through
    COPY: bulk_create sends each column as an array that psycopg dumps value by value in Python (a third of
    a millisecond per intake record). Elsewhere, bulk_create. Every concrete field is written as bulk_create
    would write it: after its pre_save (auto_now and the like) and its conversion for the database; the
    rows go through insert_rows."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs, batch_size=500)
        return
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    if getattr(objs[0], pk.attname) is None:
        for obj, pk_value in zip(objs, reserve_ids(model, len(objs)), strict=True):
            setattr(obj, pk.attname, pk_value)
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias
    fields = list(meta.concrete_fields)
    # A field whose value goes as the attribute is (no pre_save of its own, no conversion; JSON is dumped by
    # insert_rows), the others through pre_save and get_db_prep_save, as bulk_create does.
    plain = (models.CharField, models.TextField, models.IntegerField, models.FloatField, models.BooleanField)
    as_is = [
        type(f).pre_save is models.Field.pre_save
        and (
            isinstance(f, models.JSONField)
            or f is pk
            or f.is_relation
            or (isinstance(f, plain) and not f.choices)
        )
        for f in fields
    ]
    # The connection itself, not the proxy (a context-local look-up on every use inside the conversions);
    # each field's conversion once per distinct value: a batch's rows share their datetimes and choices.
    conn = connections[connection.alias]
    caches: list[dict[tuple[type, Any], Any]] = [{} for _f in fields]
    rows = []
    for obj in objs:
        row = []
        for f, same, cache in zip(fields, as_is, caches, strict=True):
            if same:
                row.append(getattr(obj, f.attname))
                continue
            value = f.pre_save(obj, True)
            try:
                key = (type(value), value)
                if key not in cache:
                    cache[key] = f.get_db_prep_save(value, conn)
                row.append(cache[key])
            except TypeError:  # unhashable
                row.append(f.get_db_prep_save(value, conn))
        rows.append(row)
    insert_rows(model, [f.attname for f in fields], rows)


def update_rows(
    model: type[models.Model], tenant_id: int, names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """UPDATE the named columns of rows given as (id, value, ...) in the order of `names`, each row scoped to
    the tenant: one UPDATE ... FROM json_to_recordset(...) on PostgreSQL, one executemany elsewhere."""
    if not rows:
        return
    fields = _fields(model, names)
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The rows travel as one JSON document (dumped in C, parsed by the server in one pass): JSON
            # columns stay nested values, datetimes ISO strings that the record's column type parses.
            types = []
            for f in fields:
                db_type = "jsonb" if isinstance(f, models.JSONField) else f.db_type(connection)
                types.append(_element_type(db_type))
            time_at = [i for i, f in enumerate(fields) if isinstance(f, models.DateTimeField)]
            docs = []
            for row in rows:
                doc = {"id": row[0]}
                for i, value in enumerate(row[1:]):
                    doc[f"c{i}"] = value.isoformat() if i in time_at and value is not None else value
                docs.append(doc)
            sets = ", ".join(f"{f.column} = v.c{i}" for i, f in enumerate(fields))
            record = ", ".join(["id bigint", *(f"c{i} {t}" for i, t in enumerate(types))])
            cursor.execute(
                f"UPDATE {table} AS t SET {sets} FROM json_to_recordset(%s::json) AS v({record}) "
                "WHERE t.tenant_id = %s AND t.id = v.id",
                [jsontext.dumps(docs, default=str), tenant_id],
            )
            return
        values = _prepared(fields, [row[1:] for row in rows])
        assignments = ", ".join(f"{f.column} = %s" for f in fields)
        cursor.executemany(
            f"UPDATE {table} SET {assignments} WHERE tenant_id = %s AND id = %s",
            [[*value, tenant_id, row[0]] for row, value in zip(rows, values, strict=True)],
        )


def _element_type(db_type: str | None) -> str:
    """The type of a column in the JSON record: varchar(n) as text (the length was checked when the value
    was made), the rest as the column's own type."""
    if db_type is None:
        raise ValueError("a column without a database type cannot be bulk updated")
    if db_type.startswith("varchar") or db_type.startswith("character varying"):
        return "text"
    return db_type
