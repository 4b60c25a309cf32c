"""Pool pages: public sea with claim and bulk assign, my private sea by time to drop with words, the team
view with supervisor actions, the policy editor, the ledger on the lead page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from conftest import PASSWORD
from leadsea.audit.models import ChangeLog
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_create
from leadsea.pools import services as pools
from leadsea.pools.selectors import default_pool

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def login(member, language: str = "en") -> Client:
    client = Client()
    client.cookies["leadsea_language"] = language
    r = client.post(
        "/login/", {"tenant": member.tenant.slug, "username": member.user.username, "password": PASSWORD}
    )
    assert r.status_code == 302
    return client


def text(r) -> str:
    return r.content.decode()


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def make(org, name: str) -> Lead:
    return lead_create(tenant=org.tenant, actor=org.admin, data={"name": name}, now=T0)


def test_public_sea_lists_public_leads_and_claims(org, frozen):
    a, b = make(org, "喜茶"), make(org, "奈雪的茶")
    pools.lead_claim(tenant=org.tenant, actor=org.bd2, lead_id=b.pk, now=T0)
    client = login(org.bd1)
    page = text(client.get("/sea/public/"))
    assert "喜茶" in page and "奈雪的茶" not in page
    assert "Assign selected to" not in page  # a BD has no bulk assign
    r = client.post(f"/sea/leads/{a.pk}/claim/", {"next": "/sea/public/"})
    assert r.status_code == 302 and r["Location"] == "/sea/public/"
    assert Lead.objects.get(tenant=org.tenant, pk=a.pk).owner_id == org.bd1.user_id
    followed = text(client.get("/sea/public/"))
    assert (
        "Claimed: the lead is in your private sea." in followed and "喜茶" not in followed.split("</h1>")[1]
    )


def test_claim_refusal_shows_the_reason(org, frozen):
    pools.pool_policy_update(
        tenant=org.tenant,
        actor=org.admin,
        pool=default_pool(tenant=org.tenant),
        policy={"claim_limit": 0},
        now=T0,
    )
    lead = make(org, "喜茶")
    client = login(org.bd1)
    r = client.post(f"/sea/leads/{lead.pk}/claim/", {"next": "/sea/public/"}, follow=True)
    assert "the limit" in text(r)
    assert Lead.objects.get(tenant=org.tenant, pk=lead.pk).owner_id is None


def test_my_private_sea_sorted_by_time_to_drop_with_words(org, frozen):
    late, soon = make(org, "晚店"), make(org, "急店")
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=late.pk, now=T0)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=soon.pk, now=T0 - timedelta(days=10))
    frozen.move_to(T0 + timedelta(days=3), tick=False)
    page = text(login(org.bd1).get("/sea/mine/"))
    assert page.index("急店") < page.index("晚店")
    assert "No verified visit for 13 days: drops in 2 days" in page
    zh = text(login(org.bd1, "zh-hans").get("/sea/mine/"))
    assert "13 天未有效拜访" in zh and "2 天后掉入公海" in zh


def test_release_from_my_sea_needs_a_reason(org, frozen):
    lead = make(org, "喜茶")
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    client = login(org.bd1)
    r = client.post(f"/sea/leads/{lead.pk}/release/", {"reason": "", "next": "/sea/mine/"}, follow=True)
    assert "A reason is required." in text(r)
    client.post(f"/sea/leads/{lead.pk}/release/", {"reason": "店已关", "next": "/sea/mine/"})
    assert Lead.objects.get(tenant=org.tenant, pk=lead.pk).owner_id is None


def test_bulk_assign_and_team_view_actions(org, frozen):
    a, b = make(org, "甲店"), make(org, "乙店")
    manager = login(org.lead_a)
    page = text(manager.get("/sea/public/"))
    assert "Assign selected to" in page
    r = manager.post(
        "/sea/assign/",
        {"lead_ids": [a.pk, b.pk], "user_id": org.bd1.user_id, "next": "/sea/public/"},
        follow=True,
    )
    assert "2 lead(s) assigned." in text(r)
    assert set(
        Lead.objects.filter(tenant=org.tenant, owner_id=org.bd1.user_id).values_list("id", flat=True)
    ) == {a.pk, b.pk}
    team = text(manager.get("/sea/team/"))
    assert "甲店" in team and "乙店" in team and "bd1" in team
    manager.post(
        f"/sea/leads/{a.pk}/transfer/", {"user_id": org.bd2.user_id, "reason": "调整", "next": "/sea/team/"}
    )
    manager.post(f"/sea/leads/{b.pk}/extend/", {"days": "30", "reason": "谈判中", "next": "/sea/team/"})
    manager.post(f"/sea/leads/{b.pk}/lock/", {"next": "/sea/team/"})
    a_now, b_now = (Lead.objects.get(tenant=org.tenant, pk=x.pk) for x in (a, b))
    assert a_now.owner_id == org.bd2.user_id
    assert b_now.locked and b_now.extension_days == 30
    # A BD has no team page; another team's manager does not see team A's leads.
    assert login(org.bd1).get("/sea/team/").status_code == 404
    other_team = text(login(org.bd3).get("/sea/mine/"))
    assert "甲店" not in other_team


def test_lead_page_shows_pool_status_and_ledger(org, frozen):
    lead = make(org, "喜茶")
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    page = text(login(org.bd1).get(f"/leads/{lead.pk}/"))
    assert "In your private sea." in page and "Ownership ledger" in page and "Claim" in page
    assert "No verified visit for 0 days: drops in 15 days" in page
    manager_view = text(login(org.manager).get(f"/leads/{lead.pk}/"))
    assert "In the private sea of bd1" in manager_view


def test_policy_editor_admin_only_validates_and_records(org):
    pool = default_pool(tenant=org.tenant)
    admin = login(org.admin)
    page = text(admin.get(f"/pools/{pool.pk}/policy/"))
    assert 'name="claim_limit" value="200"' in page
    # every rule in words (pools.rule_labels), none by its key
    assert "Protection days from the claim" in page and "Private leads per BD (claim limit)" in page
    assert not re.search(r">\s*(claim_limit|protection_days|no_visit_days|lock_limit)\s*<", page)
    form = {
        f: str(v)
        for f, v in [
            ("claim_limit", 150),
            ("daily_claim_limit", 50),
            ("reclaim_cooldown_days", 7),
            ("protection_days", 45),
            ("no_visit_days", 15),
            ("no_progress_days", 30),
            ("max_self_extensions", 1),
            ("self_extension_days", 15),
            ("lock_limit", 20),
            ("remind_days_before", 3),
        ]
    }
    r = admin.post(f"/pools/{pool.pk}/policy/", {**form, "protection_days": "0"})
    assert r.status_code == 200 and "protection_days must be a whole number" in text(r)
    assert default_pool(tenant=org.tenant).claim_limit == 200
    r = admin.post(
        f"/pools/{pool.pk}/policy/", {**form, "limit_manager": "30", "assign_counts_toward_limit": "on"}
    )
    assert r.status_code == 302
    pool = default_pool(tenant=org.tenant)
    assert pool.claim_limit == 150 and pool.claim_limit_by_role == {"manager": 30}
    assert ChangeLog.objects.filter(tenant=org.tenant, action="pool.policy").count() == 1
    bd = login(org.bd1)
    assert "disabled" in text(bd.get(f"/pools/{pool.pk}/policy/"))
    assert bd.post(f"/pools/{pool.pk}/policy/", form).status_code == 404
