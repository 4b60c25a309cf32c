"""Raw queries on the hot paths (nearby search, a BD's pools): fetch rows with as little work per call as the
database allows.

On PostgreSQL the statement runs on a server-side-binding psycopg cursor as a prepared statement: the server
plans it once per connection instead of on every call (planning was a third of the nearby display query's
server time), and timestamps come through psycopg's C loader instead of the pure-Python one Django installs
for its ORM. Callers write PostgreSQL-shaped SQL for this path: a list is one parameter (`= ANY(%s)`), so the
statement text, and with it the prepared plan, does not change with the list's length.

The connection runs with `plan_cache_mode = force_generic_plan` (settings.py): prepared statements use their
generic plan instead of planning again on every call (PostgreSQL's default keeps custom plans when their
estimate beats the generic one, which for the nearby statement meant 0.6 ms of planning per call). Only these
statements are prepared: Django's own queries use client-side binding and are never prepared.

Everything else Django's cursor gives still holds: the connection's execute wrappers run (the tenant query
guard among them), errors are Django's, a broken transaction is refused, and the query is logged where Django
logs queries (tests counting queries see it). Set LEADSEA_PG_PREPARED_STATEMENTS=false behind a pooler that
cannot keep prepared statements (PgBouncer in transaction mode before 1.21)."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection

__all__ = ["fetchall", "prepared"]

_NEVER = 2**31 - 1  # executions before psycopg prepares a statement on its own: never


def prepared() -> bool:
    """Whether fetchall runs prepared statements on this connection (PostgreSQL, unless turned off)."""
    return connection.vendor == "postgresql" and getattr(settings, "PG_PREPARED_STATEMENTS", True)


def fetchall(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one SELECT and return its rows. The SQL must suit the backend: on PostgreSQL lists are array
    parameters (see the module docstring); on SQLite this is Django's plain cursor."""
    if not prepared():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        cursor = _cursor()
        executor = functools.partial(_execute, cursor)
        for wrapper in reversed(connection.execute_wrappers):
            executor = functools.partial(wrapper, executor)
        if connection.queries_logged:
            began = time.monotonic()
            try:
                return executor(sql, params, False, {"connection": connection, "cursor": cursor})  # type: ignore[no-any-return]
            finally:
                connection.queries_log.append(
                    {"sql": f"{sql} -- {list(params)!r}", "time": f"{time.monotonic() - began:.3f}"}
                )
        return executor(sql, params, False, {"connection": connection, "cursor": cursor})  # type: ignore[no-any-return]


def _execute(cursor: Any, sql: str, params: Sequence[Any], many: bool, context: Any) -> list[tuple[Any, ...]]:
    cursor.execute(sql, params, prepare=True)
    return cursor.fetchall()  # type: ignore[no-any-return]


def _cursor() -> Any:
    """This connection's hot-path cursor, made once per database connection."""
    import psycopg
    from psycopg.pq import Format

    connection.ensure_connection()
    raw = connection.connection
    cursor = getattr(connection, "_leadsea_hot_cursor", None)
    if cursor is None or cursor.closed or cursor.connection is not raw:
        if raw.prepare_threshold is None:
            # Django turns psycopg's prepared statements off (prepare_threshold None), and then even an
            # explicit prepare=True runs unprepared. Its own queries go through ClientCursor, which never
            # prepares, so a threshold no query reaches lets ours be prepared and nothing else.
            raw.prepare_threshold = _NEVER
        cursor = psycopg.Cursor(raw)
        # psycopg's own loader (C when psycopg-binary is installed) for timestamptz: Django's pure-Python
        # subclass exists only to pick a time zone, and the connection's is already UTC.
        loader = psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, Format.TEXT)
        if loader is not None:
            cursor.adapters.register_loader("timestamptz", loader)
        connection._leadsea_hot_cursor = cursor  # type: ignore[attr-defined]
    return cursor
