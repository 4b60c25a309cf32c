"""Reads on pools: membership, policy, a user's holdings, the ledger, leads about to drop."""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from leadsea.core import clock, hotsql
from leadsea.core.errors import NotFound
from leadsea.leads.models import Lead
from leadsea.pools.models import LedgerEntry, Pool, PoolMember
from leadsea.tenancy.models import Membership, OrgUnit, Tenant


def public_q(now: datetime) -> Q:
    """Unowned, or owned but past its deadline (reads are right even before the sweep runs)."""
    return Q(owner__isnull=True) | Q(expires_at__lte=now)


def live_q(now: datetime) -> Q:
    """Owned and still protected (locked and signed leads have no deadline)."""
    return Q(owner__isnull=False) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def pool_ids_sql(*, tenant_id: int, membership: Membership) -> tuple[str, list[Any]]:
    """A SELECT of the ids of the pools a member belongs to (see pool_ids_of), with its parameters: the one
    statement of the rule, run alone by pool_ids_of and nested as a subquery by the nearby search."""
    path = (membership.org_unit.path if membership.org_unit_id and membership.org_unit else None) or ""
    supervisor = membership.role in (Membership.Role.MANAGER, Membership.Role.OPS)
    # An org unit's path is a prefix of the paths below it: "at or above theirs" is "a prefix of my path".
    sql = (
        f"SELECT m.pool_id FROM {PoolMember._meta.db_table} m "
        f"LEFT JOIN {OrgUnit._meta.db_table} u ON u.tenant_id = m.tenant_id AND u.id = m.org_unit_id "
        "WHERE m.tenant_id = %s AND (m.user_id = %s OR (u.path <> '' AND %s <> '' AND "
        "(substr(%s, 1, length(u.path)) = u.path OR (%s AND substr(u.path, 1, length(%s)) = %s))))"
    )
    return sql, [tenant_id, membership.user_id, path, path, supervisor, path, path]


def pool_ids_of(*, tenant: Tenant, membership: Membership) -> list[int]:
    """Pools a member belongs to: listed directly, or through an org unit at or above theirs. A supervisor
    (manager, ops) also works the pools of the units below them."""
    # Raw SQL: this runs on every claim; building the ORM query cost more than running it.
    sql, params = pool_ids_sql(tenant_id=tenant.pk, membership=membership)
    return sorted({pool_id for (pool_id,) in hotsql.fetchall(sql, params)})


def pool_admin_ids_of(*, tenant: Tenant, membership: Membership) -> list[int]:
    if membership.role == Membership.Role.ADMIN:
        return list(Pool.objects.filter(tenant=tenant).values_list("id", flat=True))
    return list(
        PoolMember.objects.filter(tenant=tenant, user_id=membership.user_id, is_admin=True).values_list(
            "pool_id", flat=True
        )
    )


def pools_visible(*, tenant: Tenant, membership: Membership) -> QuerySet[Pool]:
    qs = Pool.objects.filter(tenant=tenant).order_by("-is_default", "name")
    if membership.sees_whole_tenant:
        return qs
    return qs.filter(pk__in=pool_ids_of(tenant=tenant, membership=membership))


def pool_get(*, tenant: Tenant, membership: Membership, pool_id: int) -> Pool:
    pool = pools_visible(tenant=tenant, membership=membership).filter(pk=pool_id).first()
    if pool is None:
        raise NotFound(_("Pool not found."), code="pool_not_found")
    return pool


def default_pool(*, tenant: Tenant) -> Pool:
    return Pool.objects.get(tenant=tenant, is_default=True)


def held_count(*, tenant: Tenant, pool: Pool, user_id: int, now: datetime) -> int:
    """Private leads a user holds in a pool and that count toward the limit (signed leads do not)."""
    return (
        Lead.objects.filter(tenant=tenant, pool=pool, owner_id=user_id, signed_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .count()
    )


def claim_target(*, tenant: Tenant, membership: Membership, lead_id: int) -> tuple[Pool, bool] | None:
    """The pool of a lead and whether `membership` belongs to it (the rule of pool_ids_of), in one query.
    Raw SQL: this runs on every claim, and building it through the ORM cost more than running it."""
    path = membership.org_unit.path if membership.org_unit_id and membership.org_unit else ""
    prefixes = _prefixes(path)
    supervisor = membership.role in (Membership.Role.MANAGER, Membership.Role.OPS) and bool(path)
    in_units = f"OR ou.path IN ({', '.join(['%s'] * len(prefixes))})" if prefixes else ""
    below = "OR ou.path LIKE %s" if supervisor else ""
    fields = [f for f in Pool._meta.concrete_fields if f.attname in _CLAIM_POOL_FIELDS]
    sql = f"""
        SELECT {", ".join("p." + f.column for f in fields)}, EXISTS (
            SELECT 1 FROM {PoolMember._meta.db_table} pm
            LEFT JOIN {OrgUnit._meta.db_table} ou ON ou.id = pm.org_unit_id AND ou.tenant_id = pm.tenant_id
            WHERE pm.tenant_id = %s AND pm.pool_id = p.id AND (pm.user_id = %s {in_units} {below})
        ) AS in_pool
        FROM {Pool._meta.db_table} p
        JOIN {Lead._meta.db_table} l ON l.pool_id = p.id AND l.tenant_id = p.tenant_id
        WHERE l.tenant_id = %s AND l.id = %s"""
    params: list[Any] = [tenant.pk, membership.user_id, *prefixes]
    if supervisor:
        params.append(path + "%")
    params += [tenant.pk, lead_id]

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row[:-1])
    for i, field in enumerate(fields):
        if field.attname == "claim_limit_by_role" and isinstance(values[i], str):
            values[i] = json.loads(values[i])
        elif field.attname == "assign_counts_toward_limit":
            values[i] = bool(values[i])
    pool = Pool.from_db(connection.alias, [f.attname for f in fields], values)
    return pool, bool(row[-1])


# What a claim reads of its pool; the rest stays deferred.
_CLAIM_POOL_FIELDS = {
    "id",
    "tenant_id",
    "name",
    "is_default",
    "claim_limit",
    "claim_limit_by_role",
    "daily_claim_limit",
    "reclaim_cooldown_days",
    "protection_days",
    "no_visit_days",
    "no_progress_days",
    "max_self_extensions",
    "self_extension_days",
    "lock_limit",
    "remind_days_before",
    "assign_counts_toward_limit",
}


def _prefixes(path: str) -> list[str]:
    """'/1/4/9/' -> ['/1/', '/1/4/', '/1/4/9/']: the org units at or above a unit."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


@dataclass(frozen=True)
class ClaimChecks:
    held: int
    claimed_today: int
    last_lost_at: datetime | None


def claim_checks(*, tenant: Tenant, pool: Pool, lead_id: int, user_id: int, now: datetime) -> ClaimChecks:
    """What a claim checks (held leads, claims today, the former owner's cooldown) in one round trip: the
    claim is the hottest write of the product."""

    local = now.astimezone(zoneinfo.ZoneInfo(tenant.time_zone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "t": tenant.pk,
        "p": pool.pk,
        "u": user_id,
        "l": lead_id,
        "now": adapt(now),
        "midnight": adapt(midnight),
        "cool": adapt(now - timedelta(days=pool.reclaim_cooldown_days)),
    }
    lead, ledger = Lead._meta.db_table, LedgerEntry._meta.db_table
    sql = f"""SELECT
        (SELECT COUNT(*) FROM {lead} WHERE tenant_id = %(t)s AND pool_id = %(p)s AND owner_id = %(u)s
            AND signed_at IS NULL AND (expires_at IS NULL OR expires_at > %(now)s)),
        (SELECT COUNT(*) FROM {ledger} WHERE tenant_id = %(t)s AND pool_id = %(p)s AND to_owner_id = %(u)s
            AND actor_id = %(u)s AND action = 'claim' AND created_at >= %(midnight)s),
        (SELECT MAX(created_at) FROM {ledger} WHERE tenant_id = %(t)s AND lead_id = %(l)s
            AND from_owner_id = %(u)s AND action IN ('release', 'drop') AND created_at > %(cool)s)"""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        held, today, last = cursor.fetchone()
    if isinstance(last, str):  # SQLite returns text
        last = connection.ops.convert_datetimefield_value(last, None, connection)  # type: ignore[attr-defined]
    return ClaimChecks(
        held=held, claimed_today=today, last_lost_at=last if pool.reclaim_cooldown_days > 0 else None
    )


def ledger_of(*, tenant: Tenant, lead: Lead) -> QuerySet[LedgerEntry]:
    return (
        LedgerEntry.objects.filter(tenant=tenant, lead=lead)
        .select_related("actor", "from_owner", "to_owner")
        .order_by("id")
    )


def expiring_for(
    *, tenant: Tenant, user_id: int, now: datetime | None = None, within_days: int | None = None
) -> QuerySet[Lead]:
    """A user's private leads that drop within their pool's remind_days_before (or `within_days`)."""
    now = now or clock.now()
    qs = Lead.objects.filter(tenant=tenant, owner_id=user_id, expires_at__gt=now).select_related("pool")
    if within_days is not None:
        return qs.filter(expires_at__lte=now + timedelta(days=within_days)).order_by("expires_at")
    pools = Pool.objects.filter(tenant=tenant).values_list("id", "remind_days_before")
    cond = Q(pk__in=[])
    for pool_id, days in pools:
        cond |= Q(pool_id=pool_id, expires_at__lte=now + timedelta(days=days))
    return qs.filter(cond).order_by("expires_at")


def expiry_words(lead: Lead, now: datetime) -> dict[str, Any]:
    """What binds and when, for the pages: {'clock', 'since_days', 'left_days', 'left_hours'}."""
    if lead.expires_at is None:
        return {}
    anchors = {
        "no_visit": lead.last_visit_at or lead.claimed_at,
        "no_progress": lead.last_progress_at or lead.claimed_at,
        "protection": lead.claimed_at,
    }
    anchor = anchors.get(lead.expiry_clock) or lead.claimed_at or now
    left = lead.expires_at - now
    return {
        "clock": lead.expiry_clock,
        "since_days": max(0, (now - anchor).days),
        "left_days": max(0, left.days),
        "left_hours": max(0, int(left.total_seconds() // 3600)),
    }
