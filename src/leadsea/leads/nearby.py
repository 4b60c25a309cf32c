"""Nearby merchants: an exact radius search on a plain B-tree index, on SQLite and PostgreSQL alike.

Every lead with a position stores `geo_cell = geo.cell_of(lat, lng)`. A search lists the cells that cover the
circle's bounding box (conservatively: no point inside the radius lies outside them), asks the index
(tenant, geo_cell, lat, lng) for the candidates inside the box ordered by an equirectangular distance, and
keeps those whose haversine distance is within the radius. The database returns only a few more rows than
asked for; the exact distance decides the order and the edge."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from leadsea.core import clock, geo
from leadsea.core.errors import FieldInvalid
from leadsea.leads.models import Lead
from leadsea.leads.selectors import with_tags
from leadsea.pools.rules import is_private
from leadsea.pools.selectors import pool_ids_of
from leadsea.tenancy.models import Membership, Tenant
from leadsea.visits.models import Visit
from leadsea.visits.selectors import last_visits

MAX_RADIUS_M = 50_000
MAX_LIMIT = 200
_SLACK = 30  # rows fetched beyond `limit`, so that the exact order can differ a little from the approximate


@dataclass
class Nearby:
    lead: Lead
    distance_m: float
    pool_status: str  # public, mine, taken (someone else's)
    last_visit: Visit | None


def candidate_ids(
    *,
    tenant_id: int,
    lat: float,
    lng: float,
    radius_m: float,
    limit: int,
    pool_ids: list[int] | None,
    sea: str,
    user_id: int,
    now: datetime,
) -> list[tuple[int, float, float]]:
    """(id, lat, lng) of the leads in the box around the circle, nearest first by an equirectangular
    distance: one indexed query, raw SQL (the hot path of the mobile app)."""
    cells = geo.cells_covering(lat, lng, radius_m)
    min_lat, max_lat, min_lng, max_lng = geo.bounding_box(lat, lng, radius_m)
    scale = math.cos(math.radians(lat)) ** 2  # a degree of longitude against a degree of latitude, squared
    where = [
        "tenant_id = %s",
        f"geo_cell IN ({', '.join(['%s'] * len(cells))})",
        "lat BETWEEN %s AND %s",
        "lng BETWEEN %s AND %s",
    ]
    params: list[Any] = [tenant_id, *cells, min_lat, max_lat, min_lng, max_lng]
    if pool_ids is not None:
        if not pool_ids:
            return []
        where.append(f"pool_id IN ({', '.join(['%s'] * len(pool_ids))})")
        params += pool_ids
    adapt = connection.ops.adapt_datetimefield_value
    if sea == "public":
        where.append("(owner_id IS NULL OR expires_at <= %s)")
        params.append(adapt(now))
    elif sea == "private":
        where.append("owner_id = %s AND (expires_at IS NULL OR expires_at > %s)")
        params += [user_id, adapt(now)]
    sql = (
        f"SELECT id, lat, lng FROM {Lead._meta.db_table} WHERE {' AND '.join(where)} "
        "ORDER BY (lat - %s) * (lat - %s) + (lng - %s) * (lng - %s) * %s LIMIT %s"
    )
    params += [lat, lat, lng, lng, scale, limit + _SLACK]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def leads_nearby(
    *,
    tenant: Tenant,
    membership: Membership,
    lat: float,
    lng: float,
    radius_m: float = 1000,
    limit: int = 50,
    coord_sys: str = "wgs84",
    sea: str = "all",
    now: datetime | None = None,
) -> list[Nearby]:
    """Merchants within `radius_m` of a position, nearest first. A BD sees every lead of their pools, with the
    pool status (public, mine, taken) but not whose; supervisors see the owner on the lead."""
    now = now or clock.now()
    if coord_sys not in ("wgs84", "gcj02", "bd09"):
        raise FieldInvalid(_("coord_sys must be wgs84, gcj02 or bd09."), field="coord_sys")
    if not -90 <= lat <= 90:
        raise FieldInvalid(_("lat must lie between -90 and 90."), field="lat")
    if not -180 <= lng <= 180:
        raise FieldInvalid(_("lng must lie between -180 and 180."), field="lng")
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise FieldInvalid(
            _("radius_m must be more than 0 and at most %(max)s.") % {"max": MAX_RADIUS_M}, field="radius_m"
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise FieldInvalid(_("limit must be 1 to %(max)s.") % {"max": MAX_LIMIT}, field="limit")
    if sea not in ("public", "private", "all"):
        raise FieldInvalid(_("sea must be public, private or all."), field="sea")
    lat, lng = geo.to_wgs84(lat, lng, coord_sys)
    pools = None if membership.sees_whole_tenant else pool_ids_of(tenant=tenant, membership=membership)
    rows = candidate_ids(
        tenant_id=tenant.pk,
        lat=lat,
        lng=lng,
        radius_m=radius_m,
        limit=limit,
        pool_ids=pools,
        sea=sea,
        user_id=membership.user_id,
        now=now,
    )
    exact = sorted(
        (d, lead_id)
        for lead_id, p_lat, p_lng in rows
        if (d := geo.haversine_m(lat, lng, p_lat, p_lng)) <= radius_m
    )[:limit]
    if not exact:
        return []
    ids = [lead_id for _, lead_id in exact]
    leads = {x.pk: x for x in with_tags(Lead.objects.filter(tenant=tenant, pk__in=ids), tenant=tenant)}
    visits = last_visits(tenant=tenant, lead_ids=ids)
    result = []
    for distance, lead_id in exact:
        lead = leads[lead_id]
        private = is_private(lead, now)
        status = "public" if not private else ("mine" if lead.owner_id == membership.user_id else "taken")
        result.append(
            Nearby(lead=lead, distance_m=distance, pool_status=status, last_visit=visits.get(lead_id))
        )
    return result
