"""Custom objects and their records: object types (custom and lead types), records CRUD through the API with
cf_ filters, sorting and roles, references validated in the tenant, pages, and two-tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from leadsea.audit.models import ChangeLog
from leadsea.metadata.models import CustomRecord, CustomValue
from leadsea.metadata.services import field_definition_create, object_type_create

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-9"  # conftest's


def _hotel(org: Any) -> Any:
    obj = object_type_create(
        tenant=org.tenant, actor=org.admin, key="hotel", label_zh="酒店", kind="lead_type"
    )
    for spec in (
        {"key": "name", "field_type": "text", "required": True},
        {"key": "room_nights", "field_type": "number", "min_value": 0},
        {"key": "price", "field_type": "money"},
        {"key": "star", "field_type": "choice", "choices": [{"value": "3"}, {"value": "4"}, {"value": "5"}]},
        {"key": "opened", "field_type": "date"},
        {"key": "remark", "field_type": "text", "searchable": True},
    ):
        field_definition_create(
            tenant=org.tenant, object_type="hotel", actor=org.admin, label_zh=spec["key"], **spec
        )
    return obj


def _lead(api: Any, name: str) -> int:
    return api.post("/api/v1/leads", {"name": name}).json()["id"]


def test_records_crud_filters_sorting_and_audit(org, api_as):
    _hotel(org)
    admin = api_as(org.admin)
    leads = [_lead(admin, f"酒店{i}") for i in range(4)]
    url = "/api/v1/objects/hotel/records"
    made = []
    for i, (nights, star, price) in enumerate(
        [(120, "5", "880"), (40, "4", "399"), (300, "5", "1280"), (5, "3", "199")]
    ):
        r = admin.post(
            url,
            {
                "custom_fields": {
                    "lead": leads[i],
                    "name": f"酒店{i}",
                    "room_nights": nights,
                    "star": star,
                    "price": price,
                    "opened": f"202{i}-05-01",
                    "remark": "近地铁" if i % 2 == 0 else "安静",
                }
            },
        )
        assert r.status_code == 201, r.content
        made.append(r.json())
    assert made[0]["display_name"] == "酒店0"
    assert made[0]["custom_fields"]["price"] == {"amount": "880", "currency": "CNY"}

    def ids(**params: str) -> list[int]:
        r = admin.get(url, params)
        assert r.status_code == 200, r.content
        return [x["id"] for x in r.json()["items"]]

    assert sorted(ids(cf_star="5")) == sorted([made[0]["id"], made[2]["id"]])
    assert sorted(ids(cf_room_nights__gte="40", cf_room_nights__lt="300")) == sorted(
        [made[0]["id"], made[1]["id"]]
    )
    assert ids(cf_price__gt="1000") == [made[2]["id"]]
    assert sorted(ids(cf_opened__lte="2021-12-31")) == sorted([made[0]["id"], made[1]["id"]])
    assert sorted(ids(cf_remark__contains="地铁")) == sorted([made[0]["id"], made[2]["id"]])
    assert ids(cf_lead=str(leads[3])) == [made[3]["id"]]
    assert ids(ordering="-cf_room_nights") == [made[2]["id"], made[0]["id"], made[1]["id"], made[3]["id"]]
    assert ids(ordering="cf_price", cf_star="5") == [made[0]["id"], made[2]["id"]]
    for params, field in (
        ({"cf_room_nights__gte": "many"}, "cf_room_nights"),
        ({"cf_star__gte": "3"}, "cf_star"),
        ({"cf_name__contains": "x"}, "cf_name"),
        ({"cf_nope": "1"}, "cf_nope"),
        ({"ordering": "cf_nope"}, "ordering"),
    ):
        r = admin.get(url, params)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (params, r.content)
    # Read, update (partial; null clears), delete.
    one = f"{url}/{made[1]['id']}"
    assert admin.get(one).json()["custom_fields"]["room_nights"] == 40
    r = admin.patch(one, {"custom_fields": {"room_nights": 41, "remark": None}})
    assert (
        r.status_code == 200
        and r.json()["custom_fields"]["room_nights"] == 41
        and "remark" not in r.json()["custom_fields"]
    )
    assert ids(cf_room_nights="41") == [made[1]["id"]]
    r = admin.patch(one, {"custom_fields": {"room_nights": -1}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "custom_fields.room_nights"
    assert admin.delete(one).status_code == 204
    assert admin.get(one).status_code == 404
    assert not CustomValue.objects.filter(
        tenant=org.tenant, object_type="hotel", record_id=made[1]["id"]
    ).exists()
    actions = sorted(
        ChangeLog.objects.filter(tenant=org.tenant, action__startswith="record.").values_list(
            "action", flat=True
        )
    )
    assert actions == ["record.create"] * 4 + ["record.delete", "record.update"]


def test_lead_type_records_extend_one_lead_each_and_reference_is_checked(org, other_org, api_as):
    _hotel(org)
    admin = api_as(org.admin)
    lead = _lead(admin, "店")
    url = "/api/v1/objects/hotel/records"
    assert admin.post(url, {"custom_fields": {"name": "甲"}}).json()["error"]["field"] == "custom_fields.lead"
    assert admin.post(url, {"custom_fields": {"lead": lead, "name": "甲"}}).status_code == 201
    r = admin.post(url, {"custom_fields": {"lead": lead, "name": "乙"}})
    assert r.status_code == 409 and r.json()["error"] == {
        "code": "duplicate_value",
        "message": r.json()["error"]["message"],
        "field": "custom_fields.lead",
    }
    rival_lead = _lead(api_as(other_org.admin), "乙方店")
    r = admin.post(url, {"custom_fields": {"lead": rival_lead, "name": "丙"}})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_reference"


def test_store_belongs_to_brand_and_a_referenced_record_cannot_be_deleted(org, api_as):
    admin = api_as(org.admin)
    assert (
        admin.post(
            "/api/v1/meta/objects", {"key": "brand", "label_zh": "品牌", "display_field": "title"}
        ).status_code
        == 201
    )
    admin.post(
        "/api/v1/meta/objects/brand/fields", {"key": "title", "label_zh": "名称", "field_type": "text"}
    )
    admin.post("/api/v1/meta/objects", {"key": "store", "label_zh": "门店"})
    r = admin.post(
        "/api/v1/meta/objects/store/fields",
        {"key": "brand", "label_zh": "品牌", "field_type": "reference", "target": "brand"},
    )
    assert r.status_code == 201
    brand = admin.post("/api/v1/objects/brand/records", {"custom_fields": {"title": "海底捞"}}).json()
    store = admin.post("/api/v1/objects/store/records", {"custom_fields": {"brand": brand["id"]}}).json()
    assert store["custom_fields"] == {"brand": brand["id"]}
    r = admin.delete(f"/api/v1/objects/brand/records/{brand['id']}")
    assert r.status_code == 409 and r.json()["error"]["code"] == "record_referenced"
    objects = {o["key"]: o for o in admin.get("/api/v1/meta/objects").json()}
    assert objects["store"]["relations"] == [{"field": "brand", "target": "brand"}]


def test_roles_admins_hq_managers_write_bds_read(org, api_as):
    _hotel(org)
    lead = _lead(api_as(org.admin), "店")
    url = "/api/v1/objects/hotel/records"
    r = api_as(org.bd1).post(url, {"custom_fields": {"lead": lead, "name": "甲"}})
    assert r.status_code == 403
    r = api_as(org.manager).post(url, {"custom_fields": {"lead": lead, "name": "甲"}})
    assert r.status_code == 201
    assert api_as(org.bd1).get(url).json()["count"] == 1
    assert (
        api_as(org.bd1).patch(f"{url}/{r.json()['id']}", {"custom_fields": {"name": "乙"}}).status_code == 403
    )


def test_other_tenants_objects_fields_and_records_are_404(org, other_org, api_as):
    _hotel(other_org)
    b_lead = _lead(api_as(other_org.admin), "乙店")
    rec = (
        api_as(other_org.admin)
        .post("/api/v1/objects/hotel/records", {"custom_fields": {"lead": b_lead, "name": "乙方酒店"}})
        .json()
    )
    obj_id = CustomRecord.objects.get(tenant=other_org.tenant, pk=rec["id"]).object_type_id
    a = api_as(org.admin)
    for path in (
        "/api/v1/meta/objects/hotel/fields",
        f"/api/v1/meta/objects/{obj_id}/fields",
        "/api/v1/objects/hotel/records",
        f"/api/v1/objects/hotel/records/{rec['id']}",
        f"/api/v1/objects/{obj_id}/records/{rec['id']}",
    ):
        r = a.get(path)
        assert r.status_code == 404 and "乙方酒店" not in r.content.decode(), path
    assert a.patch("/api/v1/meta/objects/hotel/fields/name", {"label_zh": "x"}).status_code == 404
    assert a.delete("/api/v1/meta/objects/hotel/fields/name").status_code == 404
    # A's own object of the same key does not reach B's record.
    _hotel(org)
    assert a.get(f"/api/v1/objects/hotel/records/{rec['id']}").status_code == 404
    assert a.get("/api/v1/objects/hotel/records").json()["count"] == 0
    # And the same routes answer for the owner.
    b = api_as(other_org.admin)
    assert b.get(f"/api/v1/objects/{obj_id}/records/{rec['id']}").status_code == 200
    assert b.get(f"/api/v1/meta/objects/{obj_id}/fields").status_code == 200


def _login(m: Any) -> Client:
    client = Client()
    r = client.post("/login/", {"tenant": m.tenant.slug, "username": m.user.username, "password": PASSWORD})
    assert r.status_code == 302
    return client


def test_pages_list_detail_form_related_and_meta_admin(org, other_org, api_as):
    _hotel(org)
    lead = _lead(api_as(org.admin), "店")
    web = _login(org.manager)
    page = web.get("/objects/hotel/new/")
    assert page.status_code == 200 and 'name="cf_room_nights"' in page.content.decode()
    r = web.post("/objects/hotel/new/", {"cf_lead": str(lead), "cf_name": "页面酒店", "cf_room_nights": "-3"})
    assert r.status_code == 200 and "has-error" in r.content.decode()
    r = web.post(
        "/objects/hotel/new/",
        {"cf_lead": str(lead), "cf_name": "页面酒店", "cf_room_nights": "12", "cf_price": "99.5 USD"},
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    record = CustomRecord.objects.get(tenant=org.tenant)
    assert record.data["price"] == {"amount": "99.5", "currency": "USD"}
    detail = web.get(r["Location"]).content.decode()
    assert "页面酒店" in detail and "99.5 USD" in detail
    listing = web.get("/objects/hotel/", {"cf_room_nights__gte": "10"}).content.decode()
    assert "页面酒店" in listing
    assert "页面酒店" not in web.get("/objects/hotel/", {"cf_room_nights__gte": "13"}).content.decode()
    # The lead page's section of related records.
    assert 'hx-get="/objects/related/lead/' in web.get(f"/leads/{lead}/").content.decode()
    related = web.get(f"/objects/related/lead/{lead}/").content.decode()
    assert "页面酒店" in related
    # Meta admin: admins only.
    assert web.get("/meta/").status_code == 404
    admin_web = _login(org.admin)
    assert "room_nights" in admin_web.get("/meta/").content.decode()
    r = admin_web.post(
        "/meta/hotel/fields/new/",
        {"key": "rooms", "label_zh": "房间数", "field_type": "number", "filterable": "on"},
    )
    assert r.status_code == 302
    r = admin_web.post("/meta/", {"key": "brand", "label_zh": "品牌", "kind": "custom"})
    assert r.status_code == 302
    # Another tenant's user sees none of it.
    rival = _login(other_org.admin)
    assert rival.get(f"/objects/hotel/{record.pk}/").status_code == 404
    assert rival.get(f"/objects/related/lead/{lead}/").status_code == 404


def test_records_sorted_by_a_custom_field_page_by_page_through_the_side_index(org, api_as):
    """Records of a custom object sort like leads: pages read by walking the field's index entries in order
    (empty values last, ties by id), the same as the full sorted list, with a filter kept exact."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    obj = object_type_create(tenant=org.tenant, actor=org.admin, key="brand", label_zh="品牌")
    for key, field_type in (("rank", "number"), ("tier", "choice")):
        field_definition_create(
            tenant=org.tenant,
            object_type="brand",
            actor=org.admin,
            key=key,
            label_zh=key,
            field_type=field_type,
            **({"choices": [{"value": "x"}, {"value": "y"}]} if field_type == "choice" else {}),
        )
    admin = api_as(org.admin)
    made = []
    for i in range(14):
        data: dict[str, Any] = {"tier": "xy"[i % 2]}
        if i % 5 != 3:
            data["rank"] = (i * 3) % 7
        r = admin.post("/api/v1/objects/brand/records", {"custom_fields": data})
        assert r.status_code == 201, r.content
        made.append((r.json()["id"], data))
    url = "/api/v1/objects/brand/records"
    for ordering, tier in (("-cf_rank", None), ("cf_rank", None), ("-cf_rank", "y")):
        kept = [(pk, d) for pk, d in made if tier is None or d["tier"] == tier]
        valued = sorted(((d["rank"], pk) for pk, d in kept if "rank" in d), reverse=ordering.startswith("-"))
        empty = sorted((pk for pk, d in kept if "rank" not in d), reverse=ordering.startswith("-"))
        expected = [pk for _v, pk in valued] + empty
        params = {"ordering": ordering, **({"cf_tier": tier} if tier else {})}
        pages: list[int] = []
        with CaptureQueriesContext(connection) as ctx:
            for page in range(1, 7):
                body = admin.get(url, {**params, "page": str(page), "page_size": "3"}).json()
                pages += [x["id"] for x in body["items"]]
        assert pages == expected, (ordering, tier)
        walks = [q["sql"] for q in ctx.captured_queries if "w.v" in q["sql"]]
        if tier is None:
            assert walks and all(f'customrecord"."object_type_id" = {obj.pk}' in w for w in walks), walks
        else:
            assert walks == []  # a selective filter: its few records are sorted, no walk
