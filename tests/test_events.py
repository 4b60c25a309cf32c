"""Domain events: written to the outbox in the transaction of the change (none for a rolled-back change),
each wired service emits its event with its payload, the sweep emits lead.dropped once per lead, and the
events feed pages stably and stays inside the tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction

from leadsea.core.errors import DomainError
from leadsea.events.models import OutboxEvent
from leadsea.events.services import emit
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_create, lead_update
from leadsea.pipeline.services import lead_stage_set
from leadsea.pools import services as pools
from leadsea.pools.sweep import sweep
from leadsea.visits.services import visit_record

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def events(org: Any, type: str | None = None) -> list[OutboxEvent]:
    qs = OutboxEvent.objects.filter(tenant=org.tenant).order_by("id")
    return list(qs.filter(type=type) if type else qs)


def types_since(org: Any, mark: int) -> list[str]:
    return [e.type for e in events(org) if e.pk > mark]


def last_id(org: Any) -> int:
    e = events(org)
    return e[-1].pk if e else 0


def make_lead(org: Any, name: str = "海底捞火锅", **data: Any) -> Lead:
    return lead_create(tenant=org.tenant, actor=org.admin, data={"name": name, **data}, now=T0)


# --- the outbox is transactional ---------------------------------------------------------------------


def test_emit_in_a_rolled_back_transaction_leaves_no_row(org):
    with pytest.raises(RuntimeError), transaction.atomic():
        emit(tenant=org.tenant, type="lead.created", payload={"lead_id": 1})
        assert OutboxEvent.objects.filter(tenant=org.tenant).count() == 1
        raise RuntimeError("the change fails after the event was written")
    assert OutboxEvent.objects.filter(tenant=org.tenant).count() == 0
    emit(tenant=org.tenant, type="lead.created", payload={"at": T0}, actor=org.admin.user)
    (event,) = events(org)
    assert event.payload == {"at": "2026-03-02T02:00:00Z"}  # stored as it reads back
    assert event.actor_id == org.admin.user_id


def test_a_refused_service_call_emits_nothing(org):
    lead = make_lead(org)
    mark = last_id(org)
    with pytest.raises(DomainError):
        lead_update(tenant=org.tenant, actor=org.admin, lead=lead, data={"lat": 999, "name": "新名"})
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    with pytest.raises(DomainError):  # someone else's private sea
        pools.lead_claim(tenant=org.tenant, actor=org.bd2, lead_id=lead.pk, now=T0)
    assert types_since(org, mark) == ["lead.claimed"]


def test_an_event_carries_the_request_id(org, api_as):
    r = api_as(org.admin).client.post(
        "/api/v1/leads",
        '{"name": "请求店"}',
        content_type="application/json",
        headers={
            "Authorization": f"Bearer {api_as(org.admin).token}",
            "X-Request-ID": "req-12345678",
        },
    )
    assert r.status_code == 201
    assert events(org, "lead.created")[-1].request_id == "req-12345678"


# --- every wired service emits its event ---------------------------------------------------------------


def test_lead_create_and_update_emit_with_payload(org):
    lead = make_lead(org, category="火锅", phone="13800138000", tags=["老店"])
    (created,) = events(org, "lead.created")
    assert created.payload["lead_id"] == lead.pk
    assert created.payload["pool_id"] == lead.pool_id
    assert created.payload["lead"]["name"] == "海底捞火锅"
    assert created.payload["lead"]["phones"] == ["+8613800138000"]
    assert created.payload["lead"]["tags"] == ["老店"]
    assert created.actor_id == org.admin.user_id
    lead_update(tenant=org.tenant, actor=org.admin, lead=lead, data={"name": "海底捞国贸店"}, now=T0)
    (updated,) = events(org, "lead.updated")
    assert updated.payload == {
        "lead_id": lead.pk,
        "before": {"name": "海底捞火锅"},
        "after": {"name": "海底捞国贸店"},
    }
    # An update that changes nothing is no event.
    lead_update(tenant=org.tenant, actor=org.admin, lead=lead, data={"name": "海底捞国贸店"}, now=T0)
    assert len(events(org, "lead.updated")) == 1


def test_pool_operations_emit_their_events(org):
    lead = make_lead(org)
    mark = last_id(org)
    t = T0
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=t)
    pools.lead_extend(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, days=3, now=t)
    pools.lead_lock(tenant=org.tenant, actor=org.manager, lead_id=lead.pk, reason="大客户", now=t)
    pools.lead_unlock(tenant=org.tenant, actor=org.manager, lead_id=lead.pk, now=t)
    pools.lead_transfer(tenant=org.tenant, actor=org.manager, lead_id=lead.pk, user_id=org.bd2.user_id, now=t)
    pools.lead_release(tenant=org.tenant, actor=org.bd2, lead_id=lead.pk, reason="不合适", now=t)
    pools.lead_assign(tenant=org.tenant, actor=org.manager, lead_id=lead.pk, user_id=org.bd3.user_id, now=t)
    assert types_since(org, mark) == [
        "lead.claimed",
        "lead.extended",
        "lead.locked",
        "lead.unlocked",
        "lead.transferred",
        "lead.released",
        "lead.assigned",
    ]
    claimed, *_, transferred, released, assigned = [e for e in events(org) if e.pk > mark]
    assert claimed.payload["from_owner_id"] is None and claimed.payload["to_owner_id"] == org.bd1.user_id
    assert claimed.payload["expires_at"] is not None and claimed.actor_id == org.bd1.user_id
    assert transferred.payload["from_owner_id"] == org.bd1.user_id
    assert transferred.payload["to_owner_id"] == org.bd2.user_id
    assert released.payload["reason"] == "不合适" and released.payload["to_owner_id"] is None
    assert assigned.payload == {
        "lead_id": lead.pk,
        "pool_id": lead.pool_id,
        "action": "assign",
        "from_owner_id": None,
        "to_owner_id": org.bd3.user_id,
        "reason": "",
        "expires_at": assigned.payload["expires_at"],
    }


def test_stage_changes_emit_and_a_won_stage_signs(org):
    lead = make_lead(org)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    mark = last_id(org)
    lead_stage_set(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="contact", now=T0)
    lead_stage_set(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="won", now=T0)
    assert types_since(org, mark) == ["lead.stage_changed", "lead.signed", "lead.stage_changed"]
    first, signed, second = [e for e in events(org) if e.pk > mark]
    assert first.payload["from_stage"] is None and first.payload["to_stage"] == "contact"
    assert second.payload["from_stage"] == "contact" and second.payload["to_stage"] == "won"
    assert second.payload["stage_kind"] == "won"
    assert signed.payload["lead_id"] == lead.pk and signed.payload["to_owner_id"] == org.bd1.user_id


def test_visit_recorded_is_emitted(org):
    lead = make_lead(org, lat=39.9087, lng=116.3975)
    visit = visit_record(
        tenant=org.tenant, actor=org.admin, lead_id=lead.pk, lat=39.9088, lng=116.3975, outcome="", now=T0
    )
    (event,) = events(org, "visit.recorded")
    assert event.payload["visit_id"] == visit.pk and event.payload["lead_id"] == lead.pk
    assert event.payload["verified"] is True and 0 < event.payload["distance_m"] < 50


def test_the_sweep_emits_lead_dropped_once_per_lead(org, other_org):
    dropped = [make_lead(org, f"店{i}") for i in range(3)]
    kept = make_lead(org, "留下")
    theirs = lead_create(tenant=other_org.tenant, actor=other_org.admin, data={"name": "乙店"}, now=T0)
    for lead in dropped:
        pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    pools.lead_claim(tenant=org.tenant, actor=org.bd2, lead_id=kept.pk, now=T0 + timedelta(days=10))
    pools.lead_claim(tenant=other_org.tenant, actor=other_org.bd1, lead_id=theirs.pk, now=T0)
    later = T0 + timedelta(days=16)  # past no_visit_days (15) for the first claims only
    assert sweep(as_of=later, batch=2).dropped == 4
    assert sweep(as_of=later).dropped == 0  # idempotent: nothing more, no second event
    mine = events(org, "lead.dropped")
    assert sorted(e.payload["lead_id"] for e in mine) == sorted(x.pk for x in dropped)
    for e in mine:
        assert e.payload["from_owner_id"] == org.bd1.user_id and e.payload["to_owner_id"] is None
        assert e.payload["reason"] == "no_visit" and e.payload["action"] == "drop"
        assert e.actor_id is None and e.occurred_at == later and e.request_id.startswith("sweep:")
    (theirs_event,) = events(other_org, "lead.dropped")
    assert theirs_event.payload["lead_id"] == theirs.pk
    # A drop found by a later action (no sweep yet) emits the same event, with the same payload keys.
    pools.lead_claim(tenant=org.tenant, actor=org.bd3, lead_id=kept.pk, now=T0 + timedelta(days=30))
    late = events(org, "lead.dropped")[-1]
    assert late.payload["lead_id"] == kept.pk and set(late.payload) == set(mine[0].payload)


# --- the events feed --------------------------------------------------------------------------------


def test_feed_pages_with_a_cursor_and_filters_by_type(org, api_as):
    leads = [make_lead(org, f"店{i}") for i in range(5)]
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=leads[0].pk, now=T0)
    api = api_as(org.admin)
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        r = api.get("/api/v1/events", {"limit": 2, **({"after": after} if after else {})})
        assert r.status_code == 200, r.content
        body = r.json()
        seen += [e["id"] for e in body["items"]]
        pages += 1
        if not body["has_more"]:
            break
        after = body["next_cursor"]
    assert seen == [e.pk for e in events(org)] and len(seen) == 6 and pages == 3
    # Reading on from the last cursor: nothing new, the cursor stays; a new event shows up next.
    r = api.get("/api/v1/events", {"after": body["next_cursor"]}).json()
    assert r["items"] == [] and r["next_cursor"] == body["next_cursor"]
    make_lead(org, "新店")
    r = api.get("/api/v1/events", {"after": body["next_cursor"]}).json()
    assert [e["type"] for e in r["items"]] == ["lead.created"]
    assert r["items"][0]["data"]["lead"]["name"] == "新店"
    claimed = api.get("/api/v1/events", {"type": "lead.claimed"}).json()["items"]
    assert [e["data"]["lead_id"] for e in claimed] == [leads[0].pk]
    assert claimed[0]["actor"] == org.bd1.user_id
    both = api.get("/api/v1/events", {"type": "lead.claimed,lead.created"}).json()["items"]
    assert len(both) == 7


def test_feed_is_tenant_scoped_and_for_admins_and_hq(org, other_org, api_as):
    make_lead(org, "甲店")
    lead_create(tenant=other_org.tenant, actor=other_org.admin, data={"name": "乙方机密店"}, now=T0)
    r = api_as(org.admin).get("/api/v1/events", {"limit": 500})
    assert r.status_code == 200
    assert "乙方机密店" not in r.content.decode()
    assert {e["id"] for e in r.json()["items"]} == {e.pk for e in events(org)}
    # A cursor taken from the other tenant's feed shows nothing of theirs either.
    b_first = api_as(other_org.admin).get("/api/v1/events").json()["items"][0]
    r = api_as(org.admin).get("/api/v1/events", {"after": "0-0"})
    assert b_first["id"] not in {e["id"] for e in r.json()["items"]}
    assert api_as(org.hq).get("/api/v1/events").status_code == 200
    for member in (org.bd1, org.manager, org.ops):
        r = api_as(member).get("/api/v1/events")
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_tenant_admin"


def test_feed_refuses_bad_input(org, api_as):
    api = api_as(org.admin)
    r = api.get("/api/v1/events", {"after": "abc"})
    assert r.status_code == 422 and r.json()["error"] == {
        "code": "invalid_cursor",
        "message": r.json()["error"]["message"],
        "field": "after",
    }
    r = api.get("/api/v1/events", {"type": "lead.exploded"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_event_type"
    assert api.get("/api/v1/events", {"limit": 0}).status_code == 422
    types = {t["type"] for t in api.get("/api/v1/events/types").json()}
    assert {"lead.created", "lead.dropped", "lead.signed", "lead.merged", "visit.recorded"} <= types
