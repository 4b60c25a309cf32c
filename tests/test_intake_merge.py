"""Lead merges: survivorship, moved history, the private-owner rule, the audit log, the ledger, undo."""

from __future__ import annotations

from typing import Any

import pytest

from leadsea.audit.models import ChangeLog
from leadsea.core.errors import DomainError
from leadsea.intake.models import FieldProvenance, LeadKey, LeadMerge
from leadsea.intake.services import (
    intake_submit,
    lead_merge,
    lead_unmerge,
    review_decide,
    source_get_or_create,
)
from leadsea.leads.models import Lead, LeadTag
from leadsea.leads.selectors import leads_search
from leadsea.leads.services import lead_create
from leadsea.pools.models import LedgerEntry
from leadsea.tasks.services import task_create
from leadsea.visits.models import Contact, Visit
from leadsea.visits.services import contact_create, visit_record

STORE = {
    "name": "庆丰包子铺",
    "branch_name": "月坛店",
    "address": "北京市西城区月坛南街2号",
    "lat": 39.9105,
    "lng": 116.3452,
}


LEDGER_TYPES_BY_ACTION = {"assign": "assigned", "release": "released", "drop": "dropped", "claim": "claimed"}
LEDGER_TYPES = [f"lead.{t}" for t in LEDGER_TYPES_BY_ACTION.values()]


def _lead(org: Any, actor: Any, owner: Any = None, **data: Any) -> Lead:
    return lead_create(
        tenant=org.tenant,
        actor=actor,
        data={**STORE, **data},
        owner_id=owner.user_id if owner is not None else None,
    )


def _get(org: Any, lead: Lead) -> Lead:
    return Lead.objects.get(tenant=org.tenant, pk=lead.pk)


def test_merge_moves_history_and_unmerge_restores_both(org: Any) -> None:
    survivor = _lead(org, org.manager, phone="010-6801 2345", tags=["早餐"])
    merged = _lead(org, org.bd1, owner=org.bd1, name="庆丰包子", phone="13800138000", tags=["连锁", "早餐"])
    visit = visit_record(tenant=org.tenant, actor=org.bd1, lead_id=merged.pk, lat=39.9105, lng=116.3452)
    contact = contact_create(tenant=org.tenant, actor=org.bd1, lead_id=merged.pk, data={"name": "王店长"})
    task = task_create(tenant=org.tenant, actor=org.bd1, title="回访", lead_id=merged.pk)
    before_merged = _get(org, merged)
    assert before_merged.owner_id == org.bd1.user_id

    merge = lead_merge(tenant=org.tenant, survivor=survivor, merged=merged, actor=org.manager)

    s, m = _get(org, survivor), _get(org, merged)
    assert m.merged_into_id == s.pk and m.owner_id is None and m.geo_cell is None
    # only the merged lead was private: its owner and clocks carry over, nothing is lost
    assert s.owner_id == org.bd1.user_id and s.expires_at == before_merged.expires_at
    assert Visit.objects.get(tenant=org.tenant, pk=visit.pk).lead_id == s.pk
    assert Contact.objects.get(tenant=org.tenant, pk=contact.pk).lead_id == s.pk
    from leadsea.tasks.models import Task

    assert Task.objects.get(tenant=org.tenant, pk=task.pk).lead_id == s.pk
    assert set(LeadTag.objects.filter(tenant=org.tenant, lead=s).values_list("tag", flat=True)) == {
        "早餐",
        "连锁",
    }
    # the merged lead is gone from every list and lookup
    ids = [x.pk for x in leads_search(tenant=org.tenant, membership=org.admin)]
    assert s.pk in ids and m.pk not in ids
    assert not LeadKey.objects.filter(tenant=org.tenant, lead=m).exists()
    assert ChangeLog.objects.filter(tenant=org.tenant, action="lead.merge", object_id=s.pk).exists()
    ledger = list(LedgerEntry.objects.filter(tenant=org.tenant, lead_id__in=[s.pk, m.pk]).order_by("id"))
    assert [(e.lead_id, e.action, e.to_owner_id) for e in ledger[-2:]] == [
        (s.pk, "assign", org.bd1.user_id),
        (m.pk, "release", None),
    ]

    lead_unmerge(tenant=org.tenant, merge=merge, actor=org.manager)

    s, m = _get(org, survivor), _get(org, merged)
    assert m.merged_into_id is None and m.geo_cell is not None
    assert m.owner_id == org.bd1.user_id and m.expires_at == before_merged.expires_at
    assert m.name == "庆丰包子" and m.phone == "+8613800138000"
    assert s.owner_id is None and s.name == "庆丰包子铺" and s.phone == "+861068012345"
    assert Visit.objects.get(tenant=org.tenant, pk=visit.pk).lead_id == m.pk
    assert Contact.objects.get(tenant=org.tenant, pk=contact.pk).lead_id == m.pk
    assert Task.objects.get(tenant=org.tenant, pk=task.pk).lead_id == m.pk
    assert set(LeadTag.objects.filter(tenant=org.tenant, lead=m).values_list("tag", flat=True)) == {
        "连锁",
        "早餐",
    }
    assert set(LeadTag.objects.filter(tenant=org.tenant, lead=s).values_list("tag", flat=True)) == {"早餐"}
    ids = [x.pk for x in leads_search(tenant=org.tenant, membership=org.admin)]
    assert {s.pk, m.pk} <= set(ids)
    assert LeadMerge.objects.get(tenant=org.tenant, pk=merge.pk).undone_at is not None
    assert ChangeLog.objects.filter(tenant=org.tenant, action="lead.unmerge", object_id=s.pk).exists()
    # replaying each lead's ledger gives its owner
    for lead in (s, m):
        rows = list(LedgerEntry.objects.filter(tenant=org.tenant, lead=lead).order_by("id"))
        assert (rows[-1].to_owner_id if rows else None) == lead.owner_id
    with pytest.raises(DomainError) as exc:
        lead_unmerge(tenant=org.tenant, merge=merge, actor=org.manager)
    assert exc.value.code == "merge_already_undone"


def test_every_ownership_change_of_a_merge_and_its_undo_is_an_event_like_its_ledger_row(org: Any) -> None:
    """Merges move owners through the same ledger write as the pool: each ledger row has its event."""
    from leadsea.events.models import OutboxEvent

    survivor = _lead(org, org.manager)
    merged = _lead(org, org.bd1, owner=org.bd1, name="庆丰包子")
    mark = OutboxEvent.objects.filter(tenant=org.tenant).order_by("-id").values_list("id", flat=True).first()
    first_row = (
        LedgerEntry.objects.filter(tenant=org.tenant).order_by("-id").values_list("id", flat=True).first()
    )
    merge = lead_merge(tenant=org.tenant, survivor=survivor, merged=merged, actor=org.manager)
    lead_unmerge(tenant=org.tenant, merge=merge, actor=org.manager)
    rows = LedgerEntry.objects.filter(tenant=org.tenant, id__gt=first_row).order_by("id")
    ownership = OutboxEvent.objects.filter(tenant=org.tenant, id__gt=mark, type__in=LEDGER_TYPES).order_by(
        "id"
    )
    want = [(f"lead.{LEDGER_TYPES_BY_ACTION[r.action]}", r.lead_id, r.to_owner_id) for r in rows]
    got = [(e.type, e.payload["lead_id"], e.payload["to_owner_id"]) for e in ownership]
    assert got == want and len(want) == 4  # merge: assign + release; undo: release + assign


def test_two_private_owners_refuse_the_merge(org: Any) -> None:
    a = _lead(org, org.bd1, owner=org.bd1)
    b = _lead(org, org.bd2, owner=org.bd2, name="庆丰包子")
    with pytest.raises(DomainError) as exc:
        lead_merge(tenant=org.tenant, survivor=a, merged=b, actor=org.manager)
    assert exc.value.code == "merge_owner_conflict" and exc.value.status == 409
    assert _get(org, b).merged_into_id is None and _get(org, b).owner_id == org.bd2.user_id
    assert not LeadMerge.objects.filter(tenant=org.tenant).exists()


def test_the_survivor_keeps_its_owner_when_both_have_the_same(org: Any) -> None:
    a = _lead(org, org.bd1, owner=org.bd1)
    b = _lead(org, org.bd1, owner=org.bd1, name="庆丰包子")
    lead_merge(tenant=org.tenant, survivor=a, merged=b, actor=org.manager)
    assert _get(org, a).owner_id == org.bd1.user_id


def test_bds_cannot_merge_and_a_lead_cannot_merge_twice(org: Any) -> None:
    a, b, c = _lead(org, org.admin), _lead(org, org.admin), _lead(org, org.admin)
    with pytest.raises(DomainError) as exc:
        lead_merge(tenant=org.tenant, survivor=a, merged=b, actor=org.bd1)
    assert exc.value.code == "forbidden"
    lead_merge(tenant=org.tenant, survivor=a, merged=b, actor=org.admin)
    with pytest.raises(DomainError) as exc:
        lead_merge(tenant=org.tenant, survivor=c, merged=b, actor=org.admin)
    assert exc.value.code == "merge_invalid"
    with pytest.raises(DomainError) as exc:
        lead_merge(tenant=org.tenant, survivor=a, merged=a, actor=org.admin)
    assert exc.value.code == "merge_invalid"


def test_merge_survivorship_prefers_trusted_then_recent_values(org: Any) -> None:
    crawl = source_get_or_create(tenant=org.tenant, key="crawl", channel="import")
    partner = source_get_or_create(tenant=org.tenant, key="partner", channel="push")
    [a] = intake_submit(
        tenant=org.tenant, source=crawl, records=[{**STORE, "external_id": "1", "phone": "01068012345"}]
    )
    other = {
        **STORE,
        "external_id": "2",
        "name": "庆丰包子铺(月坛)",
        "address": "西城区月坛南街2号院",
        "lat": 39.95,
        "lng": 116.30,
    }
    [b] = intake_submit(tenant=org.tenant, source=partner, records=[other])
    assert a.lead_id != b.lead_id
    survivor = Lead.objects.get(tenant=org.tenant, pk=a.lead_id)
    merged = Lead.objects.get(tenant=org.tenant, pk=b.lead_id)
    lead_merge(tenant=org.tenant, survivor=survivor, merged=merged, actor=org.admin)
    s = _get(org, survivor)
    assert s.address == "西城区月坛南街2号院"  # the partner feed is more trusted than the crawl
    assert s.phone == "+861068012345"  # only the crawl gave a phone
    assert FieldProvenance.objects.filter(tenant=org.tenant, lead=s, source=partner).exists()


def test_review_decisions(org: Any) -> None:
    src = source_get_or_create(tenant=org.tenant, key="crawl", channel="import")
    [first] = intake_submit(tenant=org.tenant, source=src, records=[{**STORE, "external_id": "1"}])
    maybe = {"external_id": "2", "name": "庆丰", "lat": 39.9125, "lng": 116.3470}
    maybe2 = {**maybe, "external_id": "3", "category": "早餐"}
    r2, r3 = intake_submit(tenant=org.tenant, source=src, records=[maybe, maybe2])
    assert (r2.status, r3.status) == ("review", "review"), (r2, r3)
    from leadsea.intake.models import ReviewItem

    item2 = ReviewItem.objects.get(tenant=org.tenant, pk=r2.review_item_id)
    item3 = ReviewItem.objects.get(tenant=org.tenant, pk=r3.review_item_id)
    with pytest.raises(DomainError):
        review_decide(tenant=org.tenant, item=item2, decision="merge", actor=org.bd1)
    review_decide(tenant=org.tenant, item=item2, decision="merge", actor=org.manager)
    review_decide(tenant=org.tenant, item=item3, decision="not_duplicate", actor=org.manager)
    from leadsea.intake.models import IntakeRecord

    rec2 = IntakeRecord.objects.get(tenant=org.tenant, pk=r2.record_id)
    rec3 = IntakeRecord.objects.get(tenant=org.tenant, pk=r3.record_id)
    assert (rec2.status, rec2.lead_id) == ("merged", first.lead_id)
    assert rec3.status == "created" and rec3.lead_id not in (None, first.lead_id)
    assert Lead.objects.get(tenant=org.tenant, pk=rec3.lead_id).category == "早餐"
    with pytest.raises(DomainError) as exc:
        review_decide(tenant=org.tenant, item=item2, decision="create", actor=org.manager)
    assert exc.value.code == "review_already_decided"
    assert ChangeLog.objects.filter(tenant=org.tenant, action="intake.review").count() == 2


def test_intake_creates_and_merges_write_outbox_events(org: Any) -> None:
    """A lead created by intake, and a merge, reach webhooks and the feed like any other change."""
    from leadsea.events.models import OutboxEvent

    source = source_get_or_create(tenant=org.tenant, key="crawl", channel="import")
    [created] = intake_submit(tenant=org.tenant, source=source, records=[{**STORE, "external_id": "e1"}])
    events = OutboxEvent.objects.filter(tenant=org.tenant, type="lead.created")
    assert [e.payload["lead_id"] for e in events] == [created.lead_id]
    assert events[0].payload["intake_source"] == "crawl"
    other = _lead(org, org.admin, name="庆丰包子铺（副本）")
    merge = lead_merge(
        tenant=org.tenant,
        survivor=Lead.objects.get(tenant=org.tenant, pk=created.lead_id),
        merged=other,
        actor=org.manager,
    )
    [merged] = OutboxEvent.objects.filter(tenant=org.tenant, type="lead.merged")
    # The survivor's changed fields, as lead.updated carries them: the workbench value outranks the crawl.
    assert merged.payload == {
        "lead_id": created.lead_id,
        "merged_lead_id": other.pk,
        "merge_id": merge.pk,
        "before": {"name": "庆丰包子铺"},
        "after": {"name": "庆丰包子铺(副本)"},
    }


# --- outbox events of intake merges and of their undo ------------------------------------------------------


def _events(org: Any, type: str) -> list[Any]:
    from leadsea.events.models import OutboxEvent

    return list(OutboxEvent.objects.filter(tenant=org.tenant, type=type).order_by("id"))


def test_a_record_that_changes_a_lead_writes_lead_updated_with_the_changed_fields(org: Any) -> None:
    crawl = source_get_or_create(tenant=org.tenant, key="crawl", channel="import")
    [made] = intake_submit(tenant=org.tenant, source=crawl, records=[{**STORE, "external_id": "c1"}])
    assert _events(org, "lead.updated") == []
    # A more trusted source gives a phone and another address: survivorship takes them.
    partner = source_get_or_create(tenant=org.tenant, key="partner", channel="push")
    better = {**STORE, "external_id": "p1", "phone": "010-6801 2345", "address": "北京市西城区月坛南街2号院"}
    [joined] = intake_submit(tenant=org.tenant, source=partner, records=[better], actor=org.admin)
    assert joined.status == "merged" and joined.lead_id == made.lead_id
    [event] = _events(org, "lead.updated")
    assert event.payload == {
        "lead_id": made.lead_id,
        "before": {"address": "北京市西城区月坛南街2号", "phones": []},
        "after": {"address": "北京市西城区月坛南街2号院", "phones": ["+861068012345"]},
        "intake_source": "partner",
    }
    assert event.actor_id == org.admin.user_id
    # The less trusted crawl says the old address again: merged, but the lead keeps its values, no event.
    [again] = intake_submit(tenant=org.tenant, source=crawl, records=[{**STORE, "external_id": "c2"}])
    assert again.status == "merged" and len(_events(org, "lead.updated")) == 1


def test_a_rolled_back_intake_merge_writes_no_event(org: Any) -> None:
    from django.db import transaction

    crawl = source_get_or_create(tenant=org.tenant, key="crawl", channel="import")
    [made] = intake_submit(tenant=org.tenant, source=crawl, records=[{**STORE, "external_id": "c1"}])
    partner = source_get_or_create(tenant=org.tenant, key="partner", channel="push")
    with pytest.raises(RuntimeError), transaction.atomic():
        [joined] = intake_submit(
            tenant=org.tenant,
            source=partner,
            records=[{**STORE, "external_id": "p1", "phone": "010-68012345"}],
        )
        assert joined.status == "merged" and len(_events(org, "lead.updated")) == 1
        raise RuntimeError("the caller fails after intake")
    assert _events(org, "lead.updated") == []
    assert Lead.objects.get(tenant=org.tenant, pk=made.lead_id).phones == []


def test_undoing_a_merge_writes_lead_unmerged(org: Any) -> None:
    from django.db import transaction

    survivor = _lead(org, org.manager, phone="010-6801 2345")
    merged = _lead(org, org.admin, name="庆丰包子", phone="13800138000")
    merge = lead_merge(tenant=org.tenant, survivor=survivor, merged=merged, actor=org.manager)
    [on_merge] = _events(org, "lead.merged")
    assert on_merge.payload["before"] == {"name": "庆丰包子铺", "phones": ["+861068012345"]}
    # A refused undo (a BD) and an undo rolled back by its caller leave nothing.
    with pytest.raises(DomainError):
        lead_unmerge(tenant=org.tenant, merge=merge, actor=org.bd1)
    with pytest.raises(RuntimeError), transaction.atomic():
        lead_unmerge(tenant=org.tenant, merge=merge, actor=org.manager)
        raise RuntimeError("rolled back")
    assert _events(org, "lead.unmerged") == []
    lead_unmerge(tenant=org.tenant, merge=merge, actor=org.manager)
    [event] = _events(org, "lead.unmerged")
    assert event.payload == {
        "lead_id": survivor.pk,
        "restored_lead_id": merged.pk,
        "merge_id": merge.pk,
        "before": on_merge.payload["after"],
        "after": on_merge.payload["before"],
    }
    assert event.actor_id == org.manager.user_id
    assert event.pk > on_merge.pk
