"""Visits and contacts: geofence verification, the no-visit clock, append-only records, the to-do center."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from leadsea.core import geo
from leadsea.core.errors import DomainError
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_create
from leadsea.pools import services as pools
from leadsea.tasks.selectors import todo_for
from leadsea.tasks.services import task_complete, task_create
from leadsea.visits.models import Visit
from leadsea.visits.services import contact_create, visit_record

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
STORE = (39.9087, 116.4605)  # WGS-84, Guomao


def offset(lat: float, lng: float, north_m: float) -> tuple[float, float]:
    return lat + north_m / 111_195.0, lng


@pytest.fixture
def owned(org):
    lead = lead_create(
        tenant=org.tenant,
        actor=org.admin,
        data={"name": "海底捞火锅", "lat": STORE[0], "lng": STORE[1]},
        now=T0,
    )
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    return Lead.objects.get(tenant=org.tenant, pk=lead.pk)


def reload(lead: Lead) -> Lead:
    return Lead.objects.get(tenant_id=lead.tenant_id, pk=lead.pk)


def test_visit_inside_radius_is_verified_and_resets_the_clock(org, owned):
    assert owned.visit_due_at == T0 + timedelta(days=15)
    at = T0 + timedelta(days=10)
    lat, lng = offset(*STORE, 290)
    visit = visit_record(
        tenant=org.tenant, actor=org.bd1, lead_id=owned.pk, lat=lat, lng=lng, accuracy_m=20, now=at
    )
    assert visit.verified and 285 < visit.distance_m < 295 and visit.radius_m == 300
    lead = reload(owned)
    assert lead.visit_due_at == at + timedelta(days=15) and lead.last_visit_at == at


def test_visit_outside_radius_is_kept_unverified_and_does_not_move_the_clock(org, owned):
    lat, lng = offset(*STORE, 310)
    visit = visit_record(
        tenant=org.tenant, actor=org.bd1, lead_id=owned.pk, lat=lat, lng=lng, now=T0 + timedelta(days=10)
    )
    assert not visit.verified and 305 < visit.distance_m < 315
    assert reload(owned).visit_due_at == T0 + timedelta(days=15)
    # A coarse fix inside the radius is not proof either.
    visit = visit_record(
        tenant=org.tenant,
        actor=org.bd1,
        lead_id=owned.pk,
        lat=STORE[0],
        lng=STORE[1],
        accuracy_m=1500,
        now=T0 + timedelta(days=10),
    )
    assert not visit.verified and reload(owned).visit_due_at == T0 + timedelta(days=15)


def test_gcj02_and_bd09_positions_are_converted(org, owned):
    for coord_sys in ("gcj02", "bd09"):
        lat, lng = geo.from_wgs84(STORE[0], STORE[1], coord_sys)
        visit = visit_record(
            tenant=org.tenant,
            actor=org.bd1,
            lead_id=owned.pk,
            lat=lat,
            lng=lng,
            coord_sys=coord_sys,
            now=T0 + timedelta(days=1),
        )
        assert visit.distance_m < 1 and visit.verified and visit.coord_sys == coord_sys
    # The same GCJ-02 numbers taken as WGS-84 are ~500 m off: not verified.
    lat, lng = geo.from_wgs84(STORE[0], STORE[1], "gcj02")
    visit = visit_record(
        tenant=org.tenant, actor=org.bd1, lead_id=owned.pk, lat=lat, lng=lng, now=T0 + timedelta(days=1)
    )
    assert not visit.verified and visit.distance_m > 400


def test_tenant_visit_radius_is_a_setting(org, owned):
    org.tenant.visit_radius_m = 500
    org.tenant.save()
    lat, lng = offset(*STORE, 450)
    assert visit_record(tenant=org.tenant, actor=org.bd1, lead_id=owned.pk, lat=lat, lng=lng, now=T0).verified


def test_someone_elses_visit_does_not_reset_the_owners_clock(org, owned):
    # bd2 cannot see bd1's private lead: visiting it is "not found".
    with pytest.raises(DomainError) as info:
        visit_record(tenant=org.tenant, actor=org.bd2, lead_id=owned.pk, lat=STORE[0], lng=STORE[1], now=T0)
    assert info.value.code == "lead_not_found"
    visit = visit_record(
        tenant=org.tenant,
        actor=org.lead_a,
        lead_id=owned.pk,
        lat=STORE[0],
        lng=STORE[1],
        now=T0 + timedelta(days=5),
    )
    assert visit.verified and reload(owned).visit_due_at == T0 + timedelta(days=15)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"lat": "north", "lng": 116.4}, "lat"),
        ({"lat": 39.9, "lng": 200}, "lng"),
        ({"lat": 39.9, "lng": 116.4, "coord_sys": "utm"}, "coord_sys"),
        ({"lat": 39.9, "lng": 116.4, "purpose": "party"}, "purpose"),
        ({"lat": 39.9, "lng": 116.4, "contact_id": 999999}, "contact_id"),
        ({"lat": 39.9, "lng": 116.4, "next_visit_at": T0 - timedelta(days=1)}, "next_visit_at"),
    ],
)
def test_invalid_visit_writes_nothing(org, owned, kwargs, field):
    with pytest.raises(DomainError) as info:
        visit_record(tenant=org.tenant, actor=org.bd1, lead_id=owned.pk, now=T0, **kwargs)
    assert info.value.field == field
    assert Visit.objects.filter(tenant=org.tenant).count() == 0
    assert reload(owned).visit_due_at == T0 + timedelta(days=15)


def test_photo_must_be_an_image(org, owned):
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, "PNG")
    photo = SimpleUploadedFile("door.png", buffer.getvalue(), content_type="image/png")
    visit = visit_record(
        tenant=org.tenant, actor=org.bd1, lead_id=owned.pk, lat=STORE[0], lng=STORE[1], photo=photo, now=T0
    )
    assert visit.photo.name.endswith(".png")
    fake = SimpleUploadedFile("door.png", b"not an image at all", content_type="image/png")
    with pytest.raises(DomainError) as info:
        visit_record(
            tenant=org.tenant, actor=org.bd1, lead_id=owned.pk, lat=STORE[0], lng=STORE[1], photo=fake, now=T0
        )
    assert info.value.field == "photo"
    assert Visit.objects.filter(tenant=org.tenant).count() == 1


def test_contacts_and_visit_with_kp_and_correction(org, owned):
    kp = contact_create(
        tenant=org.tenant,
        actor=org.bd1,
        lead_id=owned.pk,
        data={"name": "王店长", "role": "店长", "phones": ["138 0013 8000"], "is_key_person": True},
    )
    assert kp.phones == ["+8613800138000"]
    first = visit_record(
        tenant=org.tenant,
        actor=org.bd1,
        lead_id=owned.pk,
        lat=STORE[0],
        lng=STORE[1],
        contact_id=kp.pk,
        outcome="met_kp",
        notes="谈了佣金",
        now=T0,
    )
    fix = visit_record(
        tenant=org.tenant,
        actor=org.bd1,
        lead_id=owned.pk,
        lat=STORE[0],
        lng=STORE[1],
        contact_id=kp.pk,
        outcome="interested",
        notes="更正：有意向",
        corrects_id=first.pk,
        now=T0,
    )
    assert fix.corrects_id == first.pk
    assert Visit.objects.get(tenant=org.tenant, pk=first.pk).outcome == "met_kp"  # the original stays


def test_visit_api_and_lists(org, owned, api_as, time_machine):
    time_machine.move_to(T0 + timedelta(days=3), tick=False)
    api = api_as(org.bd1)
    r = api.post(
        "/api/v1/visits",
        {
            "lead_id": owned.pk,
            "lat": STORE[0],
            "lng": STORE[1],
            "accuracy_m": 15,
            "outcome": "met_kp",
            "next_visit_at": "2026-03-08T02:00:00Z",
        },
    )
    assert r.status_code == 201, r.content
    assert r.json()["verified"] is True and r.json()["distance_m"] == 0.0
    assert [v["id"] for v in api.get(f"/api/v1/leads/{owned.pk}/visits").json()] == [r.json()["id"]]
    assert api.get(f"/api/v1/leads/{owned.pk}").json()["expires_at"].startswith("2026-03-20T02:00")
    r = api.post("/api/v1/visits", {"lead_id": owned.pk, "lat": "x", "lng": 1})
    assert r.status_code == 422 and r.json()["error"]["field"] == "lat"
    r = api.post(f"/api/v1/leads/{owned.pk}/contacts", {"name": "李老板", "role": "老板", "phones": ["12"]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "phones"
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(buffer, "JPEG")
    r = api.client.post(
        "/api/v1/visits/with-photo",
        {
            "lead_id": owned.pk,
            "lat": STORE[0],
            "lng": STORE[1],
            "photo": SimpleUploadedFile("p.jpg", buffer.getvalue(), content_type="image/jpeg"),
        },
        headers=api._headers(),
    )
    assert r.status_code == 201, r.content
    photo_url = r.json()["photo_url"]
    assert photo_url == f"/api/v1/visits/{r.json()['id']}/photo"
    got = api.get(photo_url)
    assert got.status_code == 200 and got["Content-Type"] == "image/jpeg"
    assert api_as(org.bd2).get(photo_url).status_code == 404  # bd2 may not see bd1's private store


def test_todo_center_counts_expiring_planned_and_tasks(org, owned):
    now = T0 + timedelta(days=13)
    visit_record(
        tenant=org.tenant,
        actor=org.bd1,
        lead_id=owned.pk,
        lat=0,
        lng=0,
        now=T0 + timedelta(days=1),
        next_visit_at=T0 + timedelta(days=14),
    )  # far away: unverified, but it plans a visit
    task = task_create(
        tenant=org.tenant,
        actor=org.lead_a,
        title="回访海底捞",
        assignee_id=org.bd1.user_id,
        lead_id=owned.pk,
        now=T0,
    )
    with pytest.raises(DomainError):
        task_create(tenant=org.tenant, actor=org.lead_a, title="越权", assignee_id=org.bd3.user_id, now=T0)
    todo = todo_for(tenant=org.tenant, user_id=org.bd1.user_id, now=now)
    assert [x.pk for x in todo.expiring] == [owned.pk]
    assert [v.lead_id for v in todo.planned_visits] == [owned.pk]
    assert [t.pk for t in todo.tasks] == [task.pk]
    assert todo.counts == {"expiring": 1, "planned_visits": 1, "tasks": 1, "total": 3}
    # A verified visit afterwards: the planned one is done and the lead no longer about to drop.
    visit_record(tenant=org.tenant, actor=org.bd1, lead_id=owned.pk, lat=STORE[0], lng=STORE[1], now=now)
    task_complete(tenant=org.tenant, actor=org.bd1, task_id=task.pk, result="已回访", now=now)
    assert todo_for(tenant=org.tenant, user_id=org.bd1.user_id, now=now).counts["total"] == 0
