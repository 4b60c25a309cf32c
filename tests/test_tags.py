"""Rule-based tags: rule kinds, evaluation on intake and on demand, audited rule changes, the admin page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from conftest import PASSWORD
from leadsea.audit.models import ChangeLog
from leadsea.core.errors import FieldInvalid
from leadsea.intake.channels.common import submit
from leadsea.intake.services import source_get_or_create
from leadsea.leads.models import Lead, LeadTag
from leadsea.leads.services import lead_create
from leadsea.tagging.models import TagRule
from leadsea.tagging.services import brand_list_save, tag_rule_create, tag_rule_update, tags_apply


def tags_of(org: Any, lead: Lead | int) -> set[str]:
    lead_id = lead if isinstance(lead, int) else lead.pk
    return set(LeadTag.objects.filter(tenant=org.tenant, lead_id=lead_id).values_list("tag", flat=True))


@pytest.fixture
def rules(org):
    top = brand_list_save(
        tenant=org.tenant, actor=org.admin, key="top300", name="Top 300", brands=["海底捞", "喜茶", "ＫＦＣ"]
    )
    tag_rule_create(
        tenant=org.tenant,
        actor=org.admin,
        data={"tag": "头部品牌", "kind": "brand_list", "brand_list": top.pk},
    )
    tag_rule_create(
        tenant=org.tenant, actor=org.admin, data={"tag": "火锅", "kind": "category", "value": "火锅, 串串"}
    )
    tag_rule_create(
        tenant=org.tenant,
        actor=org.admin,
        data={"tag": "头部商户", "kind": "field", "field": "monthly_sales", "op": "gte", "value": "100000"},
    )
    tag_rule_create(
        tenant=org.tenant,
        actor=org.admin,
        data={"tag": "竞对合作", "kind": "field", "field": "competitor_partnered", "op": "truthy"},
    )
    tag_rule_create(
        tenant=org.tenant,
        actor=org.admin,
        data={"tag": "有券", "kind": "field", "field": "coupon_count", "op": "gt", "value": 0},
    )
    return top


def _lead(org: Any, name: str, **data: Any) -> Lead:
    return lead_create(tenant=org.tenant, actor=org.admin, data={"name": name, **data})


def test_each_rule_kind(org, rules):
    a = _lead(org, "海底捞火锅（国贸店）", category="火锅")
    b = _lead(org, "kfc 肯德基")
    c = _lead(org, "小馆子", category="川菜")
    # custom_data set directly: the tenant's field definitions are not this test's subject
    Lead.objects.filter(tenant=org.tenant, pk=c.pk).update(
        custom_data={"monthly_sales": 250000, "competitor_partnered": True, "coupon_count": 3}
    )
    d = _lead(org, "路边摊")
    Lead.objects.filter(tenant=org.tenant, pk=d.pk).update(
        custom_data={"monthly_sales": "99999", "competitor_partnered": "否", "coupon_count": 0}
    )
    result = tags_apply(tenant=org.tenant, leads=None)
    assert result.leads == 4
    assert tags_of(org, a) == {"头部品牌", "火锅"}
    assert tags_of(org, b) == {"头部品牌"}  # full-width ＫＦＣ in the list matches kfc
    assert tags_of(org, c) == {"头部商户", "竞对合作", "有券"}
    assert tags_of(org, d) == set()


def test_rules_maintain_their_tags_and_leave_hand_set_tags(org, rules):
    lead = _lead(org, "喜茶（三里屯店）", tags=["老客户", "火锅"])
    tags_apply(tenant=org.tenant, leads=[lead])
    assert tags_of(org, lead) == {"老客户", "头部品牌"}  # 火锅 is a rule's tag and no rule matches
    brand_list_save(tenant=org.tenant, actor=org.admin, key="top300", name="Top 300", brands=["海底捞"])
    result = tags_apply(tenant=org.tenant, leads=[lead.pk])
    assert result.removed == 1 and tags_of(org, lead) == {"老客户"}
    assert tags_apply(tenant=org.tenant, leads=[lead.pk]).added == 0  # idempotent


def test_rules_are_evaluated_when_the_workbench_creates_or_edits_a_lead(org, rules):
    """A lead made on the web or the API gets its rule tags at once, in the audit row and event too."""
    from leadsea.events.models import OutboxEvent
    from leadsea.leads.services import lead_update

    lead = _lead(org, "海底捞火锅（国贸店）", tags=["老客户"])
    assert tags_of(org, lead) == {"老客户", "头部品牌"}
    created = ChangeLog.objects.get(tenant=org.tenant, action="lead.create", object_id=lead.pk)
    assert sorted(created.after["tags"]) == ["头部品牌", "老客户"]
    lead = lead_update(tenant=org.tenant, actor=org.admin, lead=lead, data={"category": "火锅"})
    assert tags_of(org, lead) == {"老客户", "头部品牌", "火锅"}
    updated = OutboxEvent.objects.filter(tenant=org.tenant, type="lead.updated").latest("id")
    assert updated.payload["after"]["tags"] == ["头部品牌", "火锅", "老客户"]
    lead = lead_update(tenant=org.tenant, actor=org.admin, lead=lead, data={"name": "小馆子"})
    assert tags_of(org, lead) == {"老客户", "火锅"}  # the brand rule no longer matches


def test_rules_are_evaluated_on_intake(org, rules):
    source = source_get_or_create(tenant=org.tenant, key="feed", channel="queue", name="Feed")
    [result] = submit(
        source=source, records=[{"external_id": "1", "name": "海底捞火锅（望京店）", "category": "串串"}]
    )
    assert tags_of(org, result.lead_id) == {"头部品牌", "火锅"}


def test_rule_changes_are_audited_and_validated(org, rules):
    rule = TagRule.objects.get(tenant=org.tenant, tag="有券")
    tag_rule_update(tenant=org.tenant, actor=org.hq, rule=rule, data={"value": 5})
    row = ChangeLog.objects.filter(tenant=org.tenant, action="tag_rule.update").get()
    assert row.actor_id == org.hq.user_id and row.before["value"] == 0 and row.after["value"] == 5
    assert ChangeLog.objects.filter(tenant=org.tenant, action="tag_rule.create").count() == 5
    assert ChangeLog.objects.filter(tenant=org.tenant, action="brand_list.save").count() == 1
    with pytest.raises(FieldInvalid) as exc:
        tag_rule_create(
            tenant=org.tenant, actor=org.admin, data={"tag": "x", "kind": "field", "field": "a", "op": "gt"}
        )
    assert exc.value.field == "value"
    with pytest.raises(FieldInvalid) as exc:
        tag_rule_create(
            tenant=org.tenant, actor=org.admin, data={"tag": "x", "kind": "brand_list", "brand_list": 999}
        )
    assert exc.value.field == "brand_list"


def test_tags_apply_command_in_batches(org, other_org, rules, capsys):
    for i in range(7):
        _lead(org, f"海底捞{i}号店")
    _lead(other_org, "海底捞火锅")  # another tenant without rules
    LeadTag.objects.filter(tenant=org.tenant).delete()  # leads from before the rules (created tags them)
    call_command("tags", "apply", "--tenant", "acme", "--batch-size", "3")
    line = json.loads(capsys.readouterr().out.strip())
    assert line == {"tenant": "acme", "leads": 7, "added": 7, "removed": 0}
    assert LeadTag.objects.filter(tenant=org.tenant, tag="头部品牌").count() == 7
    assert not LeadTag.objects.filter(tenant=other_org.tenant, tag="头部品牌").exists()


def _login(membership: Any) -> Client:
    client = Client()
    client.post("/login/", {"tenant": "acme", "username": membership.user.username, "password": PASSWORD})
    return client


def test_rules_page_for_admins(org, rules):
    admin = _login(org.admin)
    page = admin.get("/tags/rules/")
    assert page.status_code == 200 and "头部品牌" in page.content.decode()
    r = admin.post("/tags/rules/", {"tag": "川菜", "kind": "category", "value": "川菜", "is_active": "on"})
    assert r.status_code == 302 and TagRule.objects.filter(tenant=org.tenant, tag="川菜").exists()
    r = admin.post("/tags/rules/", {"tag": "", "kind": "category", "value": "川菜"})
    assert r.status_code == 400
    r = admin.post(
        "/tags/rules/", {"what": "brand_list", "key": "top300", "list_name": "Top", "brands": "海底捞\n西贝"}
    )
    assert r.status_code == 302
    for rule in TagRule.objects.filter(tenant=org.tenant):
        page = admin.get(f"/tags/rules/{rule.pk}/")
        assert page.status_code == 200 and rule.tag in page.content.decode()
    assert "西贝" in admin.get(f"/tags/lists/{rules.pk}/").content.decode()
    rule = TagRule.objects.get(tenant=org.tenant, tag="有券")
    r = admin.post(
        f"/tags/rules/{rule.pk}/",
        {"tag": "有券", "kind": "field", "field": "coupon_count", "op": "gte", "value": "2"},
    )
    assert r.status_code == 302
    rule = TagRule.objects.get(tenant=org.tenant, pk=rule.pk)
    assert rule.op == "gte" and rule.value == 2.0 and not rule.is_active  # the box was not ticked
    assert admin.post(f"/tags/rules/{rule.pk}/delete/").status_code == 302
    assert not TagRule.objects.filter(tenant=org.tenant, pk=rule.pk).exists()
    assert _login(org.manager).get("/tags/rules/").status_code == 403
    assert (
        _login(org.bd1).post("/tags/rules/", {"tag": "x", "kind": "category", "value": "y"}).status_code
        == 403
    )


# --- every intake channel evaluates the rules on the leads it creates or changes ---------------------------

HOTPOT = {
    "external_id": "hp-1",
    "name": "海底捞火锅（望京店）",
    "category": "串串",
    "lat": 39.99,
    "lng": 116.47,
}


def test_rules_are_evaluated_after_leadsea_import(org, rules, tmp_path):
    f = tmp_path / "stores.csv"
    f.write_text(
        "编号,店名,品类,纬度,经度\nx1,海底捞火锅（望京店）,串串,39.99,116.47\nx2,小馆子,川菜,39.9,116.3\n"
    )
    call_command("import", str(f), "--tenant", "acme", "--source", "crawl")
    by_name = {lead.name: lead for lead in Lead.objects.filter(tenant=org.tenant)}
    assert tags_of(org, by_name["海底捞火锅"]) == {"头部品牌", "火锅"}
    assert tags_of(org, by_name["小馆子"]) == set()


def test_rules_are_evaluated_by_the_web_import(org, rules):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from leadsea.intake.models import ImportJob

    admin = _login(org.admin)
    csv = "店名,品类\n喜茶（三里屯店）,饮品\n"
    r = admin.post("/intake/import/", {"file": SimpleUploadedFile("a.csv", csv.encode()), "source": "web"})
    assert r.status_code == 302
    job = ImportJob.objects.get(tenant=org.tenant)
    assert admin.post(f"/intake/import/{job.pk}/progress/").status_code == 200  # runs the batch
    lead = Lead.objects.get(tenant=org.tenant, name="喜茶")
    assert tags_of(org, lead) == {"头部品牌"}


def test_rules_are_evaluated_on_the_push_api_including_records_merged_into_a_lead(org, rules, api_as):
    api = api_as(org.admin)
    r = api.post("/api/v1/intake/records", {"source": "partner", "records": [{**HOTPOT, "category": ""}]})
    assert r.status_code == 200, r.content
    [created] = r.json()["results"]
    assert created["status"] == "created"
    assert tags_of(org, created["lead_id"]) == {"头部品牌"}  # no category yet
    # The same store from a more trusted source, now with a category: merged, and the rule sees it.
    source_get_or_create(tenant=org.tenant, key="hq-feed", channel="push", trust=90)
    r = api.post(
        "/api/v1/intake/records", {"source": "hq-feed", "records": [{**HOTPOT, "external_id": "hq-1"}]}
    )
    [merged] = r.json()["results"]
    assert merged["status"] == "merged" and merged["lead_id"] == created["lead_id"]
    assert tags_of(org, created["lead_id"]) == {"头部品牌", "火锅"}


def test_rules_are_evaluated_on_a_review_decision(org, rules):
    from leadsea.intake.models import ReviewItem
    from leadsea.intake.services import intake_settings_update, review_decide
    from leadsea.intake.submit import intake_submit_tagged

    source = source_get_or_create(tenant=org.tenant, key="crawl", channel="import")
    intake_settings_update(tenant=org.tenant, actor=org.admin, auto_merge_at=1.0)  # every match: review
    [first] = intake_submit_tagged(tenant=org.tenant, source=source, records=[{**HOTPOT, "category": ""}])
    [second] = intake_submit_tagged(
        tenant=org.tenant, source=source, records=[{**HOTPOT, "external_id": "hp-2"}]
    )
    assert first.status == "created" and second.status == "review"
    assert tags_of(org, first.lead_id) == {"头部品牌"}
    item = ReviewItem.objects.get(tenant=org.tenant, pk=second.review_item_id)
    review_decide(tenant=org.tenant, item=item, decision="merge", actor=org.manager)
    # The record joined the lead and gave it its category (same trust, more recent): the rule follows.
    assert Lead.objects.get(tenant=org.tenant, pk=first.lead_id).category == "串串"
    assert tags_of(org, first.lead_id) == {"头部品牌", "火锅"}


def test_rules_run_in_the_intake_transaction(org, rules, monkeypatch):
    """The leads and their tags commit together: a failure while tagging leaves no lead behind."""
    from leadsea.intake import submit as submit_module
    from leadsea.intake.submit import intake_submit_tagged

    def broken(**kwargs):
        raise RuntimeError("tagging failed")

    monkeypatch.setattr(submit_module, "tags_apply", broken)
    source = source_get_or_create(tenant=org.tenant, key="crawl", channel="import")
    with pytest.raises(RuntimeError):
        intake_submit_tagged(tenant=org.tenant, source=source, records=[HOTPOT])
    assert not Lead.objects.filter(tenant=org.tenant).exists()


def test_a_replayed_record_does_not_touch_tags(org, rules, api_as):
    """A duplicate (same source, id and payload) wrote nothing, so the rules are not run on its lead: a tag
    a person removed by hand stays removed until the lead changes."""
    api = api_as(org.admin)
    body = {"source": "partner", "records": [HOTPOT]}
    [first] = api.post("/api/v1/intake/records", body).json()["results"]
    LeadTag.objects.filter(tenant=org.tenant, lead_id=first["lead_id"], tag="火锅").delete()
    [again] = api.post("/api/v1/intake/records", body).json()["results"]
    assert again["duplicate"] is True
    assert tags_of(org, first["lead_id"]) == {"头部品牌"}
