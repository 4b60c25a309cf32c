"""The intake API: push, records, review queue and decisions, merges and undo, settings; roles and tenants."""

from __future__ import annotations

from typing import Any

from leadsea.intake.models import IntakeRecord, IntakeSource
from leadsea.leads.models import Lead

STORE = {
    "name": "老北京炸酱面（东四店）",
    "address": "北京市东城区东四北大街100号",
    "phone": "010-6403 1234",
    "lat": 39.932,
    "lng": 116.417,
}


def test_push_is_batched_idempotent_and_reports_each_record(org: Any, api_as: Any) -> None:
    api = api_as(org.admin)
    body = {
        "source": "partner-a",
        "records": [
            {**STORE, "external_id": "p1"},
            {**STORE, "external_id": "p2", "name": "老北京炸酱面(东四)", "phone": "01064031234"},
            {"external_id": "p3", "name": "坏记录", "phone": "abc"},
        ],
    }
    r = api.post("/api/v1/intake/records", body)
    assert r.status_code == 200, r.content
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["created", "merged", "error"]
    assert results[2]["errors"][0]["code"] == "invalid_phone" and results[2]["errors"][0]["field"] == "phone"
    assert r.json()["counts"] == {"created": 1, "merged": 1, "error": 1}
    source = IntakeSource.objects.get(tenant=org.tenant, key="partner-a")
    assert source.channel == "push"
    again = api.post("/api/v1/intake/records", body).json()["results"]
    assert [x["duplicate"] for x in again] == [True, True, True]
    assert [x["record_id"] for x in again] == [x["record_id"] for x in results]
    assert IntakeRecord.objects.filter(tenant=org.tenant).count() == 3
    got = api.get(f"/api/v1/intake/records/{results[0]['record_id']}")
    assert got.status_code == 200 and got.json()["normalized"]["branch_name"] == "东四店"
    assert got.json()["lead_id"] == results[0]["lead_id"]
    too_many = api.post("/api/v1/intake/records", {"source": "partner-a", "records": [{"name": "x"}] * 501})
    assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "too_many_records"


def test_a_bd_pushes_to_existing_sources_and_sees_only_their_records(org: Any, api_as: Any) -> None:
    admin, bd = api_as(org.admin), api_as(org.bd1)
    refused = bd.post("/api/v1/intake/records", {"source": "new-one", "records": [STORE]})
    assert refused.status_code == 403
    admin_rec = admin.post("/api/v1/intake/records", {"source": "feed", "records": [STORE]}).json()[
        "results"
    ][0]
    mine = bd.post(
        "/api/v1/intake/records", {"source": "feed", "records": [{"name": "小店", "external_id": "b"}]}
    )
    assert mine.status_code == 200
    assert bd.get(f"/api/v1/intake/records/{mine.json()['results'][0]['record_id']}").status_code == 200
    assert bd.get(f"/api/v1/intake/records/{admin_rec['record_id']}").status_code == 404
    assert bd.get("/api/v1/intake/review").status_code == 403


def test_review_queue_and_decision(org: Any, api_as: Any) -> None:
    api = api_as(org.manager)
    admin = api_as(org.admin)
    admin.post("/api/v1/intake/records", {"source": "feed", "records": [{**STORE, "external_id": "1"}]})
    maybe = {"external_id": "2", "name": "老北京炸酱面", "lat": 39.9345, "lng": 116.4185}
    [res] = admin.post("/api/v1/intake/records", {"source": "feed", "records": [maybe]}).json()["results"]
    assert res["status"] == "review", res
    page = api.get("/api/v1/intake/review").json()
    assert page["count"] == 1
    item = page["items"][0]
    assert item["candidate"]["name"] == "老北京炸酱面" and "name" in item["explanation"]
    bad = api.post(f"/api/v1/intake/review/{item['id']}/decision", {"decision": "maybe"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "decision"
    done = api.post(f"/api/v1/intake/review/{item['id']}/decision", {"decision": "merge"})
    assert done.status_code == 200 and done.json()["status"] == "merged"
    again = api.post(f"/api/v1/intake/review/{item['id']}/decision", {"decision": "create"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "review_already_decided"
    assert api.get("/api/v1/intake/review").json()["count"] == 0
    assert api.get("/api/v1/intake/review", {"status": "merged"}).json()["count"] == 1


def test_merge_and_undo_through_the_api(org: Any, api_as: Any) -> None:
    admin, bd1, bd2 = api_as(org.admin), api_as(org.bd1), api_as(org.bd2)
    a = bd1.post("/api/v1/leads", {"name": "甲店", "owner": org.bd1.user_id}).json()["id"]
    b = bd2.post("/api/v1/leads", {"name": "甲店", "owner": org.bd2.user_id}).json()["id"]
    c = admin.post("/api/v1/leads", {"name": "甲店"}).json()["id"]
    conflict = admin.post("/api/v1/intake/merges", {"survivor_id": a, "merged_id": b})
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "merge_owner_conflict"
    assert bd1.post("/api/v1/intake/merges", {"survivor_id": c, "merged_id": a}).status_code == 403
    made = admin.post("/api/v1/intake/merges", {"survivor_id": c, "merged_id": a})
    assert made.status_code == 201, made.content
    merge = made.json()
    assert admin.get(f"/api/v1/leads/{a}").status_code == 404
    assert admin.get(f"/api/v1/leads/{c}").json()["owner"] == org.bd1.user_id
    undone = admin.post(f"/api/v1/intake/merges/{merge['id']}/undo")
    assert undone.status_code == 200 and undone.json()["undone_at"]
    assert admin.get(f"/api/v1/leads/{a}").json()["owner"] == org.bd1.user_id
    assert admin.get(f"/api/v1/leads/{c}").json()["owner"] is None
    assert Lead.objects.filter(tenant=org.tenant, merged_into__isnull=False).count() == 0


def test_thresholds_are_tenant_settings_for_admins(org: Any, other_org: Any, api_as: Any) -> None:
    admin = api_as(org.admin)
    assert admin.get("/api/v1/intake/settings").json() == {"auto_merge_at": 0.98, "review_at": 0.5}
    r = admin.put("/api/v1/intake/settings", {"auto_merge_at": 0.9, "review_at": 0.6})
    assert r.status_code == 200 and r.json() == {"auto_merge_at": 0.9, "review_at": 0.6}
    bad = admin.put("/api/v1/intake/settings", {"review_at": 0.95})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_thresholds"
    assert api_as(org.manager).put("/api/v1/intake/settings", {"review_at": 0.1}).status_code == 403
    assert api_as(other_org.admin).get("/api/v1/intake/settings").json()["auto_merge_at"] == 0.98
