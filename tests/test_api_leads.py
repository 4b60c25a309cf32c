"""The /api/v1 contract: auth, leads CRUD, search and filters, errors."""

from __future__ import annotations

import pytest

from leadsea.audit.models import ChangeLog
from leadsea.leads.models import Lead
from leadsea.metadata.services import field_definition_create

pytestmark = pytest.mark.django_db

STORE = {
    "name": "海底捞火锅",
    "branch_name": "国贸店",
    "category": "火锅",
    "address": "北京市朝阳区建国路87号新光天地B1",
    "province": "北京市",
    "city": "北京市",
    "district": "朝阳区",
    "phone": "010-6588 1234",
    "lat": 39.9087,
    "lng": 116.4605,
    "tags": ["连锁", "top300"],
}


def test_token_then_create_read_patch_list(org, api_as):
    api = api_as(org.bd1)
    r = api.post("/api/v1/leads", STORE)
    assert r.status_code == 201, r.content
    lead = r.json()
    assert lead["phone"] == "+861065881234"
    assert lead["owner"] is None and lead["status"] == "new"
    assert lead["tags"] == ["top300", "连锁"]
    for key in (
        "id",
        "name",
        "address",
        "city",
        "phone",
        "lat",
        "lng",
        "owner",
        "status",
        "tags",
        "custom_fields",
    ):
        assert key in lead

    r = api.get(f"/api/v1/leads/{lead['id']}")
    assert r.status_code == 200 and r.json()["name"] == "海底捞火锅"
    assert "海底捞火锅" in r.content.decode()  # UTF-8, not \u escapes

    r = api.patch(f"/api/v1/leads/{lead['id']}", {"status": "following", "tags": ["连锁"]})
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "following" and r.json()["tags"] == ["连锁"]
    assert r.json()["name"] == "海底捞火锅"  # untouched fields stay

    r = api.get("/api/v1/leads", {"q": "海底"})
    assert r.status_code == 200
    assert [x["id"] for x in r.json()["items"]] == [lead["id"]]
    assert r.json()["count"] == 1


def test_every_change_is_audited_with_request_id(org, api_as):
    api = api_as(org.bd1)
    lead_id = api.post("/api/v1/leads", STORE).json()["id"]
    api.client.patch(
        f"/api/v1/leads/{lead_id}",
        '{"name": "海底捞"}',
        content_type="application/json",
        headers={**api._headers(), "X-Request-ID": "req-12345678"},
    )
    rows = list(
        ChangeLog.objects.filter(tenant=org.tenant, object_type="lead", object_id=lead_id).order_by("id")
    )
    assert [r.action for r in rows] == ["lead.create", "lead.update"]
    assert rows[1].before == {"name": "海底捞火锅"} and rows[1].after == {"name": "海底捞"}
    assert rows[1].request_id == "req-12345678" and rows[1].actor_id == org.bd1.user_id


def test_search_finds_chinese_two_characters_address_and_phone(org, api_as):
    api = api_as(org.admin)
    a = api.post("/api/v1/leads", STORE).json()
    b = api.post(
        "/api/v1/leads",
        {
            "name": "喜茶",
            "branch_name": "三里屯店",
            "address": "北京市朝阳区三里屯路19号",
            "phone": "13800138000",
            "city": "北京市",
        },
    ).json()
    ids = lambda **p: sorted(x["id"] for x in api.get("/api/v1/leads", p).json()["items"])  # noqa: E731
    assert ids(q="喜茶") == [b["id"]]
    assert ids(q="三里屯") == [b["id"]]
    assert ids(q="建国") == [a["id"]]
    assert ids(q="138 0013 8000") == [b["id"]]
    assert ids(q="+86 13800138000") == [b["id"]]
    assert ids(q="010-65881234") == [a["id"]]
    assert ids(q="ＸＩ") == []  # full-width folding does not break the search
    assert ids(q="北京") == sorted([a["id"], b["id"]])


def test_filters_city_tag_status_owner_and_custom_fields(org, api_as):
    field_definition_create(
        tenant=org.tenant,
        key="level",
        label_zh="等级",
        field_type="choice",
        choices=[{"value": "A"}, {"value": "B"}],
    )
    field_definition_create(tenant=org.tenant, key="seats", label_zh="座位", field_type="number")
    field_definition_create(
        tenant=org.tenant,
        key="cuisines",
        label_zh="菜系",
        field_type="multi_choice",
        choices=[{"value": "川"}, {"value": "粤"}],
    )
    api = api_as(org.admin)
    a = api.post(
        "/api/v1/leads",
        {
            "name": "甲",
            "city": "北京市",
            "tags": ["x"],
            "custom_fields": {"level": "A", "seats": 40, "cuisines": ["川"]},
        },
    ).json()
    b = api.post(
        "/api/v1/leads",
        {
            "name": "乙",
            "city": "上海市",
            "status": "following",
            "owner": org.bd1.user_id,
            "custom_fields": {"level": "B", "seats": 12, "cuisines": ["川", "粤"]},
        },
    ).json()
    ids = lambda **p: sorted(x["id"] for x in api.get("/api/v1/leads", p).json()["items"])  # noqa: E731
    assert ids(city="上海市") == [b["id"]]
    assert ids(tag="x") == [a["id"]]
    assert ids(status="following") == [b["id"]]
    assert ids(owner=str(org.bd1.user_id)) == [b["id"]]
    assert ids(owner="none") == [a["id"]]
    assert ids(cf_level="A") == [a["id"]]
    assert ids(cf_seats="12") == [b["id"]]
    assert ids(cf_cuisines="粤") == [b["id"]]
    assert ids(cf_cuisines="川") == sorted([a["id"], b["id"]])
    assert ids(cf_level="A", city="上海市") == []
    r = api.get("/api/v1/leads", {"cf_nope": "1"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "cf_nope"
    r = api.get("/api/v1/leads", {"cf_seats": "many"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "cf_seats"


def test_pagination(org, api_as):
    api = api_as(org.admin)
    for i in range(7):
        api.post("/api/v1/leads", {"name": f"店{i}"})
    first = api.get("/api/v1/leads", {"page_size": 3, "ordering": "name"}).json()
    third = api.get("/api/v1/leads", {"page_size": 3, "page": 3, "ordering": "name"}).json()
    assert first["count"] == 7 and len(first["items"]) == 3 and first["items"][0]["name"] == "店0"
    assert [x["name"] for x in third["items"]] == ["店6"]
    assert api.get("/api/v1/leads", {"page_size": 500}).status_code == 422
    assert api.get("/api/v1/leads", {"page": 0}).status_code == 422


def test_list_query_count_does_not_grow_with_rows(org, api_as, django_assert_max_num_queries):
    api = api_as(org.bd1)
    for i in range(30):
        api.post("/api/v1/leads", {"name": f"店{i}", "tags": ["a", "b"]})
    with django_assert_max_num_queries(8):
        r = api.get("/api/v1/leads", {"page_size": 30})
    assert len(r.json()["items"]) == 30


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"name": ""}, 422, "required", "name"),
        ({}, 422, "invalid", "name"),
        ({"name": "店", "lat": 95, "lng": 116}, 422, "invalid", "lat"),
        ({"name": "店", "lat": 39.9}, 422, "invalid", "lng"),
        ({"name": "店", "lat": "north", "lng": 1}, 422, "invalid", "lat"),
        ({"name": "店", "phone": "12345"}, 422, "invalid_phone", "phone"),
        ({"name": "店", "status": "won"}, 422, "invalid", "status"),
        ({"name": "店", "kind": "hotel"}, 422, "invalid", "kind"),
        ({"name": "店", "tags": "not-a-list"}, 422, "invalid", "tags"),
        ({"name": "店", "custom_fields": {"unknown": 1}}, 422, "unknown_field", "custom_fields.unknown"),
        ({"name": "店" * 201}, 422, "invalid", "name"),
        ({"name": "店", "owner": 999999}, 422, "invalid_owner", "owner"),
    ],
)
def test_invalid_create_is_rejected_and_writes_nothing(org, api_as, body, status, code, field):
    api = api_as(org.admin)
    before = (
        Lead.objects.filter(tenant=org.tenant).count(),
        ChangeLog.objects.filter(tenant=org.tenant).count(),
    )
    r = api.post("/api/v1/leads", body)
    assert r.status_code == status, r.content
    err = r.json()["error"]
    assert err["code"] == code and err["field"] == field and err["message"]
    after = (
        Lead.objects.filter(tenant=org.tenant).count(),
        ChangeLog.objects.filter(tenant=org.tenant).count(),
    )
    assert after == before


def test_invalid_patch_changes_nothing(org, api_as):
    field_definition_create(tenant=org.tenant, key="seats", label_zh="座位", field_type="number", min_value=0)
    api = api_as(org.admin)
    lead = api.post("/api/v1/leads", {**STORE, "custom_fields": {"seats": 10}}).json()
    # A valid tag change and name change ride along with an invalid custom field: all or nothing.
    r = api.patch(
        f"/api/v1/leads/{lead['id']}", {"name": "改名", "tags": ["新"], "custom_fields": {"seats": -1}}
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "custom_fields.seats"
    again = api.get(f"/api/v1/leads/{lead['id']}").json()
    assert (
        again["name"] == lead["name"]
        and again["tags"] == lead["tags"]
        and again["custom_fields"] == {"seats": 10}
    )
    assert ChangeLog.objects.filter(tenant=org.tenant, action="lead.update").count() == 0
    r = api.patch(f"/api/v1/leads/{lead['id']}", {"name": None})
    assert r.status_code == 422 and r.json()["error"]["field"] == "name"


def test_malformed_body_is_400(org, api_as):
    api = api_as(org.admin)
    r = api.post("/api/v1/leads", raw="{not json")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed"


def test_unauthenticated_gives_no_hint(org, api_as):
    anonymous = api_as()
    assert anonymous.get("/api/v1/leads").status_code == 401
    bodies = [
        {"tenant": "acme", "username": "acme-bd1", "password": "wrong-password"},
        {"tenant": "acme", "username": "nobody", "password": "correct-horse-9"},
        {"tenant": "nope", "username": "acme-bd1", "password": "correct-horse-9"},
        {"tenant": "acme", "username": "rival-bd1", "password": "correct-horse-9"},
    ]
    answers = {anonymous.post("/api/v1/auth/token", b).content for b in bodies}
    assert len(answers) == 1
    assert anonymous.post("/api/v1/auth/token", bodies[0]).status_code == 401
    assert api_as(token="lsk_forged").get("/api/v1/leads").status_code == 401


def test_revoked_token_stops_working(org, api_as):
    api = api_as(org.bd1)
    assert api.get("/api/v1/me").json()["role"] == "bd"
    assert api.post("/api/v1/auth/revoke").status_code == 200
    assert api.get("/api/v1/me").status_code == 401


def test_expired_token_stops_working(org, api_as, time_machine):
    from datetime import timedelta

    from django.utils import timezone

    api = api_as(org.bd1)
    time_machine.move_to(timezone.now() + timedelta(days=31))
    assert api.get("/api/v1/me").status_code == 401


def test_openapi_and_docs(org, api_as):
    r = api_as().get("/api/v1/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert {"/api/v1/leads", "/api/v1/leads/{lead_id}", "/api/v1/auth/token"} <= set(paths)
    assert api_as().get("/api/v1/docs").status_code == 200


def test_healthz(db, client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_postgresql_has_a_trigram_index_for_the_q_search(org, api_as):
    """The q search is a substring match; on PostgreSQL a pg_trgm GIN index answers it (Chinese too)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("pg_trgm is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'lead_search_trgm_idx'")
        (indexdef,) = cursor.fetchone()
        cursor.execute("SELECT show_trgm('海底捞')")
        assert cursor.fetchone()[0]  # trigrams of Chinese text under the database's locale
    assert "gin" in indexdef and "gin_trgm_ops" in indexdef and "search_text" in indexdef
    api = api_as(org.admin)
    api.post("/api/v1/leads", {"name": "海底捞火锅", "phone": "13800138000"})
    assert [x["name"] for x in api.get("/api/v1/leads", {"q": "底捞火"}).json()["items"]] == ["海底捞火锅"]
