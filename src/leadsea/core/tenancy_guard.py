"""Runtime check that every query of a tenant-owned table filters on tenant_id.

Installed on every database connection when settings.TENANT_QUERY_GUARD is on (tests, DEBUG). Code that is
cross-tenant by design (token lookup, a user's own memberships, the sweep, the admin) says so explicitly
with `unscoped()`.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

_exempt: contextvars.ContextVar[bool] = contextvars.ContextVar("leadsea_unscoped", default=False)
_TABLE_RE = re.compile(r'\b(?:FROM|JOIN|UPDATE)\s+"?([A-Za-z0-9_]+)"?', re.IGNORECASE)
# A tenant filter is a predicate on tenant_id in the WHERE part: the select list of every model query and
# the SET list of every save() name the column too, a JOIN's ON clause is no filter, and neither is
# exclude(tenant=...) (NOT (tenant_id = %s): every other tenant).
_WHERE_RE = re.compile(r"\bWHERE\b", re.IGNORECASE)
_TENANT_PREDICATE_RE = re.compile(r'(NOT\s*\(\s*)?(?:"?\w+"?\.)?"?\btenant_id"?\s*(?:=|IN\b)', re.IGNORECASE)


class UnscopedQueryError(AssertionError):
    """A tenant-owned table was queried without a tenant filter."""


@contextmanager
def unscoped() -> Iterator[None]:
    token = _exempt.set(True)
    try:
        yield
    finally:
        _exempt.reset(token)


@cache
def tenant_tables() -> frozenset[str]:
    from django.apps import apps

    from leadsea.core.models import TenantModel

    return frozenset(m._meta.db_table for m in apps.get_models() if issubclass(m, TenantModel))


def check_sql(sql: str) -> None:
    if _exempt.get():
        return
    head = sql.lstrip()[:10].upper()
    if not head.startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
        return
    if head.startswith("DELETE") and " WHERE " not in sql.upper():
        return  # test-database flush; application code never deletes a whole table
    tables = set(_TABLE_RE.findall(sql)) & tenant_tables()
    if tables and not _has_tenant_filter(sql):
        raise UnscopedQueryError(f"query on {sorted(tables)} without a tenant filter: {sql[:300]}")


def _has_tenant_filter(sql: str) -> bool:
    where = _WHERE_RE.search(sql)
    if where is None:
        return False
    return any(m.group(1) is None for m in _TENANT_PREDICATE_RE.finditer(sql, where.end()))


def _guard(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
    check_sql(sql)
    return execute(sql, params, many, context)


def install_guard(sender: Any, connection: Any, **kwargs: Any) -> None:
    if _guard not in connection.execute_wrappers:
        connection.execute_wrappers.append(_guard)
