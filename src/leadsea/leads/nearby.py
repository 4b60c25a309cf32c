"""Nearby merchants: an exact radius search on a plain B-tree index, on SQLite and PostgreSQL alike.

Every lead with a position stores `geo_cell = geo.cell_of(lat, lng)`. A search lists the cells that cover the
circle's bounding box (conservatively: no point inside the radius lies outside them), asks the covering index
(tenant, geo_cell, lat, lng, pool, owner, expires_at, id) for the candidates inside the box ordered by an
equirectangular distance, and keeps those whose haversine distance is within the radius. The database returns
only a few more rows than asked for; the exact distance decides the order and the edge. A first pass over a
small circle answers alone when it already holds `limit` merchants (they are then the nearest); the list's
display columns, tags, stage and last visit come in one more query, as plain rows: this is the hot path of the
mobile app, and building ORM objects cost more than the queries."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from leadsea.core import clock, geo
from leadsea.core.errors import FieldInvalid
from leadsea.leads.models import Lead, LeadTag
from leadsea.pipeline.models import Stage
from leadsea.pools.rules import is_private
from leadsea.pools.selectors import pool_ids_of
from leadsea.tenancy.models import Membership, Tenant
from leadsea.visits.models import Visit

MAX_RADIUS_M = 50_000
MAX_LIMIT = 200
FIRST_PASS_M = 250.0  # in a city a 250 m circle usually holds a page of stores: the 1 km box is not read
_SLACK = 30  # rows fetched beyond `limit`, so that the exact order can differ a little from the approximate
_TAG_SEP = "\x1f"  # the unit separator: never in a tag (clean_text turns it into a space)


@dataclass(slots=True)
class NearbyLead:
    """The columns of a lead that a nearby list shows, under the names of Lead's attributes."""

    id: int
    kind: str
    name: str
    branch_name: str
    category: str
    address: str
    province: str
    city: str
    district: str
    phone: str
    phones: list[str]
    lat: float
    lng: float
    source_channel: str
    status: str
    owner_id: int | None
    pool_id: int
    stage_id: int | None
    expires_at: datetime | None
    expiry_clock: str
    locked: bool
    claimed_at: datetime | None
    last_visit_at: datetime | None
    signed_at: datetime | None
    custom_data: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def pk(self) -> int:
        return self.id

    @property
    def display_name(self) -> str:
        return f"{self.name}（{self.branch_name}）" if self.branch_name else self.name

    def __str__(self) -> str:
        return self.display_name


@dataclass(slots=True)
class LastVisit:
    visited_at: datetime
    verified: bool
    user_id: int
    distance_m: float | None


@dataclass(slots=True)
class Nearby:
    lead: NearbyLead
    distance_m: float
    pool_status: str  # public, mine, taken (someone else's)
    last_visit: LastVisit | None
    tags: list[str]
    stage_key: str | None


_LEAD_COLUMNS = [f.name for f in fields(NearbyLead)]
_DB_COLUMNS = [{f.attname: f.column for f in Lead._meta.concrete_fields}[name] for name in _LEAD_COLUMNS]
_JSON = {"phones", "custom_data"}
_DATETIMES = {"expires_at", "claimed_at", "last_visit_at", "signed_at", "created_at", "updated_at"}


def _datetime(value: Any) -> datetime | None:
    """A timestamp as raw SQL returns it: aware on PostgreSQL, naive UTC (or text) on SQLite."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None or value.tzinfo:
        return value
    return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]


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
    distance: one query answered from the covering index alone, raw SQL (the hot path of the mobile app)."""
    cells = geo.cells_covering(lat, lng, radius_m)
    min_lat, max_lat, min_lng, max_lng = geo.bounding_box(lat, lng, radius_m)
    scale = math.cos(math.radians(lat)) ** 2  # a degree of longitude against a degree of latitude, squared
    where = [
        "tenant_id = %s",
        f"geo_cell IN ({', '.join(['%s'] * len(cells))})",
        "lat BETWEEN %s AND %s",
        "lng BETWEEN %s AND %s",
        "merged_into_id IS NULL",  # the condition of the partial index lead_nearby_idx
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


def _nearest(*, lat: float, lng: float, radius_m: float, limit: int, **where: Any) -> list[tuple[float, int]]:
    """(distance, id) of the `limit` nearest leads within radius_m, exact. Tries FIRST_PASS_M first: when that
    circle holds `limit` leads, no lead outside it can be nearer, and the wider box is never read."""
    for radius in (FIRST_PASS_M, radius_m) if radius_m > FIRST_PASS_M else (radius_m,):
        rows = candidate_ids(lat=lat, lng=lng, radius_m=radius, limit=limit, **where)
        exact = sorted(
            (d, lead_id)
            for lead_id, p_lat, p_lng in rows
            if (d := geo.haversine_m(lat, lng, p_lat, p_lng)) <= radius
        )[:limit]
        if len(exact) == limit or radius == radius_m:
            return exact
    return []  # not reached


def nearby_rows(
    *, tenant_id: int, ids: list[int]
) -> dict[int, tuple[NearbyLead, str | None, list[str], Any]]:
    """The display columns of the leads, with stage key, tags and last visit, in one query."""
    lead_t, tag_t, stage_t, visit_t = (
        Lead._meta.db_table,
        LeadTag._meta.db_table,
        Stage._meta.db_table,
        Visit._meta.db_table,
    )
    agg = "string_agg(t.tag, %s)" if connection.vendor == "postgresql" else "group_concat(t.tag, %s)"
    columns = ", ".join(f"l.{c}" for c in _DB_COLUMNS)
    sql = (
        f"SELECT {columns}, s.key, (SELECT {agg} FROM {tag_t} t WHERE t.tenant_id = l.tenant_id "
        "AND t.lead_id = l.id), v.visited_at, v.verified, v.user_id, v.distance_m "
        f"FROM {lead_t} l "
        f"LEFT JOIN {stage_t} s ON s.tenant_id = l.tenant_id AND s.id = l.stage_id "
        f"LEFT JOIN {visit_t} v ON v.id = (SELECT MAX(w.id) FROM {visit_t} w "
        "WHERE w.tenant_id = l.tenant_id AND w.lead_id = l.id) "
        f"WHERE l.tenant_id = %s AND l.id IN ({', '.join(['%s'] * len(ids))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_TAG_SEP, tenant_id, *ids])
        rows = cursor.fetchall()
    n = len(_LEAD_COLUMNS)
    out = {}
    for row in rows:
        values = dict(zip(_LEAD_COLUMNS, row[:n], strict=True))
        for name in _JSON:
            value = values[name]
            if isinstance(value, str):
                values[name] = [] if value == "[]" else {} if value == "{}" else json.loads(value)
        for name in _DATETIMES:
            values[name] = _datetime(values[name])
        values["locked"] = bool(values["locked"])
        stage_key, tags, visited_at, verified, user_id, distance_m = row[n:]
        visit = (
            None
            if visited_at is None
            else LastVisit(_datetime(visited_at), bool(verified), user_id, distance_m)  # type: ignore[arg-type]
        )
        tag_list = sorted(tags.split(_TAG_SEP)) if tags else []
        out[values["id"]] = (NearbyLead(**values), stage_key, tag_list, visit)
    return out


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
    exact = _nearest(
        lat=lat,
        lng=lng,
        radius_m=radius_m,
        limit=limit,
        tenant_id=tenant.pk,
        pool_ids=pools,
        sea=sea,
        user_id=membership.user_id,
        now=now,
    )
    if not exact:
        return []
    rows = nearby_rows(tenant_id=tenant.pk, ids=[lead_id for _, lead_id in exact])
    result = []
    for distance, lead_id in exact:
        lead, stage_key, tags, visit = rows[lead_id]
        status = (
            "public"
            if not is_private(lead, now)
            else ("mine" if lead.owner_id == membership.user_id else "taken")
        )
        result.append(
            Nearby(
                lead=lead,
                distance_m=distance,
                pool_status=status,
                last_visit=visit,
                tags=tags,
                stage_key=stage_key,
            )
        )
    return result
