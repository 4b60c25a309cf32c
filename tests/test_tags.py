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
