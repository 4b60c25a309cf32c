"""The mobile web app for BDs (/m/) through Django's test client: nearby list, map, merchant 360, check-in,
to-do, the PWA files, the desktop to-do page and badge, and tenant isolation."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from PIL import Image

from conftest import PASSWORD, Org
from leadsea.core import geo
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_create
from leadsea.mobile.selectors import todo_total
from leadsea.pipeline.models import Opportunity, Stage
from leadsea.pools import services as pools
from leadsea.tasks.models import Task
from leadsea.tasks.selectors import todo_for
from leadsea.tasks.services import task_create
from leadsea.visits.models import Contact, Visit
from leadsea.visits.services import contact_create, visit_record

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
HOME = (39.9087, 116.4605)  # 国贸


def offset(lat: float, lng: float, north_m: float = 0.0, east_m: float = 0.0) -> tuple[float, float]:
    """A point `north_m` metres north and `east_m` metres east of (lat, lng)."""
    import math

    dlat = north_m / 111_195.0
    dlng = east_m / (111_195.0 * math.cos(math.radians(lat)))
    return lat + dlat, lng + dlng


@pytest.fixture(autouse=True)
def frozen(time_machine: Any) -> Any:
    time_machine.move_to(T0, tick=False)
    cache.clear()  # the district centres are cached per tenant id, and ids repeat between tests
    return time_machine


def login(member: Any, language: str = "en") -> Client:
    client = Client()
    client.cookies["leadsea_language"] = language
    r = client.post(
        "/login/", {"tenant": member.tenant.slug, "username": member.user.username, "password": PASSWORD}
    )
    assert r.status_code == 302, r.content.decode()[:300]
    return client


def text(r: Any) -> str:
    return r.content.decode()


def store(org: Org, name: str, north_m: float = 0, east_m: float = 0, **data: Any) -> Lead:
    lat, lng = offset(*HOME, north_m=north_m, east_m=east_m)
    return lead_create(
        tenant=org.tenant,
        actor=org.admin,
        data={"name": name, "lat": lat, "lng": lng, "city": "北京市", "district": "朝阳区", **data},
        now=T0 - timedelta(days=30),
    )


def claim(org: Org, member: Any, lead: Lead, days_ago: float = 0) -> Lead:
    pools.lead_claim(tenant=org.tenant, actor=member, lead_id=lead.pk, now=T0 - timedelta(days=days_ago))
    return Lead.objects.get(tenant=org.tenant, pk=lead.pk)


def reload(org: Org, lead: Lead) -> Lead:
    return Lead.objects.get(tenant=org.tenant, pk=lead.pk)


def items(page: str) -> list[str]:
    """The lead ids of the nearby list, in order."""
    return re.findall(r'<li class="m-item" data-lead="(\d+)"', page)


def item_html(page: str, lead: Lead) -> str:
    match = re.search(rf'<li class="m-item" data-lead="{lead.pk}".*?</li>', page, flags=re.S)
    assert match, f"lead {lead.pk} is not listed"
    return match.group(0)


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "#0f6fde").save(buffer, format="PNG")
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)


def checkin_data(lat: float, lng: float, **extra: Any) -> dict[str, Any]:
    return {
        "lat": f"{lat:.7f}",
        "lng": f"{lng:.7f}",
        "accuracy_m": "12",
        "coord_sys": "wgs84",
        "position_source": "gps",
        **extra,
    }


# --------------------------------------------------------------------------------------------- pages


def test_pages_render_for_a_bd_with_the_bottom_navigation(org: Org) -> None:
    lead = claim(org, org.bd1, store(org, "海底捞火锅", branch_name="国贸店"))
    client = login(org.bd1)
    for path in (
        "/m/",
        "/m/map/",
        "/m/todo/",
        "/m/mine/",
        f"/m/leads/{lead.pk}/",
        f"/m/leads/{lead.pk}/checkin/",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        page = text(r)
        assert 'class="m-tabs"' in page, path
        for href in ("/m/", "/m/map/", "/m/todo/", "/m/mine/"):
            assert f'href="{href}"' in page, (path, href)
        assert 'rel="manifest" href="/m/manifest.webmanifest"' in page
        assert 'data-sw="/m/sw.js"' in page
        assert "/static/mobile/mobile.js" in page
    assert "海底捞火锅（国贸店）" in text(client.get("/m/mine/"))


def test_mobile_pages_need_a_login(org: Org) -> None:
    r = Client().get("/m/")
    assert r.status_code == 302 and r["Location"] == "/login/?next=/m/"
    assert Client().get("/m/nearby/?lat=39.9&lng=116.4").status_code == 302
    r = Client().post(
        "/login/",
        {"tenant": "acme", "username": org.bd1.user.username, "password": PASSWORD, "next": "/m/"},
    )
    assert r["Location"] == "/m/"


def test_the_ui_speaks_chinese_and_english(org: Org) -> None:
    zh = text(login(org.bd1, "zh-hans").get("/m/"))
    for word in ("附近", "地图", "待办", "我的私海", "手动设置位置"):
        assert word in zh, word
    en = text(login(org.bd1, "en").get("/m/"))
    for word in ("Nearby", "Map", "To-do", "My private sea", "Set the position by hand"):
        assert word in en, word


# --------------------------------------------------------------------------------------------- nearby


def test_nearby_fragment_lists_merchants_by_distance_with_status_badges(org: Org) -> None:
    far = store(org, "远店", north_m=800, tags=["连锁"])
    mine = claim(org, org.bd1, store(org, "我的店", east_m=300))
    taken = claim(org, org.bd2, store(org, "别人的店", north_m=-120))
    near = store(org, "近店", east_m=40, category="火锅")
    store(org, "太远的店", north_m=3000)
    visit_record(tenant=org.tenant, actor=org.bd1, lead_id=mine.pk, lat=mine.lat, lng=mine.lng, now=T0)

    client = login(org.bd1)
    r = client.get("/m/nearby/", {"lat": HOME[0], "lng": HOME[1], "radius_m": 1000})
    assert r.status_code == 200
    page = text(r)
    assert "<html" not in page and "m-tabs" not in page  # a fragment
    assert items(page) == [str(near.pk), str(taken.pk), str(mine.pk), str(far.pk)]
    assert "4 merchants within 1 km" in page

    near_html, taken_html, mine_html, far_html = (item_html(page, x) for x in (near, taken, mine, far))
    assert "Public sea" in near_html and "40 m" in near_html and "火锅" in near_html
    assert f'action="/sea/leads/{near.pk}/claim/"' in near_html and "Never visited" in near_html
    assert "Mine" in mine_html and "/claim/" not in mine_html
    assert "Last visit 2026-03-02 ✓ · by me" in mine_html
    assert "连锁" in far_html and "800 m" in far_html
    # Taken: the BD learns that it is someone else's, not whose, and gets no link to a page they cannot open.
    assert "Taken" in taken_html and "/claim/" not in taken_html
    assert f'href="/m/leads/{taken.pk}/"' not in taken_html
    assert "bd2" not in page and org.bd2.user.username not in page
    # A claim comes back to the same position and filters.
    assert 'name="next" value="/m/?lat=39.9087&amp;lng=116.4605&amp;radius_m=1000.0&amp;sea=all' in near_html

    only_public = text(client.get("/m/nearby/", {"lat": HOME[0], "lng": HOME[1], "sea": "public"}))
    assert items(only_public) == [str(near.pk), str(far.pk)]
    only_mine = text(client.get("/m/nearby/", {"lat": HOME[0], "lng": HOME[1], "sea": "private"}))
    assert items(only_mine) == [str(mine.pk)]

    # A supervisor sees who holds it.
    manager_page = text(login(org.manager).get("/m/nearby/", {"lat": HOME[0], "lng": HOME[1]}))
    assert "bd2" in item_html(manager_page, taken)
    assert f'href="/m/leads/{taken.pk}/"' in item_html(manager_page, taken)


def test_nearby_accepts_chinese_map_coordinates(org: Org) -> None:
    lead = store(org, "近店", east_m=50)
    lat, lng = geo.wgs84_to_gcj02(*HOME)  # ~500 m off in WGS-84 terms: only right if converted
    page = text(
        login(org.bd1).get("/m/nearby/", {"lat": lat, "lng": lng, "radius_m": 100, "coord_sys": "gcj02"})
    )
    assert items(page) == [str(lead.pk)]


@pytest.mark.parametrize(
    "params",
    [{}, {"lat": "abc", "lng": "116.4"}, {"lat": "95", "lng": "116.4"}, {"lat": "nan", "lng": "116.4"}],
)
def test_nearby_without_a_usable_position_says_so(org: Org, params: dict[str, str]) -> None:
    r = login(org.bd1).get("/m/nearby/", params)
    assert r.status_code == 200 and 'role="alert"' in text(r) and "Set your position first" in text(r)


def test_nearby_radius_out_of_range_is_an_error(org: Org) -> None:
    r = login(org.bd1).get("/m/nearby/", {"lat": HOME[0], "lng": HOME[1], "radius_m": 90000})
    assert 'role="alert"' in text(r) and items(text(r)) == []


def test_nearby_page_renders_a_manual_position_on_the_server(org: Org) -> None:
    lead = store(org, "近店", east_m=40)
    page = text(login(org.bd1).get("/m/", {"lat": HOME[0], "lng": HOME[1], "radius_m": 500}))
    assert items(page) == [str(lead.pk)]
    assert 'name="lat" value="39.9087"' in page  # the filters keep the position for htmx
    assert "Position set by hand" in page


def test_district_centres_for_a_manual_position(org: Org) -> None:
    store(org, "甲", east_m=100)
    store(org, "乙", east_m=-100)
    store(org, "丙", north_m=5000, district="东城区")
    page = text(login(org.bd1).get("/m/districts/"))
    assert "北京市 朝阳区 (2)" in page and "北京市 东城区 (1)" in page
    assert f'value="{HOME[0]:.6f},{HOME[1]:.6f}"' in page  # the mean of the two stores


def test_nearby_query_count_does_not_grow_with_the_results(org: Org) -> None:
    client = login(org.bd1)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            r = client.get("/m/nearby/", {"lat": HOME[0], "lng": HOME[1], "radius_m": 2000})
        assert r.status_code == 200
        return len(ctx.captured_queries)

    for i in range(3):
        lead = store(org, f"店{i}", north_m=i * 50, tags=["甲"])
        visit_record(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, lat=lead.lat, lng=lead.lng, now=T0)
    small = queries()
    for i in range(3, 30):
        lead = store(org, f"店{i}", north_m=i * 50, tags=["乙", "丙"])
        owner = org.bd2 if i % 2 else org.bd1
        claim(org, owner, lead)
        visit_record(tenant=org.tenant, actor=owner, lead_id=lead.pk, lat=lead.lat, lng=lead.lng, now=T0)
    assert queries() == small
    assert small <= 10


# ------------------------------------------------------------------------------------------------ map


def test_map_page_has_leaflet_and_no_tiles_by_default(org: Org) -> None:
    page = text(login(org.bd1).get("/m/map/"))
    assert "/static/vendor/leaflet/leaflet.js" in page and "/static/vendor/leaflet/leaflet.css" in page
    assert 'data-tile-url=""' in page
    assert "No map tiles are configured" in page


def test_leaflet_is_served_from_node_modules(org: Org) -> None:
    from django.contrib.staticfiles import finders

    for path in ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "vendor/htmx/htmx.min.js"):
        assert finders.find(path), path


@override_settings(
    LEADSEA_MAP_TILE_URL="https://tiles.example.test/{z}/{x}/{y}.png",
    LEADSEA_MAP_TILE_ATTRIBUTION="© Example",
    LEADSEA_MAP_COORD_SYS="gcj02",
)
def test_map_tiles_and_their_datum_are_settings(org: Org) -> None:
    lead = store(org, "近店", east_m=40)
    client = login(org.bd1)
    page = text(client.get("/m/map/"))
    assert 'data-tile-url="https://tiles.example.test/{z}/{x}/{y}.png"' in page
    assert 'data-tile-attribution="© Example"' in page
    fragment = text(client.get("/m/nearby/", {"lat": HOME[0], "lng": HOME[1], "view": "map"}))
    g_lat, g_lng = geo.wgs84_to_gcj02(lead.lat, lead.lng)  # type: ignore[arg-type]
    assert f'data-map-lat="{g_lat:.6f}" data-map-lng="{g_lng:.6f}"' in item_html(fragment, lead)
    assert 'name="next" value="/m/map/?' in fragment


# ------------------------------------------------------------------------------------------- merchant 360


def test_merchant_360_shows_everything_a_bd_needs(org: Org) -> None:
    lead = claim(
        org,
        org.bd1,
        store(org, "海底捞火锅", branch_name="国贸店", phones=["010-6588 1234"], tags=["连锁", "top300"]),
        days_ago=5,
    )
    sister = store(org, "海底捞火锅", branch_name="三里屯店", north_m=2500)
    hidden = claim(org, org.bd2, store(org, "海底捞火锅", branch_name="望京店", north_m=8000))
    store(org, "西贝莜面村", east_m=10)
    other = contact_create(
        tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, data={"name": "王店员", "role": "店员"}, now=T0
    )
    kp = contact_create(
        tenant=org.tenant,
        actor=org.bd1,
        lead_id=lead.pk,
        data={"name": "张店长", "role": "店长", "phones": ["138 0013 8001"], "is_key_person": True},
        now=T0,
    )
    visit_record(
        tenant=org.tenant,
        actor=org.bd1,
        lead_id=lead.pk,
        lat=HOME[0] + 0.01,
        lng=HOME[1],
        now=T0 - timedelta(days=1),
    )
    stage = Stage.objects.create(
        tenant=org.tenant, key="negotiating", name_zh="谈判中", name_en="Negotiating"
    )
    Opportunity.objects.create(
        tenant=org.tenant, lead=lead, name="首单", stage=stage, created_at=T0, stage_changed_at=T0
    )

    page = text(login(org.bd1).get(f"/m/leads/{lead.pk}/"))
    assert "海底捞火锅（国贸店）" in page and "连锁" in page and "top300" in page
    assert 'href="tel:+861065881234"' in page and 'href="tel:+8613800138001"' in page
    assert page.index(kp.name) < page.index(other.name)  # the KP first
    assert "Not verified" in page and "1.1 km from the store" in page
    assert "首单" in page and "谈判中" in page
    assert "No verified visit for 5 days: drops in 10 days" in page
    assert "Our deals and sales" in page and "Competitor sales" in page and page.count("No data yet") == 2
    related = page.split('id="related"')[1]
    assert f'href="/m/leads/{sister.pk}/"' in related and "2.5 km" in related
    assert f"/m/leads/{hidden.pk}/" not in related  # another BD's private store is out of scope
    assert "西贝" not in related
    # Actions: check in, extend, release, all back to this page.
    assert f'href="/m/leads/{lead.pk}/checkin/"' in page
    assert f'action="/sea/leads/{lead.pk}/extend/"' in page
    assert f'action="/sea/leads/{lead.pk}/release/"' in page
    assert f'action="/sea/leads/{lead.pk}/claim/"' not in page
    assert f'name="next" value="/m/leads/{lead.pk}/"' in page


def test_merchant_360_query_count_does_not_grow_with_its_history(org: Org) -> None:
    lead = claim(org, org.bd1, store(org, "海底捞火锅", branch_name="国贸店", tags=["连锁"]))
    client = login(org.bd1)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(f"/m/leads/{lead.pk}/")
        assert r.status_code == 200
        return len(ctx.captured_queries)

    def grow(n: int) -> None:
        for i in range(n):
            contact_create(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, data={"name": f"人{i}"}, now=T0)
            visit_record(
                tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, lat=lead.lat, lng=lead.lng, now=T0
            )
            store(org, "海底捞火锅", branch_name=f"分店{i}", north_m=100 * (i + 1))

    grow(1)
    small = queries()
    grow(8)
    assert queries() == small


def test_claim_release_and_extend_from_the_360_page_come_back_to_it(org: Org) -> None:
    lead = store(org, "喜茶")
    client = login(org.bd1)
    here = f"/m/leads/{lead.pk}/"
    assert f'action="/sea/leads/{lead.pk}/claim/"' in text(client.get(here))
    r = client.post(f"/sea/leads/{lead.pk}/claim/", {"next": here})
    assert r.status_code == 302 and r["Location"] == here
    assert reload(org, lead).owner_id == org.bd1.user_id
    page = text(client.get(here))
    assert "Claimed: the lead is in your private sea." in page and "drops in 15 days" in page

    before = reload(org, lead).expires_at
    r = client.post(f"/sea/leads/{lead.pk}/extend/", {"next": here})
    assert r["Location"] == here and reload(org, lead).expires_at > before  # type: ignore[operator]

    r = client.post(f"/sea/leads/{lead.pk}/release/", {"next": here, "reason": "店已关门"})
    assert r["Location"] == here and reload(org, lead).owner_id is None
    assert "Released to the public sea." in text(client.get(here))


def test_a_bd_cannot_open_another_bds_lead(org: Org) -> None:
    lead = claim(org, org.bd2, store(org, "别人的店"))
    client = login(org.bd1)
    assert client.get(f"/m/leads/{lead.pk}/").status_code == 404
    assert client.get(f"/m/leads/{lead.pk}/checkin/").status_code == 404


# ------------------------------------------------------------------------------------------------ check-in


def test_checkin_within_the_radius_is_verified_and_resets_the_owners_clock(org: Org) -> None:
    lead = claim(org, org.bd1, store(org, "海底捞火锅", branch_name="国贸店"), days_ago=5)
    due = lead.visit_due_at
    assert due == T0 + timedelta(days=10)
    client = login(org.bd1)
    assert "No verified visit for 5 days: drops in 10 days" in text(client.get(f"/m/leads/{lead.pk}/"))

    lat, lng = offset(*HOME, north_m=60)
    r = client.post(
        f"/m/leads/{lead.pk}/checkin/",
        checkin_data(lat, lng, purpose="follow_up", outcome="met_kp", notes="老板在", next_step="带合同"),
    )
    assert r.status_code == 302 and r["Location"] == f"/m/leads/{lead.pk}/#visits"
    visit = Visit.objects.get(tenant=org.tenant, lead=lead)
    assert visit.verified and 59 < visit.distance_m < 61  # type: ignore[operator]
    assert (visit.accuracy_m, visit.outcome, visit.notes, visit.next_step) == (
        12,
        "met_kp",
        "老板在",
        "带合同",
    )
    after = reload(org, lead)
    assert after.visit_due_at == T0 + timedelta(days=15) and after.visit_due_at != due
    assert after.last_visit_at == T0

    page = text(client.get(r["Location"]))
    assert "Checked in and verified: 60 m from the store." in page
    assert "No verified visit for 0 days: drops in 15 days" in page
    assert 'data-verified="1"' in page


def test_checkin_outside_the_radius_is_stored_unverified_and_the_clock_stays(org: Org) -> None:
    lead = claim(org, org.bd1, store(org, "海底捞火锅"), days_ago=5)
    lat, lng = offset(*HOME, east_m=1200)
    client = login(org.bd1)
    r = client.post(f"/m/leads/{lead.pk}/checkin/", checkin_data(lat, lng))
    assert r.status_code == 302
    visit = Visit.objects.get(tenant=org.tenant, lead=lead)
    assert not visit.verified and 1199 < visit.distance_m < 1201  # type: ignore[operator]
    assert reload(org, lead).visit_due_at == T0 + timedelta(days=10)
    page = text(client.get(r["Location"]))
    assert "Checked in, not verified: 1.2 km from the store (a verified visit is within 300 m)." in page
    assert "drops in 10 days" in page and 'data-verified="0"' in page


def test_checkin_with_a_coarse_fix_is_not_verified(org: Org) -> None:
    lead = claim(org, org.bd1, store(org, "海底捞火锅"), days_ago=5)
    client = login(org.bd1)
    client.post(f"/m/leads/{lead.pk}/checkin/", checkin_data(*HOME, accuracy_m="900"))
    assert not Visit.objects.get(tenant=org.tenant, lead=lead).verified
    assert "only accurate to ±900 m" in text(client.get(f"/m/leads/{lead.pk}/"))


def test_checkin_by_someone_other_than_the_owner_does_not_move_the_clock(org: Org) -> None:
    lead = store(org, "公海店")  # public: anyone may visit, nobody's clock runs
    client = login(org.bd1)
    client.post(f"/m/leads/{lead.pk}/checkin/", checkin_data(*HOME))
    visit = Visit.objects.get(tenant=org.tenant, lead=lead)
    assert visit.verified and reload(org, lead).visit_due_at is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "lat"),
        ({"lat": "", "lng": ""}, "lat"),
        ({"lat": "abc", "lng": "116.46"}, "lat"),
        ({"lat": "39.9", "lng": "1e999"}, "lng"),
        ({"lat": "91", "lng": "116.46"}, "lat"),
        ({"lat": "39.9087", "lng": "116.4605", "purpose": "party"}, "purpose"),
        ({"lat": "39.9087", "lng": "116.4605", "next_visit_date": "2026-02-01"}, "next_visit_date"),
        ({"lat": "39.9087", "lng": "116.4605", "next_visit_date": "soon"}, "next_visit_date"),
        ({"lat": "39.9087", "lng": "116.4605", "contact": "999999"}, "contact"),
    ],
)
def test_invalid_checkin_shows_the_error_by_its_field_and_writes_nothing(
    org: Org, data: dict[str, str], field: str
) -> None:
    lead = claim(org, org.bd1, store(org, "海底捞火锅"), days_ago=5)
    r = login(org.bd1).post(f"/m/leads/{lead.pk}/checkin/", data)
    assert r.status_code == 422
    assert f'data-error-for="{field}"' in text(r), text(r)[:3000]
    assert not Visit.objects.filter(tenant=org.tenant).exists()
    assert reload(org, lead).visit_due_at == T0 + timedelta(days=10)
    if field == "lat":
        assert 'data-manual-open="1"' in text(r)  # the manual position fields are open on an error


def test_checkin_adds_a_new_key_person_inline(org: Org) -> None:
    lead = claim(org, org.bd1, store(org, "海底捞火锅"))
    client = login(org.bd1)
    r = client.post(
        f"/m/leads/{lead.pk}/checkin/",
        checkin_data(*HOME, contact="new", new_name="张店长", new_role="店长", new_phone="138 0013 8001"),
    )
    assert r.status_code == 302
    contact = Contact.objects.get(tenant=org.tenant, lead=lead)
    assert (contact.name, contact.role, contact.phones, contact.is_key_person) == (
        "张店长",
        "店长",
        ["+8613800138001"],
        True,
    )
    assert Visit.objects.get(tenant=org.tenant, lead=lead).contact_id == contact.pk
    # Next time the KP is offered first, and chosen by default.
    form = text(client.get(f"/m/leads/{lead.pk}/checkin/"))
    assert re.search(rf'<option value="{contact.pk}" selected>张店长（店长） · KP</option>', form)
    r = client.post(f"/m/leads/{lead.pk}/checkin/", checkin_data(*HOME, contact=str(contact.pk)))
    assert r.status_code == 302
    assert Visit.objects.filter(tenant=org.tenant, contact=contact).count() == 2


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"new_name": ""}, "new_name"),
        ({"new_phone": "12"}, "new_phone"),
        (
            {"next_visit_date": "2026-03-02"},
            "next_visit_date",
        ),  # today 09:00 has passed: refused after the KP
    ],
)
def test_a_refused_checkin_leaves_no_new_contact_behind(org: Org, extra: dict[str, str], field: str) -> None:
    lead = claim(org, org.bd1, store(org, "海底捞火锅"))
    data = checkin_data(*HOME, contact="new", new_name="张店长", new_phone="138 0013 8001")
    r = login(org.bd1).post(f"/m/leads/{lead.pk}/checkin/", {**data, **extra})
    assert r.status_code == 422 and f'data-error-for="{field}"' in text(r)
    assert not Contact.objects.filter(tenant=org.tenant).exists()
    assert not Visit.objects.filter(tenant=org.tenant).exists()


def test_next_visit_date_becomes_a_planned_visit(org: Org) -> None:
    lead = claim(org, org.bd1, store(org, "海底捞火锅"))
    client = login(org.bd1)
    client.post(f"/m/leads/{lead.pk}/checkin/", checkin_data(*HOME, next_visit_date="2026-03-05"))
    visit = Visit.objects.get(tenant=org.tenant, lead=lead)
    assert visit.next_visit_at == datetime(2026, 3, 5, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
    todo = text(client.get("/m/todo/"))
    assert "Planned visits <b>1</b>" in todo and "2026-03-05 09:00" in todo


def test_photo_upload_is_stored_and_served_to_those_who_see_the_lead(org: Org, other_org: Org) -> None:
    lead = claim(org, org.bd1, store(org, "海底捞火锅"))
    client = login(org.bd1)
    r = client.post(
        f"/m/leads/{lead.pk}/checkin/",
        {**checkin_data(*HOME), "photo": upload("门头.png", png_bytes(), "image/png")},
    )
    assert r.status_code == 302
    visit = Visit.objects.get(tenant=org.tenant, lead=lead)
    assert visit.photo and visit.photo.name.endswith(".png")
    page = text(client.get(f"/m/leads/{lead.pk}/"))
    assert f'href="/m/visits/{visit.pk}/photo/"' in page
    r = client.get(f"/m/visits/{visit.pk}/photo/")
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert b"".join(r.streaming_content).startswith(b"\x89PNG")
    assert login(org.bd2).get(f"/m/visits/{visit.pk}/photo/").status_code == 404  # bd1's private lead
    assert login(other_org.bd1).get(f"/m/visits/{visit.pk}/photo/").status_code == 404


def test_a_non_image_upload_is_rejected_and_nothing_is_written(org: Org) -> None:
    lead = claim(org, org.bd1, store(org, "海底捞火锅"), days_ago=5)
    r = login(org.bd1).post(
        f"/m/leads/{lead.pk}/checkin/",
        {**checkin_data(*HOME), "photo": upload("photo.png", b"%PDF-1.4 not a picture", "image/png")},
    )
    assert r.status_code == 422 and 'data-error-for="photo"' in text(r)
    assert "JPEG, PNG or WebP" in text(r)
    assert not Visit.objects.filter(tenant=org.tenant).exists()
    assert reload(org, lead).visit_due_at == T0 + timedelta(days=10)


# ------------------------------------------------------------------------------------------------ to-do


def _todo_fixture(org: Org) -> tuple[Lead, Lead, Task]:
    expiring = claim(org, org.bd1, store(org, "快掉的店"), days_ago=13)  # no visit for 13 of 15 days
    claim(org, org.bd1, store(org, "刚领的店"))  # drops in 15 days: not yet a to-do
    planned = store(org, "约好的店", east_m=500)
    visit_record(
        tenant=org.tenant,
        actor=org.bd1,
        lead_id=planned.pk,
        lat=planned.lat,
        lng=planned.lng,
        next_visit_at=T0 + timedelta(days=2),
        now=T0 - timedelta(days=1),
    )
    task = task_create(
        tenant=org.tenant, actor=org.lead_a, title="拍门头照", assignee_id=org.bd1.user_id, now=T0
    )
    return expiring, planned, task


def test_todo_page_shows_counts_words_and_closes_tasks(org: Org) -> None:
    _, planned, task = _todo_fixture(org)
    client = login(org.bd1)
    page = text(client.get("/m/todo/"))
    assert 'data-total="3"' in page
    assert "About to drop <b>1</b>" in page and "Planned visits <b>1</b>" in page and "Tasks <b>1</b>" in page
    assert (
        "快掉的店" in page
        and "No verified visit for 13 days: drops in 2 days" in page
        and "刚领的店" not in page
    )
    assert "约好的店" in page and f'href="/m/leads/{planned.pk}/checkin/"' in page
    assert "拍门头照" in page and f'action="/m/tasks/{task.pk}/done/"' in page
    assert 'data-todo-count="3"' in page  # the badge of the bottom navigation agrees

    r = client.post(f"/m/tasks/{task.pk}/done/", {"next": "/m/todo/"})
    assert r.status_code == 302 and r["Location"] == "/m/todo/"
    assert Task.objects.get(tenant=org.tenant, pk=task.pk).status == Task.Status.DONE
    page = text(client.get("/m/todo/"))
    assert "Done: 拍门头照" in page and 'data-total="2"' in page and 'data-todo-count="2"' in page
    r = client.post(f"/m/tasks/{task.pk}/done/", follow=True)
    assert "This task is closed already." in text(r)


def test_the_badge_is_on_every_mobile_page_and_on_the_desktop_nav(org: Org) -> None:
    _todo_fixture(org)
    assert todo_total(tenant=org.tenant, user_id=org.bd1.user_id, now=T0) == 3
    assert todo_for(tenant=org.tenant, user_id=org.bd1.user_id, now=T0).counts["total"] == 3
    client = login(org.bd1)
    for path in ("/m/", "/m/map/", "/m/mine/"):
        assert 'data-todo-count="3"' in text(client.get(path)), path
    desktop = text(client.get("/leads/"))
    nav = desktop.split('<nav class="mainnav">')[1].split("</nav>")[0]
    assert re.search(r'<a href="/todo/"[^>]*>To-do <span class="todo-badge"[^>]*>3</span></a>', nav), nav
    r = client.get("/todo/")
    assert r.status_code == 200 and 'data-total="3"' in text(r) and 'aria-current="page">To-do' in text(r)
    assert "/leads/" in text(r) and "m-tabs" not in text(r)
    # Nobody to do anything: no badge.
    assert "todo-badge" not in text(login(org.bd3).get("/leads/"))
    assert "data-todo-count" not in text(login(org.bd3).get("/m/"))


def test_todo_total_matches_todo_for_at_the_cap(org: Org) -> None:
    for i in range(3):
        task_create(tenant=org.tenant, actor=org.bd1, title=f"任务{i}", now=T0)
    assert (
        todo_total(tenant=org.tenant, user_id=org.bd1.user_id)
        == todo_for(tenant=org.tenant, user_id=org.bd1.user_id).counts["total"]
    )


def test_desktop_list_keeps_its_query_budget_with_the_badge(
    org: Org, django_assert_max_num_queries: Any
) -> None:
    _todo_fixture(org)
    client = login(org.admin)
    with django_assert_max_num_queries(12):
        assert client.get("/leads/").status_code == 200


# ------------------------------------------------------------------------------------------------ PWA


def test_manifest_is_served_as_a_web_app_manifest() -> None:
    r = Client().get("/m/manifest.webmanifest")
    assert r.status_code == 200 and r["Content-Type"] == "application/manifest+json"
    data = json.loads(r.content)
    assert data["name"] == "leadsea" and data["short_name"]
    assert data["start_url"] == "/m/" and data["scope"] == "/m/" and data["display"] == "standalone"
    assert data["theme_color"].startswith("#")
    sizes = {i["sizes"] for i in data["icons"]}
    assert sizes == {"192x192", "512x512"}
    for icon in data["icons"]:
        path = icon["src"]
        from django.contrib.staticfiles import finders

        found = finders.find(path.removeprefix("/static/"))
        assert found, path
        with Image.open(found) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"] and image.format == "PNG"


def test_service_worker_is_javascript_scoped_to_the_app_and_caches_the_shell() -> None:
    r = Client().get("/m/sw.js")
    assert r.status_code == 200 and r["Content-Type"] == "text/javascript; charset=utf-8"
    assert r["Service-Worker-Allowed"] == "/m/" and r["Cache-Control"] == "no-cache"
    body = text(r)
    assert re.search(r'const CACHE = "leadsea-m-[0-9a-f]{12}";', body)
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", body).group(1))  # type: ignore[union-attr]
    assert shell[0] == "/m/offline/"
    for path in (
        "/static/leadsea/app.css",
        "/static/mobile/mobile.css",
        "/static/vendor/htmx/htmx.min.js",
        "/static/vendor/leaflet/leaflet.js",
    ):
        assert path in shell
    client = Client()
    for path in shell:  # every file of the shell exists, or the worker's install would fail
        assert client.get(path).status_code == 200, path
    offline = Client().get("/m/offline/")
    assert offline.status_code == 200 and 'id="offline"' in text(offline)


# ------------------------------------------------------------------------------------------------ isolation


def test_another_tenants_ids_are_404_on_every_mobile_page(org: Org, other_org: Org) -> None:
    lead = claim(other_org, other_org.bd1, store(other_org, "别家的店"))
    visit = visit_record(
        tenant=other_org.tenant,
        actor=other_org.bd1,
        lead_id=lead.pk,
        lat=lead.lat,
        lng=lead.lng,
        photo=upload("a.png", png_bytes(), "image/png"),
        now=T0,
    )
    task = task_create(tenant=other_org.tenant, actor=other_org.bd1, title="别家的任务", now=T0)
    for member in (org.bd1, org.admin):
        client = login(member)
        for path in (f"/m/leads/{lead.pk}/", f"/m/leads/{lead.pk}/checkin/", f"/m/visits/{visit.pk}/photo/"):
            assert client.get(path).status_code == 404, (member, path)
        r = client.post(f"/m/leads/{lead.pk}/checkin/", checkin_data(*HOME))
        assert r.status_code == 404
        assert client.post(f"/m/tasks/{task.pk}/done/").status_code == 404
        page = text(client.get("/m/nearby/", {"lat": HOME[0], "lng": HOME[1]}))
        assert "别家的店" not in page
    assert Visit.objects.filter(tenant=other_org.tenant).count() == 1
    assert Task.objects.get(tenant=other_org.tenant, pk=task.pk).status == Task.Status.OPEN


def test_a_position_typed_by_hand_never_verifies(org: Org, frozen: Any) -> None:
    lead = claim(org, org.bd1, store(org, "手输店"), days_ago=3)
    due = lead.visit_due_at
    client = login(org.bd1)
    r = client.post(
        f"/m/leads/{lead.pk}/checkin/", checkin_data(*HOME, position_source="manual"), follow=True
    )
    assert r.status_code == 200
    visit = Visit.objects.get(tenant=org.tenant, lead=lead)
    assert not visit.verified and visit.position_source == "manual" and visit.distance_m < 1
    assert reload(org, lead).visit_due_at == due
