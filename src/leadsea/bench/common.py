"""Shared benchmark plumbing: a throwaway tenant with BDs, fast bulk inserts of leads, cleanup."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Model

from leadsea.core.models import TenantModel
from leadsea.core.tenancy_guard import unscoped
from leadsea.leads.models import Lead
from leadsea.tenancy.models import Membership, OrgUnit, Tenant
from leadsea.tenancy.services import org_root, org_unit_create, tenant_create, user_create


def prepare_database() -> None:
    call_command("migrate", interactive=False, verbosity=0)


def bench_tenant(prefix: str, bds: int) -> tuple[Tenant, OrgUnit, list[Membership], Membership]:
    slug = f"{prefix}-{time.time_ns() % 10**10}"
    tenant = tenant_create(slug=slug, name=f"bench {slug}")
    team = org_unit_create(tenant=tenant, name="bench team", kind="team", parent=org_root(tenant=tenant))
    admin = user_create(tenant=tenant, username=f"{slug}-admin", password="bench-password-1", role="admin")
    members = [
        user_create(
            tenant=tenant, username=f"{slug}-bd{i}", password="bench-password-1", role="bd", org_unit=team
        )
        for i in range(bds)
    ]
    return tenant, team, members, admin


def insert_leads(
    *,
    tenant: Tenant,
    pool_id: int,
    n: int,
    owners: list[int] | None = None,
    now: datetime,
    expired_every: int = 0,
    claimed_at: datetime | None = None,
    expires_ok: datetime | None = None,
    expires_past: datetime | None = None,
    name_prefix: str = "店",
) -> None:
    """Insert n leads with one set-based statement (generate_series / a recursive CTE), not a loop.
    With owners, leads are private, owned round-robin; every `expired_every`-th one is past its deadline."""
    t = Lead._meta.db_table
    ops = connection.ops
    p: dict[str, Any] = {
        "tenant": tenant.pk,
        "pool": pool_id,
        "n": n,
        "now": ops.adapt_datetimefield_value(now),
        "claimed": ops.adapt_datetimefield_value(claimed_at) if claimed_at else None,
        "ok": ops.adapt_datetimefield_value(expires_ok) if expires_ok else None,
        "past": ops.adapt_datetimefield_value(expires_past) if expires_past else None,
        "prefix": name_prefix,
    }
    pg = connection.vendor == "postgresql"
    if owners:
        owner = "CASE g %% {k} {whens} END".format(
            k=len(owners), whens=" ".join(f"WHEN {i} THEN {uid}" for i, uid in enumerate(owners))
        )
        expires = (
            f"CASE WHEN g %% {expired_every} = 0 THEN %(past)s ELSE %(ok)s END" if expired_every else "%(ok)s"
        )
        claimed, clock = "%(claimed)s", "'no_visit'"
    else:
        owner = expires = claimed = "NULL"
        clock = "''"
    jsonb = "::jsonb" if pg else ""
    select = f"""
        SELECT %(tenant)s, 'poi', %(prefix)s || g, '', '', '', '', '', '', '', '[]'{jsonb}, NULL, NULL,
               'bench', 'new', {owner}, '{{}}'{jsonb}, %(prefix)s || g, NULL, %(now)s, %(now)s, %(pool)s,
               NULL, {claimed}, NULL, NULL, {expires}, {expires}, {expires}, {expires}, {clock}, 0, 0, FALSE,
               NULL"""
    cols = """(tenant_id, kind, name, branch_name, category, address, province, city, district, phone, phones,
        lat, lng, source_channel, status, owner_id, custom_data, search_text, created_by_id, created_at,
        updated_at, pool_id, stage_id, claimed_at, last_visit_at, last_progress_at, protection_until,
        visit_due_at, progress_due_at, expires_at, expiry_clock, self_extensions_used, extension_days, locked,
        signed_at)"""
    if pg:
        sql = f"INSERT INTO {t} {cols} {select} FROM generate_series(1, %(n)s) AS s(g)"
    else:
        sql = (
            f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %(n)s) "
            f"INSERT INTO {t} {cols} {select} FROM s"
        )
    with unscoped(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, p)


def analyze() -> None:
    """Refresh the planner's statistics after a bulk load."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _unindexed_lead_references(cursor: Any) -> list[tuple[str, str]]:
    """(table, column) of every foreign key to leads_lead that no index starts with (Lead.merged_into, for
    one): deleting a lead checks each of them, and without an index every check scans the whole table, so
    deleting n leads costs n table scans (quadratic: 8 minutes for 50,000 leads on SQLite)."""
    out: list[tuple[str, str]] = []
    for model in apps.get_models():
        fks = [
            f
            for f in model._meta.concrete_fields
            if f.many_to_one and f.db_constraint and f.related_model is Lead  # type: ignore[attr-defined]
        ]
        if not fks:
            continue
        table = model._meta.db_table
        constraints = connection.introspection.get_constraints(cursor, table)
        leading = {
            c["columns"][0]
            for c in constraints.values()
            if c["columns"] and (c["index"] or c["unique"] or c["primary_key"])
        }
        out.extend((table, f.column) for f in fks if f.column not in leading)
    return out


def _empty_first(tenant: Tenant, log: Callable[[str], None]) -> None:
    """Empty the tenant's rows of the big tables that point at leads (visits, the custom-field side index)
    first, each in its own transaction, vacuumed on PostgreSQL unless inside a transaction (where VACUUM
    cannot run): the checks of the foreign keys of the lead deletes then find nothing there, not even dead
    rows. (Before visits_visit.lead_id and corrects_id had indexes of their own, 100,000 visits left in
    place made dropping 2,000,000 leads take 476 s on SQLite.)"""
    from leadsea.metadata.models import CustomValue
    from leadsea.visits.models import Visit

    for model in (Visit, CustomValue):
        began = time.perf_counter()
        table = model._meta.db_table
        with unscoped(), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant.pk])
            deleted = cursor.rowcount
        if connection.vendor == "postgresql" and deleted and not connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute(f"VACUUM {table}")
        if deleted:
            log(f"deleted {deleted} rows of {table} first in {time.perf_counter() - began:.1f}s")


# Tables a bench keeps of its own (no model, no migration), with a tenant_id column: emptied with the tenant.
BENCH_TABLES = ("bench_intake_truth",)


def drop_tenant(tenant: Tenant, log: Callable[[str], None]) -> None:
    """Delete a benchmark tenant and all its rows; every bench cleans up with it. The big tables that point at
    leads are emptied first (_empty_first); then every tenant table, children first, set-based (one
    statement per table), in one transaction. A foreign key to leads_lead without an index of its own gets a
    temporary one for the deletes (see _unindexed_lead_references), dropped again in the same transaction.
    The benches' own tables (BENCH_TABLES) lose the tenant's rows first."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        present = set(connection.introspection.table_names(cursor))
        for table in BENCH_TABLES:
            if table in present:
                cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant.pk])
    _empty_first(tenant, log)
    order = [
        "pools_ledgerentry",
        "pools_poolquota",
        "pipeline_opportunity",
        "leads_leadtag",
        "audit_changelog",
        "tenancy_apitoken",
    ]
    tables = order + [
        m._meta.db_table
        for m in apps.get_models()
        if issubclass(m, TenantModel) and m._meta.db_table not in order
    ]
    # leads last among the tenant's tables: every table pointing at them is empty by then
    tables = [t for t in tables if t != Lead._meta.db_table] + [Lead._meta.db_table]
    # One transaction: foreign keys are checked at commit (deferred), when every row of the tenant is gone.
    with unscoped(), transaction.atomic(), connection.cursor() as cursor:
        temporary = []
        for i, (table, column) in enumerate(_unindexed_lead_references(cursor)):
            name = f"bench_drop_tmp_{i}"
            cursor.execute(f"CREATE INDEX {name} ON {table} ({column})")
            temporary.append(name)
        cursor.execute(
            f"UPDATE {Lead._meta.db_table} SET stage_id = NULL, merged_into_id = NULL WHERE tenant_id = %s",
            [tenant.pk],
        )
        for table in tables:
            if table in ("tenancy_membership", "tenancy_orgunit"):
                continue
            t0 = time.perf_counter()
            cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant.pk])
            if time.perf_counter() - t0 > 5.0:
                log(f"  deleted {cursor.rowcount} rows of {table} in {time.perf_counter() - t0:.1f}s")
        users = list(Membership.objects.filter(tenant=tenant).values_list("user_id", flat=True))
        cursor.execute("DELETE FROM tenancy_membership WHERE tenant_id = %s", [tenant.pk])
        cursor.execute("UPDATE tenancy_orgunit SET parent_id = NULL WHERE tenant_id = %s", [tenant.pk])
        cursor.execute("DELETE FROM tenancy_orgunit WHERE tenant_id = %s", [tenant.pk])
        from django.contrib.auth import get_user_model

        get_user_model().objects.filter(pk__in=users).delete()
        Tenant.objects.filter(pk=tenant.pk).delete()
        for name in temporary:
            cursor.execute(f"DROP INDEX {name}")
    log(f"cleaned up {tenant.slug} in {time.perf_counter() - started:.1f}s")


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """(seconds, result) of one call, on the performance counter."""
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0 < q <= 1) of values by the nearest-rank method: p99 of 2000 is the 1980th."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def default_columns(model: type[Model], given: set[str]) -> list[tuple[str, Any]]:
    """(column, value) for every concrete column of model that a set-based INSERT does not name itself: the
    field's default (prepared for the database), else "" for text, else NULL. Keeps hand-written
    INSERT ... SELECT statements working when a field with a default is added to the model."""
    out: list[tuple[str, Any]] = []
    for field in model._meta.concrete_fields:
        if field.column in given or field.primary_key:
            continue
        if not (field.has_default() or field.null or field.empty_strings_allowed):
            raise ValueError(f"{model.__name__}.{field.name} has no default: the INSERT must give it")
        # get_default(): the default, else "" (text fields), else None
        out.append((field.column, field.get_db_prep_save(field.get_default(), connection)))
    return out


def insert_select_sql(
    model: type[Model], columns: dict[str, str], tail: str, params: dict[str, Any], head: str = ""
) -> str:
    """`{head} INSERT INTO <table> (<columns>) SELECT <expressions> {tail}` with pyformat (named) parameters;
    every column not in `columns` gets its default (default_columns), its value added to params."""
    exprs = dict(columns)
    for column, value in default_columns(model, set(columns)):
        exprs[column] = f"%(default_{column})s"
        params[f"default_{column}"] = value
    return (
        f"{head} INSERT INTO {model._meta.db_table} ({', '.join(exprs)}) "
        f"SELECT {', '.join(exprs.values())} {tail}"
    )


def vacuum_analyze(models: list[type[Model]]) -> None:
    """What autovacuum does soon after a bulk load, done now so that every run measures the same state: on
    PostgreSQL VACUUM (ANALYZE) sets hint bits and the visibility map (index-only scans) and refreshes the
    statistics; on SQLite ANALYZE."""
    if connection.vendor != "postgresql":
        analyze()
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
