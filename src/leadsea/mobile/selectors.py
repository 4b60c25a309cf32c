"""Reads the mobile pages need that the core apps do not offer yet: district centres for a manual position,
related stores of a brand, a lead's opportunities, and the to-do total for the badges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Avg, Count, F, QuerySet
from django.utils import timezone

from leadsea.core import clock, geo
from leadsea.leads.models import Lead
from leadsea.leads.selectors import leads_visible
from leadsea.pipeline.models import Opportunity
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


@dataclass(frozen=True)
class RelatedStore:
    lead: Lead
    distance_m: float | None  # from the store being looked at


def related_stores(
    *, tenant: Tenant, membership: Membership, lead: Lead, limit: int = 20, now: datetime | None = None
) -> list[RelatedStore]:
    """Other stores of the same brand (same name, other branches) that the caller may see, nearest first."""
    if not lead.name:
        return []
    qs = (
        leads_visible(tenant=tenant, membership=membership, now=now)
        .filter(name=lead.name)
        .exclude(pk=lead.pk)
        .only(
            "id", "name", "branch_name", "city", "district", "address", "lat", "lng", "owner_id", "expires_at"
        )
        .order_by("id")[:200]
    )
    stores = []
    for other in qs:
        distance = None
        if None not in (lead.lat, lead.lng, other.lat, other.lng):
            distance = geo.haversine_m(lead.lat, lead.lng, other.lat, other.lng)  # type: ignore[arg-type]
        stores.append(RelatedStore(lead=other, distance_m=distance))
    stores.sort(key=lambda s: (s.distance_m is None, s.distance_m or 0.0, s.lead.pk))
    return stores[:limit]


def opportunities_of(*, tenant: Tenant, lead: Lead) -> QuerySet[Opportunity]:
    """A lead's opportunities, open ones first, newest first."""
    return (
        Opportunity.objects.filter(tenant=tenant, lead=lead)
        .select_related("stage", "lost_reason")
        .order_by(F("closed_at").desc(nulls_first=True), "-created_at", "-id")
    )


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
