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

from leadsea.core import clock, geo, hotsql
from leadsea.core.errors import FieldInvalid
from leadsea.leads.models import Lead, LeadTag
from leadsea.pipeline.models import Stage
from leadsea.pools.rules import is_private
from leadsea.pools.selectors import pool_ids_of, pool_ids_sql
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


def _box_where(
    *,
    tenant_id: int,
    lat: float,
    lng: float,
    radius_m: float,
    pools: list[int] | tuple[str, list[Any]] | None,
    sea: str,
    user_id: int,
    now: datetime,
) -> tuple[str, list[Any]]:
    """The WHERE part of the candidate scan: the cells and the box around the circle, the pools (ids, or a
    subquery as (sql, params)), the sea."""
    cells = geo.cells_covering(lat, lng, radius_m)
    min_lat, max_lat, min_lng, max_lng = geo.bounding_box(lat, lng, radius_m)
    where = [
        "tenant_id = %s",
        _in("geo_cell", cells),
        "lat BETWEEN %s AND %s",
        "lng BETWEEN %s AND %s",
        "merged_into_id IS NULL",  # the condition of the partial index lead_nearby_idx
    ]
    params: list[Any] = [tenant_id, *_in_params(cells), min_lat, max_lat, min_lng, max_lng]
    if isinstance(pools, tuple):  # PostgreSQL: run once (an InitPlan), then part of the index condition
        where.append(f"pool_id = ANY(ARRAY({pools[0]}))")
        params += pools[1]
    elif pools is not None:
        where.append(_in("pool_id", pools))
        params += _in_params(pools)
    adapt = connection.ops.adapt_datetimefield_value
    if sea == "public":
        where.append("(owner_id IS NULL OR expires_at <= %s)")
        params.append(adapt(now))
    elif sea == "private":
        where.append("owner_id = %s AND (expires_at IS NULL OR expires_at > %s)")
        params += [user_id, adapt(now)]
    return " AND ".join(where), params


def _nearest_first(lat: float, lng: float, limit: int) -> tuple[str, list[Any]]:
    """ORDER BY an equirectangular distance (monotonic enough in a small box), LIMIT with some slack."""
    scale = math.cos(math.radians(lat)) ** 2  # a degree of longitude against a degree of latitude, squared
    return (
        "ORDER BY (lat - %s) * (lat - %s) + (lng - %s) * (lng - %s) * %s LIMIT %s",
        [lat, lat, lng, lng, scale, limit + _SLACK],
    )


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
    if pool_ids is not None and not pool_ids:
        return []
    where, params = _box_where(
        tenant_id=tenant_id,
        lat=lat,
        lng=lng,
        radius_m=radius_m,
        pools=pool_ids,
        sea=sea,
        user_id=user_id,
        now=now,
    )
    order, more = _nearest_first(lat, lng, limit)
    sql = f"SELECT id, lat, lng FROM {Lead._meta.db_table} WHERE {where} {order}"
    return hotsql.fetchall(sql, params + more)  # type: ignore[return-value]


def _in(column: str, values: list[int]) -> str:
    """`column IN (...)`: one array parameter where statements are prepared (the text stays the same whatever
    the list's length), else one placeholder per value."""
    if hotsql.prepared():
        return f"{column} = ANY(%s::bigint[])"
    return f"{column} IN ({', '.join(['%s'] * len(values))})"


def _in_params(values: list[int]) -> list[Any]:
    return [list(values)] if hotsql.prepared() else list(values)


def _passes(radius_m: float) -> tuple[float, ...]:
    """FIRST_PASS_M first: when that circle holds `limit` leads, no lead outside it can be nearer, and the
    wider box is never read."""
    return (FIRST_PASS_M, radius_m) if radius_m > FIRST_PASS_M else (radius_m,)


def _nearest(*, lat: float, lng: float, radius_m: float, limit: int, **where: Any) -> list[tuple[float, int]]:
    """(distance, id) of the `limit` nearest leads within radius_m, exact."""
    for radius in _passes(radius_m):
        rows = candidate_ids(lat=lat, lng=lng, radius_m=radius, limit=limit, **where)
        exact = sorted(
            (d, lead_id)
            for lead_id, p_lat, p_lng in rows
            if (d := geo.haversine_m(lat, lng, p_lat, p_lng)) <= radius
        )[:limit]
        if len(exact) == limit or radius == radius_m:
            return exact
    return []  # not reached


def _display_sql(lead_id: str) -> tuple[str, str]:
    """The display columns of leads `l` (whose id is the SQL `lead_id`) with stage key, tags and last visit,
    and the joins that bring the stage and the visit; parameters: the tag separator and the tenant, then the
    tenant again for the joins."""
    tag_t, stage_t, visit_t = LeadTag._meta.db_table, Stage._meta.db_table, Visit._meta.db_table
    agg = "string_agg(tag, %s)" if connection.vendor == "postgresql" else "group_concat(tag, %s)"
    columns = ", ".join(f"l.{c}" for c in _DB_COLUMNS)
    select = (
        f"{columns}, s.key, (SELECT {agg} FROM {tag_t} WHERE tenant_id = %s AND lead_id = {lead_id}), "
        "v.visited_at, v.verified, v.user_id, v.distance_m"
    )
    joins = (
        f"LEFT JOIN {stage_t} s ON s.tenant_id = l.tenant_id AND s.id = l.stage_id "
        f"LEFT JOIN {visit_t} v ON v.id = (SELECT MAX(w.id) FROM {visit_t} w "
        f"WHERE w.tenant_id = %s AND w.lead_id = {lead_id})"
    )
    return select, joins


def nearby_rows(
    *, tenant_id: int, ids: list[int]
) -> dict[int, tuple[NearbyLead, str | None, list[str], LastVisit | None]]:
    """The display columns of the leads, with stage key, tags and last visit, in one query."""
    select, joins = _display_sql("l.id")
    sql = (
        f"SELECT {select} FROM {Lead._meta.db_table} l {joins} WHERE l.tenant_id = %s AND {_in('l.id', ids)}"
    )
    rows = hotsql.fetchall(sql, [_TAG_SEP, tenant_id, tenant_id, tenant_id, *_in_params(ids)])
    return {parsed[0].id: parsed for parsed in map(_parse, rows)}


_HAVERSINE_SQL = (  # geo.haversine_m in SQL, term by term in the same order (the same doubles come out)
    "2.0 * %s * asin(sqrt(least(1.0, greatest(0.0, "
    "sin((radians(lat) - %s) / 2.0) * sin((radians(lat) - %s) / 2.0) "
    "+ %s * cos(radians(lat)) * (sin(radians(lng - %s) / 2.0) * sin(radians(lng - %s) / 2.0))))))"
)


def _nearest_rows_in_one(
    *, tenant_id: int, lat: float, lng: float, radius_m: float, limit: int, **where: Any
) -> list[tuple[Any, ...]]:
    """PostgreSQL: the candidate scan, the exact distance, the `limit` nearest within the radius and their
    display columns in one prepared statement, (distance, display columns...) nearest first. One round
    trip instead of two; the server computes the same haversine as geo.haversine_m."""
    box, params = _box_where(tenant_id=tenant_id, lat=lat, lng=lng, radius_m=radius_m, **where)
    order, more = _nearest_first(lat, lng, limit)
    phi = math.radians(lat)
    select, joins = _display_sql("n.id")
    lead_t = Lead._meta.db_table
    sql = (
        f"WITH c AS MATERIALIZED (SELECT id, lat, lng FROM {lead_t} WHERE {box} {order}), "
        f"d AS (SELECT id, {_HAVERSINE_SQL} AS dist FROM c), "
        "n AS (SELECT id, dist FROM d WHERE dist <= %s ORDER BY dist, id LIMIT %s) "
        f"SELECT n.dist, {select} FROM n JOIN {lead_t} l ON l.id = n.id {joins} "
        "WHERE l.tenant_id = %s ORDER BY n.dist, n.id"
    )
    params += more
    params += [geo.EARTH_RADIUS_M, phi, phi, math.cos(phi), lng, lng, radius_m, limit]
    params += [_TAG_SEP, tenant_id, tenant_id, tenant_id]
    return hotsql.fetchall(sql, params)


_N = len(_LEAD_COLUMNS)
_JSON_AT = [i for i, name in enumerate(_LEAD_COLUMNS) if name in _JSON]
_DATETIMES_AT = [i for i, name in enumerate(_LEAD_COLUMNS) if name in _DATETIMES]
_LOCKED_AT = _LEAD_COLUMNS.index("locked")


def _parse(row: tuple[Any, ...]) -> tuple[NearbyLead, str | None, list[str], LastVisit | None]:
    """A display row (as _display_sql selects it) as the lead, its stage key, tags and last visit."""
    values = list(row[:_N])
    for i in _JSON_AT:
        value = values[i]
        if isinstance(value, str):
            values[i] = [] if value == "[]" else {} if value == "{}" else json.loads(value)
    for i in _DATETIMES_AT:
        value = values[i]
        if value is not None and (isinstance(value, str) or value.tzinfo is None):
            values[i] = _datetime(value)
    values[_LOCKED_AT] = bool(values[_LOCKED_AT])
    stage_key, tags, visited_at, verified, user_id, distance_m = row[_N:]
    visit = (
        None if visited_at is None else LastVisit(_datetime(visited_at), bool(verified), user_id, distance_m)  # type: ignore[arg-type]
    )
    tag_list = sorted(tags.split(_TAG_SEP)) if tags else []
    return NearbyLead(*values), stage_key, tag_list, visit


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
    where: dict[str, Any] = {"tenant_id": tenant.pk, "sea": sea, "user_id": membership.user_id, "now": now}
    found: list[tuple[float, tuple[NearbyLead, str | None, list[str], LastVisit | None]]] = []
    if hotsql.prepared():
        pools = (
            None if membership.sees_whole_tenant else pool_ids_sql(tenant_id=tenant.pk, membership=membership)
        )
        for radius in _passes(radius_m):
            rows = _nearest_rows_in_one(lat=lat, lng=lng, radius_m=radius, limit=limit, pools=pools, **where)
            if len(rows) == limit or radius == radius_m:
                found = [(row[0], _parse(row[1:])) for row in rows]
                break
    else:
        ids = None if membership.sees_whole_tenant else pool_ids_of(tenant=tenant, membership=membership)
        exact = _nearest(lat=lat, lng=lng, radius_m=radius_m, limit=limit, pool_ids=ids, **where)
        if exact:
            by_id = nearby_rows(tenant_id=tenant.pk, ids=[lead_id for _, lead_id in exact])
            found = [(distance, by_id[lead_id]) for distance, lead_id in exact]
    result = []
    for distance, (lead, stage_key, tags, visit) in found:
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
