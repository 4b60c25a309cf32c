"""Nearby merchants: exact against brute force, sorted, with pool status that never says whose."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from django.db import connection

from leadsea.core import geo
from leadsea.leads.models import Lead
from leadsea.leads.nearby import leads_nearby
from leadsea.leads.services import lead_create
from leadsea.pools import services as pools

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CENTRE = (39.9087, 116.4605)


def scatter(org, n: int, seed: int = 1, spread_m: float = 3000) -> list[Lead]:
    rng = random.Random(seed)
    made = []
    for i in range(n):
        lat = CENTRE[0] + rng.uniform(-spread_m, spread_m) / 111_195
        lng = CENTRE[1] + rng.uniform(-spread_m, spread_m) / (111_195 * 0.767)
        made.append(
            lead_create(
                tenant=org.tenant, actor=org.admin, data={"name": f"店{i}", "lat": lat, "lng": lng}, now=T0
            )
        )
    return made


def brute(leads: list[Lead], lat: float, lng: float, radius: float, limit: int) -> list[int]:
    found = sorted((geo.haversine_m(lat, lng, x.lat, x.lng), x.pk) for x in leads)
    return [pk for d, pk in found if d <= radius][:limit]


def test_matches_brute_force_on_random_points(org, time_machine):
    time_machine.move_to(T0, tick=False)
    leads = scatter(org, 300)
    rng = random.Random(2)
    for _ in range(25):
        lat = CENTRE[0] + rng.uniform(-2000, 2000) / 111_195
        lng = CENTRE[1] + rng.uniform(-2000, 2000) / 85_300
        radius = rng.choice([150, 500, 1000, 2500])
        got = leads_nearby(
            tenant=org.tenant, membership=org.admin, lat=lat, lng=lng, radius_m=radius, limit=50
        )
        assert [n.lead.pk for n in got] == brute(leads, lat, lng, radius, 50)
        distances = [n.distance_m for n in got]
        assert distances == sorted(distances) and all(d <= radius for d in distances)


@pytest.mark.parametrize("prepared", [True, False])
def test_a_bd_gets_the_same_exact_answer_with_and_without_prepared_statements(
    org, time_machine, settings, prepared
):
    """PostgreSQL runs one prepared statement per pass (pools as a subquery, haversine on the server); with
    LEADSEA_PG_PREPARED_STATEMENTS off it runs the queries SQLite runs. Both are exact, for a BD too."""
    settings.PG_PREPARED_STATEMENTS = prepared
    time_machine.move_to(T0, tick=False)
    leads = scatter(org, 200, seed=11)
    rng = random.Random(12)
    for _ in range(12):
        lat = CENTRE[0] + rng.uniform(-1500, 1500) / 111_195
        lng = CENTRE[1] + rng.uniform(-1500, 1500) / 85_300
        radius = rng.choice([200, 800, 2000])
        got = leads_nearby(tenant=org.tenant, membership=org.bd1, lat=lat, lng=lng, radius_m=radius, limit=40)
        assert [n.lead.pk for n in got] == brute(leads, lat, lng, radius, 40)
        want = [geo.haversine_m(lat, lng, n.lead.lat, n.lead.lng) for n in got]
        assert [n.distance_m for n in got] == pytest.approx(want, abs=1e-6)


def test_edge_of_the_radius_is_exact(org, time_machine):
    time_machine.move_to(T0, tick=False)
    inside, outside = [], []
    for bearing in range(0, 360, 15):
        for dist, bucket in ((999.5, inside), (1000.5, outside)):
            # walk `dist` metres from the centre on `bearing` (spherical destination formula)
            import math

            r = geo.EARTH_RADIUS_M
            phi1, lam1, theta = map(math.radians, (CENTRE[0], CENTRE[1], bearing))
            delta = dist / r
            phi2 = math.asin(
                math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta)
            )
            lam2 = lam1 + math.atan2(
                math.sin(theta) * math.sin(delta) * math.cos(phi1),
                math.cos(delta) - math.sin(phi1) * math.sin(phi2),
            )
            bucket.append(
                lead_create(
                    tenant=org.tenant,
                    actor=org.admin,
                    data={
                        "name": f"边{bearing}-{dist}",
                        "lat": math.degrees(phi2),
                        "lng": math.degrees(lam2),
                    },
                    now=T0,
                ).pk
            )
    got = {
        n.lead.pk
        for n in leads_nearby(
            tenant=org.tenant, membership=org.admin, lat=CENTRE[0], lng=CENTRE[1], radius_m=1000, limit=200
        )
    }
    assert got == set(inside)


def test_pool_status_and_sea_filter_and_no_owner_for_bds(org, api_as, time_machine):
    time_machine.move_to(T0, tick=False)
    a, b, c = (
        lead_create(
            tenant=org.tenant,
            actor=org.admin,
            data={"name": n, "lat": CENTRE[0] + i * 0.0005, "lng": CENTRE[1]},
            now=T0,
        )
        for i, n in enumerate(["公海店", "我的店", "别人的店"])
    )
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=b.pk, now=T0)
    pools.lead_claim(tenant=org.tenant, actor=org.bd2, lead_id=c.pk, now=T0)
    got = leads_nearby(tenant=org.tenant, membership=org.bd1, lat=CENTRE[0], lng=CENTRE[1], radius_m=500)
    assert [(n.lead.pk, n.pool_status) for n in got] == [(a.pk, "public"), (b.pk, "mine"), (c.pk, "taken")]
    public = leads_nearby(tenant=org.tenant, membership=org.bd1, lat=CENTRE[0], lng=CENTRE[1], sea="public")
    assert [n.lead.pk for n in public] == [a.pk]
    mine = leads_nearby(tenant=org.tenant, membership=org.bd1, lat=CENTRE[0], lng=CENTRE[1], sea="private")
    assert [n.lead.pk for n in mine] == [b.pk]
    body = api_as(org.bd1).get("/api/v1/leads/nearby", {"lat": CENTRE[0], "lng": CENTRE[1]}).json()
    taken = next(x for x in body if x["pool_status"] == "taken")
    assert taken["lead"]["owner"] is None and str(org.bd2.user_id) not in str(taken["lead"]["owner"])
    manager = api_as(org.manager).get("/api/v1/leads/nearby", {"lat": CENTRE[0], "lng": CENTRE[1]}).json()
    assert next(x for x in manager if x["lead"]["id"] == c.pk)["lead"]["owner"] == org.bd2.user_id


def test_coordinate_systems_and_errors(org, api_as, time_machine):
    time_machine.move_to(T0, tick=False)
    lead = lead_create(
        tenant=org.tenant, actor=org.admin, data={"name": "店", "lat": CENTRE[0], "lng": CENTRE[1]}, now=T0
    )
    api = api_as(org.bd1)
    for coord_sys in ("gcj02", "bd09"):
        lat, lng = geo.from_wgs84(*CENTRE, coord_sys)
        body = api.get(
            "/api/v1/leads/nearby", {"lat": lat, "lng": lng, "coord_sys": coord_sys, "radius_m": 50}
        ).json()
        assert [x["lead"]["id"] for x in body] == [lead.pk] and body[0]["distance_m"] < 1
    r = api.get("/api/v1/leads/nearby", {"lat": 39.9, "lng": 116.4, "coord_sys": "utm"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "coord_sys"
    r = api.get("/api/v1/leads/nearby", {"lat": 39.9, "lng": 116.4, "radius_m": 100000})
    assert r.status_code == 422
    # A lead created from a GCJ-02 map pick is stored as WGS-84.
    gcj = geo.from_wgs84(39.95, 116.40, "gcj02")
    made = api.post(
        "/api/v1/leads", {"name": "地图选点", "lat": gcj[0], "lng": gcj[1], "coord_sys": "gcj02"}
    ).json()
    assert geo.haversine_m(made["lat"], made["lng"], 39.95, 116.40) < 0.5


def test_nearby_query_count_is_bounded(org, time_machine, django_assert_max_num_queries):
    time_machine.move_to(T0, tick=False)
    scatter(org, 80, spread_m=400)
    # SQLite: pools, candidates (two passes at most), display rows. PostgreSQL: one statement per pass.
    with django_assert_max_num_queries(4 if connection.vendor == "sqlite" else 2):
        got = leads_nearby(tenant=org.tenant, membership=org.bd1, lat=CENTRE[0], lng=CENTRE[1], radius_m=1000)
    assert len(got) == 50


def test_the_first_pass_answers_alone_when_dense_and_stays_exact(
    org, time_machine, django_assert_num_queries
):
    """Within FIRST_PASS_M of a dense centre there are more than `limit` stores: one candidate query answers,
    and the answer is still the exact nearest, stores just outside the first circle included or not."""
    time_machine.move_to(T0, tick=False)
    leads = scatter(org, 120, seed=3, spread_m=200) + scatter(org, 60, seed=4, spread_m=900)
    rng = random.Random(5)
    for _ in range(10):
        lat = CENTRE[0] + rng.uniform(-60, 60) / 111_195
        lng = CENTRE[1] + rng.uniform(-60, 60) / 85_300
        # SQLite: pools, one candidate pass, display rows. PostgreSQL: one statement does it all.
        with django_assert_num_queries(3 if connection.vendor == "sqlite" else 1):
            got = leads_nearby(
                tenant=org.tenant, membership=org.bd1, lat=lat, lng=lng, radius_m=1000, limit=30
            )
        assert [n.lead.pk for n in got] == brute(leads, lat, lng, 1000, 30)
    # Far from the cluster the first circle holds too few: the second pass reads the whole radius.
    lat, lng = CENTRE[0] + 700 / 111_195, CENTRE[1]
    with django_assert_num_queries(4 if connection.vendor == "sqlite" else 2):
        got = leads_nearby(tenant=org.tenant, membership=org.bd1, lat=lat, lng=lng, radius_m=1000, limit=30)
    assert [n.lead.pk for n in got] == brute(leads, lat, lng, 1000, 30)


def test_rows_carry_tags_stage_and_last_visit(org, time_machine):
    """The one display query returns what the list shows: tags (sorted), the stage key and the last visit."""
    from leadsea.pipeline.services import lead_stage_set
    from leadsea.visits.services import visit_record

    time_machine.move_to(T0, tick=False)
    lead = lead_create(
        tenant=org.tenant,
        actor=org.admin,
        data={"name": "老北京炸酱面", "lat": CENTRE[0], "lng": CENTRE[1], "tags": ["夜宵", "连锁"]},
        now=T0,
    )
    plain = lead_create(
        tenant=org.tenant,
        actor=org.admin,
        data={"name": "空白店", "lat": CENTRE[0], "lng": CENTRE[1]},
        now=T0,
    )
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    lead_stage_set(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="contact", now=T0)
    for n in (1, 2):
        visit_record(
            tenant=org.tenant,
            actor=org.bd1,
            lead_id=lead.pk,
            lat=CENTRE[0],
            lng=CENTRE[1] + n * 0.01,
            now=T0.replace(hour=2 + n),
        )
    got = {
        n.lead.pk: n
        for n in leads_nearby(tenant=org.tenant, membership=org.bd1, lat=CENTRE[0], lng=CENTRE[1])
    }
    mine, other = got[lead.pk], got[plain.pk]
    assert mine.tags == ["夜宵", "连锁"] and mine.stage_key == "contact" and mine.pool_status == "mine"
    assert mine.last_visit is not None and mine.last_visit.visited_at == T0.replace(hour=4)
    assert mine.last_visit.verified is False and mine.last_visit.distance_m > 1000
    assert mine.lead.claimed_at == T0 and mine.lead.expires_at is not None and mine.lead.expires_at > T0
    assert other.tags == [] and other.stage_key is None and other.last_visit is None


def test_http_items_have_the_documented_shape_and_match_the_lead_api(org, api_as, time_machine):
    """/leads/nearby renders its items directly: they must still be NearbyOut, and each lead exactly what
    GET /leads/{id} answers (same fields, same formats)."""
    from pydantic import TypeAdapter

    from leadsea.leads.api import NearbyOut
    from leadsea.visits.services import visit_record

    time_machine.move_to(T0, tick=False)
    lead = lead_create(
        tenant=org.tenant,
        actor=org.admin,
        data={
            "name": "庆丰包子铺",
            "branch_name": "国贸店",
            "lat": CENTRE[0],
            "lng": CENTRE[1],
            "tags": ["早餐"],
            "phone": "010-6505 1234",
        },
        now=T0,
    )
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    visit_record(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, lat=CENTRE[0], lng=CENTRE[1], now=T0)
    client = api_as(org.bd1)
    response = client.get("/api/v1/leads/nearby", {"lat": CENTRE[0], "lng": CENTRE[1], "radius_m": 100})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    items = response.json()
    TypeAdapter(list[NearbyOut]).validate_python(items)
    assert items[0]["lead"] == client.get(f"/api/v1/leads/{lead.pk}").json()
    assert items[0]["pool_status"] == "mine" and items[0]["lead"]["tags"] == ["早餐"]
    assert items[0]["last_visit"]["verified"] is True and items[0]["last_visit"]["by_me"] is True


def test_postgresql_runs_the_search_as_a_prepared_statement_with_its_generic_plan(org, time_machine):
    """Django turns psycopg's prepared statements off; core.hotsql turns them back on for its statements
    only, and the session plans them once (plan_cache_mode): no planning on every search."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    time_machine.move_to(T0, tick=False)
    scatter(org, 60)
    for _ in range(3):
        leads_nearby(tenant=org.tenant, membership=org.bd1, lat=CENTRE[0], lng=CENTRE[1], radius_m=1000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE from_sql = false")
        prepared = [row[0] for row in cursor.fetchall()]
        cursor.execute("SHOW plan_cache_mode")
        mode = cursor.fetchone()[0]
    assert any("leads_lead" in sql and "asin(sqrt(" in sql for sql in prepared), prepared
    assert not any("django_" in sql for sql in prepared)  # Django's own queries stay unprepared
    assert mode == "force_generic_plan"
