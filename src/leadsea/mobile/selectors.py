"""Reads the mobile pages need that the core apps do not offer yet: district centres for a manual position,
related stores of a brand, a lead's opportunities, and the to-do total for the badges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Avg, Count
from django.utils import timezone

from leadsea.core import clock
from leadsea.leads.models import Lead
from leadsea.pools.selectors import pool_ids_of
from leadsea.tasks.selectors import open_tasks, planned_visits
from leadsea.tenancy.models import Membership, Tenant

TODO_CAP = 200  # todo_for lists at most 200 of each kind; the badge counts the same way
DISTRICT_CACHE_SECONDS = 600


@dataclass(frozen=True)
class DistrictCentre:
    city: str
    district: str
    lat: float
    lng: float
    stores: int

    @property
    def label(self) -> str:
        return f"{self.city} {self.district}".strip()


def district_centres(*, tenant: Tenant, membership: Membership, limit: int = 500) -> list[DistrictCentre]:
    """The districts of the caller's pools with the mean position of their stores: a manual position for a
    phone without a fix. A GROUP BY over the pools' leads, so it is cached for a few minutes."""
    pools = None if membership.sees_whole_tenant else pool_ids_of(tenant=tenant, membership=membership)
    key = f"leadsea:mobile:districts:{tenant.pk}:{','.join(map(str, pools)) if pools is not None else '*'}"
    cached = cache.get(key)
    if cached is not None:
        return list(cached)
    qs = Lead.objects.filter(tenant=tenant, lat__isnull=False, lng__isnull=False).exclude(district="")
    if pools is not None:
        qs = qs.filter(pool_id__in=pools)
    rows = (
        qs.values("city", "district")
        .annotate(c_lat=Avg("lat"), c_lng=Avg("lng"), n=Count("id"))
        .order_by("city", "district")[:limit]
    )
    centres = [
        DistrictCentre(
            city=r["city"],
            district=r["district"],
            lat=round(r["c_lat"], 6),
            lng=round(r["c_lng"], 6),
            stores=r["n"],
        )
        for r in rows
    ]
    cache.set(key, centres, DISTRICT_CACHE_SECONDS)
    return centres


def todo_total(*, tenant: Any, user_id: int, now: datetime | None = None) -> int:
    """`todo_for(...).counts["total"]` in one round trip, for the badge on every page: the to-do lists'
    own querysets, counted (capped as todo_for caps them) inside one SELECT. The leads about to drop are
    read as (expires_at, remind_days_before) rows, because the reminder window is a per-pool setting and
    date arithmetic in SQL differs between SQLite and PostgreSQL; a BD holds at most their claim limit."""
    now = now or clock.now()
    held = (
        Lead.objects.filter(tenant=tenant, owner_id=user_id, expires_at__gt=now)
        .order_by()
        .values_list("expires_at", "pool__remind_days_before")
    )
    visits = planned_visits(tenant=tenant, user_id=user_id, now=now).order_by().values("pk")[:TODO_CAP]
    tasks = open_tasks(tenant=tenant, user_id=user_id).order_by().values("pk")[:TODO_CAP]
    held_sql, held_params = held.query.sql_with_params()
    visits_sql, visits_params = visits.query.sql_with_params()
    tasks_sql, tasks_params = tasks.query.sql_with_params()
    sql = (
        f"SELECT * FROM ({held_sql}) h UNION ALL "
        f"SELECT NULL, (SELECT COUNT(*) FROM ({visits_sql}) v) + (SELECT COUNT(*) FROM ({tasks_sql}) t)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*held_params, *visits_params, *tasks_params])
        rows = cursor.fetchall()
    others = 0
    expiring = 0
    for expires_at, number in rows:
        if expires_at is None:
            others = int(number)
            continue
        if isinstance(expires_at, str) or timezone.is_naive(expires_at):  # SQLite: text, or naive UTC
            expires_at = connection.ops.convert_datetimefield_value(  # type: ignore[attr-defined]
                expires_at, None, connection
            )
        if expires_at <= now + timedelta(days=number):
            expiring += 1
    return min(expiring, TODO_CAP) + others
