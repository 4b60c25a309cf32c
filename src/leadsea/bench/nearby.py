"""Nearby merchants: p50/p99 of a 1 km, top-50 nearby query at service level, through HTTP and as the raw
index query, on --points leads spread around six Chinese cities.

Figures: service_p50_ms/service_p99_ms (leads_nearby for a BD), http_p50_ms/http_p99_ms (GET
/api/v1/leads/nearby through Django's test client with a bearer token: the full request/response cycle
in-process), raw_p50_ms/raw_p99_ms (candidate_ids: the one indexed query), ratio_p50/ratio_p99 (service over
raw), avg_results, exactness_errors (sample queries whose result differs from a brute-force haversine scan of
every lead in a generous box; must be 0). Targets: service p50 <= 2 ms, p99 <= 10 ms, ratio <= 3."""

from __future__ import annotations

import cProfile
import gc
import io
import math
import pstats
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from leadsea.bench.common import (
    bench_tenant,
    drop_tenant,
    insert_select_sql,
    percentile,
    prepare_database,
    timed,
    vacuum_analyze,
)
from leadsea.core import clock, geo
from leadsea.core.tenancy_guard import unscoped
from leadsea.leads.models import Lead, LeadTag
from leadsea.leads.nearby import candidate_ids, leads_nearby
from leadsea.pools.selectors import default_pool, pool_ids_of
from leadsea.tenancy.models import Membership, Tenant
from leadsea.tenancy.selectors import membership_get
from leadsea.tenancy.services import token_issue
from leadsea.visits.models import Visit

# name, lat, lng (WGS-84 city centres)
CITIES: list[tuple[str, float, float]] = [
    ("北京", 39.9087, 116.4605),
    ("上海", 31.2304, 121.4737),
    ("广州", 23.1291, 113.2644),
    ("深圳", 22.5431, 114.0579),
    ("成都", 30.5728, 104.0668),
    ("杭州", 30.2741, 120.1551),
]
CATEGORIES = ["餐饮", "火锅", "咖啡", "便利店", "美发", "超市", "烘焙", "药店", "奶茶", "烧烤", "面馆"]
TAGS = ["连锁", "夜宵", "外卖", "商场店", "社区店"]
KM_PER_DEG_LAT = 111.32
BD_PASSWORD = "bench-password-1"  # bench_tenant's
URL = "/api/v1/leads/nearby"


def add_arguments(parser: Any) -> None:
    parser.add_argument("--points", type=int, default=2_000_000, help="leads to insert (default 2,000,000)")
    parser.add_argument("--queries", type=int, default=2000, help="measured queries (default 2000)")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up queries, not measured (default 100)")
    parser.add_argument("--exact", type=int, default=50, help="queries checked by brute force (default 50)")
    parser.add_argument("--radius", type=float, default=1000, help="search radius in metres (default 1000)")
    parser.add_argument("--limit", type=int, default=50, help="results per query (default 50)")
    parser.add_argument("--sigma-km", type=float, default=10, help="spread of leads around a centre (km)")
    parser.add_argument("--bds", type=int, default=4, help="BDs owning the private leads (default 4)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the query positions")
    parser.add_argument(
        "--profile", type=int, default=0, help="also cProfile this many service calls (stats to stderr)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark tenant afterwards")
    parser.add_argument(
        "--tenant", help="measure again on the data of a tenant kept by an earlier run (--keep): no insert"
    )


# ------------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------------


def _uniform_sql() -> str:
    """A uniform random number in [-0.5, 0.5), fresh at every evaluation."""
    if connection.vendor == "postgresql":
        return "(random() - 0.5)"
    return "(random() / 18446744073709551616.0)"  # SQLite: a random signed 64-bit integer / 2**64


def _cell_sql(lat: str, lng: str) -> str:
    """geo.cell_of(lat, lng) in SQL (positions well inside [-90, 90] x [-180, 180))."""
    deg, stride = repr(geo.CELL_DEG), geo.CELL_ROW_STRIDE
    if connection.vendor == "postgresql":
        row = f"CAST(floor(({lat} + 90.0) / {deg}) AS BIGINT)"
        col = f"CAST(floor(({lng} + 180.0) / {deg}) AS BIGINT)"
    else:  # CAST truncates towards zero, the floor of a positive number
        row = f"CAST(({lat} + 90.0) / {deg} AS INTEGER)"
        col = f"CAST(({lng} + 180.0) / {deg} AS INTEGER)"
    return f"({row} * {stride} + {col})"


def insert_geo_leads(
    *, tenant: Tenant, pool_id: int, n: int, owners: list[int], sigma_km: float, now: datetime
) -> None:
    """n leads around the CITIES, each centre's share a Gaussian of sigma_km (a sum of four uniform randoms):
    dense in the core, sparse in the suburbs. One in ten is private (owned round-robin by `owners`, expiring
    in five days), the rest public. One set-based statement; geo_cell computed in SQL as geo.cell_of does."""
    pg = connection.vendor == "postgresql"
    u = _uniform_sql()
    gauss = f"({u} + {u} + {u} + {u}) * {math.sqrt(3.0)!r}"  # mean 0, variance 1
    ops = connection.ops
    p: dict[str, Any] = {
        "n": n,
        "tenant": tenant.pk,
        "pool": pool_id,
        "now": ops.adapt_datetimefield_value(now),
        "claimed": ops.adapt_datetimefield_value(now - timedelta(days=10)),
        "expires": ops.adapt_datetimefield_value(now + timedelta(days=5)),
    }
    city_rows = []
    for i, (name, lat, lng) in enumerate(CITIES):
        city_rows.append(
            f"(%(c{i})s, %(c{i}_name)s, %(c{i}_lat)s, %(c{i}_lng)s, %(c{i}_sd_lat)s, %(c{i}_sd_lng)s)"
        )
        p[f"c{i}"], p[f"c{i}_name"], p[f"c{i}_lat"], p[f"c{i}_lng"] = i, name, lat, lng
        p[f"c{i}_sd_lat"] = sigma_km / KM_PER_DEG_LAT
        p[f"c{i}_sd_lng"] = sigma_km / (KM_PER_DEG_LAT * math.cos(math.radians(lat)))
    cats = " ".join(f"WHEN {i} THEN '{c}'" for i, c in enumerate(CATEGORIES))
    whens = " ".join(f"WHEN {i} THEN {uid}" for i, uid in enumerate(owners))
    owner = f"CASE WHEN g %% 10 = 0 THEN CASE (g / 10) %% {len(owners)} {whens} END END"
    if pg:
        numbers, source = "", "generate_series(1, %(n)s) AS s(g)"
    else:
        numbers, source = "RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %(n)s), ", "s"
    private = "CASE WHEN g %% 10 = 0 THEN %(expires)s END"
    columns = {
        "tenant_id": "%(tenant)s",
        "kind": "'poi'",
        "name": "city || category || '店' || g",
        "category": "category",
        "address": "city || '市某路' || (g %% 997) || '号'",
        "city": "city",
        "lat": "lat",
        "lng": "lng",
        "geo_cell": _cell_sql("lat", "lng"),
        "source_channel": "'bench'",
        "status": "'new'",
        "owner_id": owner,
        "search_text": "city || category || g",
        "created_at": "%(now)s",
        "updated_at": "%(now)s",
        "pool_id": "%(pool)s",
        "claimed_at": "CASE WHEN g %% 10 = 0 THEN %(claimed)s END",
        "protection_until": private,
        "visit_due_at": private,
        "progress_due_at": private,
        "expires_at": private,
        "expiry_clock": "CASE WHEN g %% 10 = 0 THEN 'no_visit' ELSE '' END",
    }
    # MATERIALIZED: each row's random position is drawn once, then both stored and turned into its cell.
    head = f"""
        WITH {numbers}cities(i, name, lat, lng, sd_lat, sd_lng) AS (VALUES {", ".join(city_rows)}),
        pts AS MATERIALIZED (
            SELECT g, c.name AS city,
                   CASE g %% {len(CATEGORIES)} {cats} END AS category,
                   CAST(c.lat + c.sd_lat * {gauss} AS DOUBLE PRECISION) AS lat,
                   CAST(c.lng + c.sd_lng * {gauss} AS DOUBLE PRECISION) AS lng
            FROM {source} JOIN cities c ON c.i = g %% {len(CITIES)}
        )"""
    sql = insert_select_sql(Lead, columns, "FROM pts", p, head=head)
    with unscoped(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, p)


def insert_tags_and_visits(*, tenant: Tenant, user_id: int, now: datetime) -> tuple[int, int]:
    """Tags on a third of the leads (two on a sixth), one verified visit on one lead in fifty."""
    lead_t = Lead._meta.db_table
    whens = " ".join(f"WHEN {i} THEN '{t}'" for i, t in enumerate(TAGS))
    p: dict[str, Any] = {
        "tenant": tenant.pk,
        "user": user_id,
        "visited": connection.ops.adapt_datetimefield_value(now - timedelta(days=3)),
    }
    first_tag = {"tenant_id": "tenant_id", "lead_id": "id", "tag": f"CASE id %% {len(TAGS)} {whens} END"}
    second_tag = {"tenant_id": "tenant_id", "lead_id": "id", "tag": "'高潜'"}
    visit = {
        "tenant_id": "tenant_id",
        "lead_id": "id",
        "user_id": "%(user)s",
        "purpose": "'follow_up'",
        "outcome": "'met_kp'",
        "lat": "lat",
        "lng": "lng",
        "accuracy_m": "10.0",
        "distance_m": "12.0",
        "radius_m": "300",
        "verified": "TRUE",
        "visited_at": "%(visited)s",
    }
    counts = []
    with unscoped(), transaction.atomic(), connection.cursor() as cursor:
        for model, columns, every in (
            (LeadTag, first_tag, "id %% 3 = 0"),
            (LeadTag, second_tag, "id %% 6 = 0"),
            (Visit, visit, "id %% 50 = 1"),
        ):
            tail = f"FROM {lead_t} WHERE tenant_id = %(tenant)s AND {every}"
            cursor.execute(insert_select_sql(model, columns, tail, p), p)
            counts.append(cursor.rowcount)
    return counts[0] + counts[1], counts[2]


def check_cells(*, tenant: Tenant, sample_every: int) -> int:
    """Rows (about one in sample_every) whose stored geo_cell is not geo.cell_of(lat, lng); raises if any."""
    with unscoped(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, lat, lng, geo_cell FROM {Lead._meta.db_table} WHERE tenant_id = %s "
            f"AND id %% {sample_every} = 0",
            [tenant.pk],
        )
        rows = cursor.fetchall()
    bad = [r for r in rows if geo.cell_of(r[1], r[2]) != r[3]]
    if not rows or bad:
        raise RuntimeError(
            f"geo_cell computed in SQL differs from geo.cell_of on {len(bad)} of {len(rows)} sampled rows, "
            f"e.g. {bad[:3]}"
        )
    return len(rows)


# ------------------------------------------------------------------------------------------------------
# Queries
# ------------------------------------------------------------------------------------------------------


def query_points(rng: random.Random, n: int, sigma_km: float) -> list[tuple[float, float]]:
    """Positions around random city centres, Gaussian with sigma_km."""
    out = []
    for _ in range(n):
        _, lat, lng = rng.choice(CITIES)
        d_lat = rng.gauss(0, sigma_km) / KM_PER_DEG_LAT
        d_lng = rng.gauss(0, sigma_km) / (KM_PER_DEG_LAT * math.cos(math.radians(lat)))
        out.append((lat + d_lat, lng + d_lng))
    return out


def brute_force(
    *, tenant: Tenant, pools: list[int], lat: float, lng: float, radius_m: float, limit: int
) -> list[int]:
    """Ids of the nearest leads within radius_m, nearest first: haversine over every lead of the BD's pools in
    a box far wider than the circle, found without geo_cell."""
    d_lat = 2 * radius_m / 1000 / KM_PER_DEG_LAT + 0.001
    d_lng = 2 * radius_m / 1000 / (KM_PER_DEG_LAT * math.cos(math.radians(abs(lat) + d_lat))) + 0.001
    with unscoped(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, lat, lng FROM {Lead._meta.db_table} WHERE tenant_id = %s "
            f"AND pool_id IN ({', '.join(['%s'] * len(pools))}) "
            "AND lat BETWEEN %s AND %s AND lng BETWEEN %s AND %s",
            [tenant.pk, *pools, lat - d_lat, lat + d_lat, lng - d_lng, lng + d_lng],
        )
        rows = cursor.fetchall()
    found = sorted(
        (d, lead_id)
        for lead_id, p_lat, p_lng in rows
        if (d := geo.haversine_m(lat, lng, p_lat, p_lng)) <= radius_m
    )
    return [lead_id for _, lead_id in found[:limit]]


def exactness(
    *,
    tenant: Tenant,
    bd: Membership,
    pools: list[int],
    rng: random.Random,
    n: int,
    sigma_km: float,
    radius_m: float,
    limit: int,
    log: Callable[[str], None],
) -> tuple[int, list[int]]:
    """Compare leads_nearby with brute force on n positions: a third near the cores, a third in the sparse
    suburbs (the radius decides there, not the limit), a third snapped to a cell corner. Returns the number
    of mismatches and the result counts."""
    points = query_points(rng, n - 2 * (n // 3), sigma_km / 2)
    points += query_points(rng, n // 3, sigma_km * 3)
    points += [
        (round(p_lat / geo.CELL_DEG) * geo.CELL_DEG, round(p_lng / geo.CELL_DEG) * geo.CELL_DEG)
        for p_lat, p_lng in query_points(rng, n // 3, sigma_km)
    ]
    errors, sizes = 0, []
    for lat, lng in points:
        got = [
            x.lead.pk
            for x in leads_nearby(
                tenant=tenant, membership=bd, lat=lat, lng=lng, radius_m=radius_m, limit=limit
            )
        ]
        want = brute_force(tenant=tenant, pools=pools, lat=lat, lng=lng, radius_m=radius_m, limit=limit)
        sizes.append(len(want))
        if got != want:
            errors += 1
            log(f"exactness: at ({lat:.6f}, {lng:.6f}) got {len(got)} ids, brute force {len(want)}")
    return errors, sizes


class _GcPauses:
    """Full (oldest-generation) garbage collections while measuring: they land in the p99."""

    def __init__(self) -> None:
        self.full, self.seconds, self.longest, self._began = 0, 0.0, 0.0, 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        else:
            took = time.perf_counter() - self._began
            self.full, self.seconds, self.longest = (
                self.full + 1,
                self.seconds + took,
                max(self.longest, took),
            )

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)


def kept_tenant(slug: str) -> tuple[Tenant, list[Membership]]:
    """The tenant and BDs of an earlier run kept with --keep."""
    tenant = Tenant.objects.get(slug=slug)
    bds = Membership.objects.filter(tenant=tenant, role=Membership.Role.BD).select_related("user")
    return tenant, sorted(bds, key=lambda m: m.user.username)


def _ms(values: list[float], q: float) -> float:
    return round(percentile(values, q) * 1000, 3)


def run(options: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    prepare_database()
    n, radius, limit = options["points"], options["radius"], options["limit"]
    if options["tenant"]:
        tenant, members = kept_tenant(options["tenant"])
        options["keep"], inserted = True, 0.0
        with unscoped():
            n = Lead.objects.filter(tenant=tenant).count()
        log(f"measuring on the {n} leads kept in {tenant.slug}")
    else:
        tenant, _team, members, _admin = bench_tenant("bench-nearby", max(1, options["bds"]))
    try:
        now = clock.now()
        if not options["tenant"]:
            began = time.perf_counter()
            insert_geo_leads(
                tenant=tenant,
                pool_id=default_pool(tenant=tenant).pk,
                n=n,
                owners=[m.user_id for m in members],
                sigma_km=options["sigma_km"],
                now=now,
            )
            inserted = time.perf_counter() - began
            tags, visits = insert_tags_and_visits(tenant=tenant, user_id=members[0].user_id, now=now)
            log(f"inserted {n} leads in {inserted:.1f}s, {tags} tags and {visits} visits")
            checked = check_cells(tenant=tenant, sample_every=max(1, n // 2000))
            log(f"geo_cell matches geo.cell_of on {checked} sampled rows")
        began = time.perf_counter()
        vacuum_analyze([Lead, LeadTag, Visit])
        log(f"vacuumed and analyzed in {time.perf_counter() - began:.1f}s")

        # The BD as the API would see them: membership with org unit, user and tenant.
        bd = membership_get(tenant=tenant, user=members[0].user)
        assert bd is not None
        pools = pool_ids_of(tenant=tenant, membership=bd)
        raw_token, _, _ = token_issue(
            tenant_slug=tenant.slug, username=bd.user.username, password=BD_PASSWORD
        )
        client = Client(SERVER_NAME="localhost", headers={"Authorization": f"Bearer {raw_token}"})

        def service(lat: float, lng: float) -> int:
            found = leads_nearby(tenant=tenant, membership=bd, lat=lat, lng=lng, radius_m=radius, limit=limit)
            return len(found)

        def raw(lat: float, lng: float) -> int:
            rows = candidate_ids(
                tenant_id=tenant.pk,
                lat=lat,
                lng=lng,
                radius_m=radius,
                limit=limit,
                pool_ids=pools,
                sea="all",
                user_id=bd.user_id,
                now=clock.now(),
            )
            return len(rows)

        def http(lat: float, lng: float) -> Any:
            return client.get(URL, {"lat": lat, "lng": lng, "radius_m": radius, "limit": limit})

        rng = random.Random(options["seed"])
        sigma_q = options["sigma_km"] / 2  # query positions: near the cores
        with CaptureQueriesContext(connection) as captured:
            service(*CITIES[0][1:])
        sql_per_call = len(captured)
        log(
            f"one service call runs {len(captured)} SQL queries: "
            + "; ".join(q["sql"][:60] for q in captured)
        )
        kinds: list[tuple[str, Callable[[float, float], Any]]] = [
            ("service", service),
            ("raw", raw),
            ("http", http),
        ]
        times: dict[str, list[float]] = {name: [] for name, _ in kinds}
        results: list[int] = []
        warmup = options["warmup"]
        pauses = _GcPauses()
        for i, (lat, lng) in enumerate(query_points(rng, warmup + options["queries"], sigma_q)):
            values = {}
            # Rotated: no kind always runs first on a position (and so meets the colder cache).
            for name, fn in kinds[i % 3 :] + kinds[: i % 3]:
                seconds, values[name] = timed(fn, lat, lng)
                if i >= warmup:
                    times[name].append(seconds)
            response = values["http"]
            if response.status_code != 200 or len(response.json()) != values["service"]:
                raise RuntimeError(
                    f"GET {URL} at ({lat}, {lng}) answered {response.status_code}: {response.content[:300]!r}"
                )
            if i >= warmup:
                results.append(values["service"])
            if i + 1 == warmup:
                pauses.start()
        pauses.stop()
        log(
            f"{pauses.full} full garbage collections while measuring: {pauses.seconds * 1000:.0f} ms in all, "
            f"{pauses.longest * 1000:.1f} ms the longest"
        )
        if options["profile"]:
            profiler = cProfile.Profile()
            points = query_points(rng, options["profile"], sigma_q)
            profiler.enable()
            for lat, lng in points:
                service(lat, lng)
            profiler.disable()
            for order in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
                log(out.getvalue())

        errors, sizes = exactness(
            tenant=tenant,
            bd=bd,
            pools=pools,
            rng=rng,
            n=options["exact"],
            sigma_km=options["sigma_km"],
            radius_m=radius,
            limit=limit,
            log=log,
        )
        if sizes:
            log(f"exactness: {errors} of {len(sizes)} differ; true result sizes {min(sizes)}..{max(sizes)}")
        figures: dict[str, Any] = {
            "benchmark": "nearby",
            "backend": connection.vendor,
            "points": n,
            "queries": options["queries"],
            "service_p50_ms": _ms(times["service"], 0.5),
            "service_p99_ms": _ms(times["service"], 0.99),
            "http_p50_ms": _ms(times["http"], 0.5),
            "http_p99_ms": _ms(times["http"], 0.99),
            "raw_p50_ms": _ms(times["raw"], 0.5),
            "raw_p99_ms": _ms(times["raw"], 0.99),
            "ratio_p50": round(percentile(times["service"], 0.5) / percentile(times["raw"], 0.5), 2),
            "ratio_p99": round(percentile(times["service"], 0.99) / percentile(times["raw"], 0.99), 2),
            "avg_results": round(sum(results) / max(1, len(results)), 1),
            "exactness_errors": errors,
            "exactness_queries": len(sizes),
            "service_sql_queries": sql_per_call,
            "gc_full_collections": pauses.full,
            "insert_seconds": round(inserted, 1),
        }
        return figures
    finally:
        if options["keep"]:
            log(f"kept the benchmark tenant: measure again with --tenant {tenant.slug}")
        else:
            drop_tenant(tenant, log)
