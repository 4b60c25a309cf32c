"""The pool engine: every rule at its boundary with a frozen clock, the ledger, the sweep, and the API."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from leadsea.audit.models import ChangeLog
from leadsea.core.errors import DomainError
from leadsea.leads.models import Lead
from leadsea.leads.selectors import leads_search
from leadsea.leads.services import lead_create
from leadsea.pipeline.services import lead_stage_set
from leadsea.pools import services as pools
from leadsea.pools.models import LedgerEntry, Pool
from leadsea.pools.selectors import default_pool, expiring_for
from leadsea.pools.services import pool_create
from leadsea.pools.sweep import sweep

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def make_lead(org, name: str = "海底捞火锅", **kwargs) -> Lead:
    return lead_create(tenant=org.tenant, actor=org.admin, data={"name": name, **kwargs}, now=T0)


def code_of(fn, *args, **kwargs) -> str:
    with pytest.raises(DomainError) as info:
        fn(*args, **kwargs)
    return info.value.code


def reload(lead: Lead) -> Lead:
    return Lead.objects.get(tenant_id=lead.tenant_id, pk=lead.pk)


def set_policy(org, **policy) -> Pool:
    pool = default_pool(tenant=org.tenant)
    return pools.pool_policy_update(tenant=org.tenant, actor=org.admin, pool=pool, policy=policy, now=T0)


def visible_ids(org, member, now, **filters) -> set[int]:
    import time_machine

    with time_machine.travel(now, tick=False):
        return {x.pk for x in leads_search(tenant=org.tenant, membership=member, **filters)}


def test_new_tenant_has_default_pool_with_default_policy(org):
    pool = default_pool(tenant=org.tenant)
    assert (pool.claim_limit, pool.daily_claim_limit, pool.reclaim_cooldown_days) == (200, 50, 7)
    assert (pool.protection_days, pool.no_visit_days, pool.no_progress_days) == (45, 15, 30)
    assert (pool.max_self_extensions, pool.self_extension_days, pool.lock_limit, pool.remind_days_before) == (
        1,
        15,
        20,
        3,
    )
    assert make_lead(org).pool_id == pool.pk


def test_claim_makes_private_with_clocks_and_ledger(org):
    lead = make_lead(org)
    got = pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    assert got.owner_id == org.bd1.user_id
    assert got.claimed_at == T0
    assert got.expires_at == day(15) and got.expiry_clock == "no_visit"
    assert got.protection_until == day(45) and got.progress_due_at == day(30)
    entry = LedgerEntry.objects.get(tenant=org.tenant, lead=lead)
    assert (entry.action, entry.actor_id, entry.from_owner_id, entry.to_owner_id) == (
        "claim",
        org.bd1.user_id,
        None,
        org.bd1.user_id,
    )
    assert entry.clocks["expires_at"] == day(15).isoformat()
    assert code_of(pools.lead_claim, tenant=org.tenant, actor=org.bd2, lead_id=lead.pk, now=day(1)) == (
        "lead_not_available"
    )
    assert code_of(pools.lead_claim, tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=day(1)) == (
        "already_owned"
    )


def test_claim_limit_and_per_role_limit(org):
    set_policy(org, claim_limit=2, claim_limit_by_role={"manager": 1})
    leads = [make_lead(org, f"店{i}") for i in range(4)]
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=leads[0].pk, now=T0)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=leads[1].pk, now=T0)
    assert code_of(pools.lead_claim, tenant=org.tenant, actor=org.bd1, lead_id=leads[2].pk, now=T0) == (
        "claim_limit_reached"
    )
    pools.lead_claim(tenant=org.tenant, actor=org.manager, lead_id=leads[2].pk, now=T0)
    assert code_of(pools.lead_claim, tenant=org.tenant, actor=org.manager, lead_id=leads[3].pk, now=T0) == (
        "claim_limit_reached"
    )
    # A lead that dropped no longer counts toward the limit, even before the sweep.
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=leads[3].pk, now=day(15))
    assert reload(leads[3]).owner_id == org.bd1.user_id


def test_daily_claim_limit_resets_at_local_midnight(org):
    set_policy(org, daily_claim_limit=2)
    leads = [make_lead(org, f"店{i}") for i in range(4)]
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=leads[0].pk, now=T0)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=leads[1].pk, now=T0)
    pools.lead_release(tenant=org.tenant, actor=org.bd1, lead_id=leads[1].pk, reason="不合适", now=T0)
    # 23:59 in Shanghai on the same day: still today.
    late = datetime(2026, 3, 2, 15, 59, tzinfo=UTC)
    assert code_of(pools.lead_claim, tenant=org.tenant, actor=org.bd1, lead_id=leads[2].pk, now=late) == (
        "daily_claim_limit_reached"
    )
    # 00:01 the next day in Shanghai (16:01 UTC): a new day.
    pools.lead_claim(
        tenant=org.tenant, actor=org.bd1, lead_id=leads[2].pk, now=datetime(2026, 3, 2, 16, 1, tzinfo=UTC)
    )


def test_release_needs_reason_and_starts_cooldown(org):
    lead = make_lead(org)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    assert code_of(
        pools.lead_release, tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, reason=" ", now=T0
    ) == ("required")
    assert reload(lead).owner_id == org.bd1.user_id
    pools.lead_release(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, reason="商户已关店", now=T0)
    released = reload(lead)
    assert released.owner_id is None and released.expires_at is None
    assert code_of(pools.lead_claim, tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=day(6.9)) == (
        "cooldown_active"
    )
    # Anyone else may claim it at once; the former owner again from day 7.
    pools.lead_claim(tenant=org.tenant, actor=org.bd2, lead_id=lead.pk, now=day(1))
    pools.lead_release(tenant=org.tenant, actor=org.bd2, lead_id=lead.pk, reason="转给同事", now=day(1))
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=day(7))


def test_no_visit_clock_boundary_reads_public_before_sweep(org):
    lead = make_lead(org)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    assert lead.pk in visible_ids(org, org.bd1, day(14.99), sea="private")
    assert lead.pk not in visible_ids(org, org.bd2, day(14.99))
    # Day 15: the deadline has passed; it reads as public for everyone, though the sweep has not run.
    assert lead.pk not in visible_ids(org, org.bd1, day(15), sea="private")
    assert lead.pk in visible_ids(org, org.bd2, day(15), sea="public")
    # The former owner lost it: the cooldown applies to him, another BD may claim it.
    assert code_of(pools.lead_claim, tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=day(15)) == (
        "cooldown_active"
    )
    pools.lead_claim(tenant=org.tenant, actor=org.bd2, lead_id=lead.pk, now=day(15))
    actions = list(
        LedgerEntry.objects.filter(tenant=org.tenant, lead=lead)
        .order_by("id")
        .values_list("action", "from_owner", "reason")
    )
    assert actions == [("claim", None, ""), ("drop", org.bd1.user_id, "no_visit"), ("claim", None, "")]


def test_verified_visits_and_progress_move_the_clocks(org):
    lead = make_lead(org)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    pools.lead_visited(
        tenant=org.tenant, lead_id=lead.pk, user_id=org.bd1.user_id, visited_at=day(10), now=day(10)
    )
    assert reload(lead).expires_at == day(25)
    # Someone else's visit does not reset the owner's clock.
    pools.lead_visited(
        tenant=org.tenant, lead_id=lead.pk, user_id=org.bd2.user_id, visited_at=day(20), now=day(20)
    )
    assert reload(lead).expires_at == day(25)
    for d in (20, 28):
        pools.lead_visited(
            tenant=org.tenant, lead_id=lead.pk, user_id=org.bd1.user_id, visited_at=day(d), now=day(d)
        )
    # Visits every few days: now the no-progress clock (30 days) binds.
    got = reload(lead)
    assert (got.expires_at, got.expiry_clock) == (day(30), "no_progress")
    lead_stage_set(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="needs", now=day(29))
    pools.lead_visited(
        tenant=org.tenant, lead_id=lead.pk, user_id=org.bd1.user_id, visited_at=day(40), now=day(40)
    )
    got = reload(lead)
    assert (got.expires_at, got.expiry_clock) == (day(45), "protection")
    assert lead.pk in visible_ids(org, org.bd1, day(44.9), sea="private")
    assert sweep(as_of=day(45)).dropped == 1
    assert (
        LedgerEntry.objects.filter(tenant=org.tenant, lead=lead).order_by("-id").first().reason
        == "protection"
    )


def test_moving_back_a_stage_is_no_progress(org):
    lead = make_lead(org)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    lead_stage_set(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="negotiation", now=day(5))
    assert reload(lead).progress_due_at == day(35)
    lead_stage_set(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="needs", now=day(10))
    assert reload(lead).progress_due_at == day(35)


def test_self_extension_once_and_bounded(org):
    lead = make_lead(org)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    assert code_of(
        pools.lead_extend, tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, days=16, now=day(1)
    ) == ("extension_not_allowed")
    got = pools.lead_extend(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=day(1))
    assert got.expires_at == day(30) and got.protection_until == day(60) and got.extension_days == 15
    assert code_of(
        pools.lead_extend, tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, days=1, now=day(2)
    ) == ("extension_not_allowed")
    assert lead.pk in visible_ids(org, org.bd1, day(29.9), sea="private")
    assert lead.pk not in visible_ids(org, org.bd1, day(30), sea="private")


def test_supervisor_extension_any_length_with_reason(org):
    lead = make_lead(org)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    assert code_of(
        pools.lead_extend, tenant=org.tenant, actor=org.lead_a, lead_id=lead.pk, days=60, now=T0
    ) == ("required")
    got = pools.lead_extend(
        tenant=org.tenant, actor=org.lead_a, lead_id=lead.pk, days=60, reason="谈判周期长", now=T0
    )
    assert got.expires_at == day(75) and got.self_extensions_used == 0
    # Another BD cannot see it, a BD cannot extend a colleague's lead.
    assert code_of(pools.lead_extend, tenant=org.tenant, actor=org.bd2, lead_id=lead.pk, days=5, now=T0) == (
        "lead_not_found"
    )


def test_lock_exempts_from_drops_and_respects_lock_limit(org):
    set_policy(org, lock_limit=1)
    a, b = make_lead(org, "甲"), make_lead(org, "乙")
    for lead in (a, b):
        pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    assert (
        code_of(pools.lead_lock, tenant=org.tenant, actor=org.bd1, lead_id=a.pk, now=T0) == "not_supervisor"
    )
    locked = pools.lead_lock(tenant=org.tenant, actor=org.lead_a, lead_id=a.pk, reason="重点客户", now=T0)
    assert locked.locked and locked.expires_at is None
    assert code_of(pools.lead_lock, tenant=org.tenant, actor=org.lead_a, lead_id=b.pk, now=T0) == (
        "lock_limit_reached"
    )
    assert sweep(as_of=day(100)).dropped == 1  # b dropped, a stayed
    assert reload(a).owner_id == org.bd1.user_id and reload(b).owner_id is None
    unlocked = pools.lead_unlock(tenant=org.tenant, actor=org.lead_a, lead_id=a.pk, now=day(100))
    assert not unlocked.locked and unlocked.expires_at == day(115)


def test_assign_and_transfer_by_supervisors(org):
    set_policy(org, claim_limit=1)
    a, b = make_lead(org, "甲"), make_lead(org, "乙")
    got = pools.lead_assign(
        tenant=org.tenant, actor=org.lead_a, lead_id=a.pk, user_id=org.bd1.user_id, now=T0
    )
    assert got.owner_id == org.bd1.user_id and got.expires_at == day(15)
    assert (
        code_of(
            pools.lead_assign,
            tenant=org.tenant,
            actor=org.lead_a,
            lead_id=b.pk,
            user_id=org.bd1.user_id,
            now=T0,
        )
        == "claim_limit_reached"
    )
    assert (
        code_of(
            pools.lead_assign,
            tenant=org.tenant,
            actor=org.lead_a,
            lead_id=b.pk,
            user_id=org.bd3.user_id,
            now=T0,
        )
        == "not_supervisor"
    )  # bd3 is in team B
    assert (
        code_of(
            pools.lead_assign, tenant=org.tenant, actor=org.bd1, lead_id=b.pk, user_id=org.bd1.user_id, now=T0
        )
        == "not_supervisor"
    )
    set_policy(org, assign_counts_toward_limit=False)
    pools.lead_assign(tenant=org.tenant, actor=org.lead_a, lead_id=b.pk, user_id=org.bd1.user_id, now=T0)
    moved = pools.lead_transfer(
        tenant=org.tenant, actor=org.manager, lead_id=a.pk, user_id=org.bd3.user_id, reason="换区", now=day(3)
    )
    assert moved.owner_id == org.bd3.user_id and moved.claimed_at == day(3) and moved.expires_at == day(18)
    entry = LedgerEntry.objects.filter(tenant=org.tenant, lead=a).order_by("-id").first()
    assert (entry.action, entry.from_owner_id, entry.to_owner_id, entry.reason) == (
        "transfer",
        org.bd1.user_id,
        org.bd3.user_id,
        "换区",
    )
    # Team A's manager does not supervise bd3: cannot transfer the lead back.
    assert code_of(
        pools.lead_transfer,
        tenant=org.tenant,
        actor=org.lead_a,
        lead_id=a.pk,
        user_id=org.bd1.user_id,
        now=day(3),
    ) in ("not_supervisor", "lead_not_found")


def test_signing_takes_the_lead_out_of_the_pool_rules(org):
    set_policy(org, claim_limit=1)
    lead, other = make_lead(org, "甲"), make_lead(org, "乙")
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    assert (
        code_of(
            lead_stage_set, tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="lost", now=day(1)
        )
        == "required"
    )
    assert (
        code_of(
            lead_stage_set,
            tenant=org.tenant,
            actor=org.bd1,
            lead_id=lead.pk,
            stage_key="lost",
            lost_reason="nope",
            now=day(1),
        )
        == "invalid_lost_reason"
    )
    lead_stage_set(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="won", now=day(2))
    signed = reload(lead)
    assert signed.status == "signed" and signed.signed_at == day(2) and signed.expires_at is None
    assert sweep(as_of=day(400)).dropped == 0
    assert reload(lead).owner_id == org.bd1.user_id
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=other.pk, now=day(3))  # signed does not count
    assert LedgerEntry.objects.filter(tenant=org.tenant, lead=lead, action="sign").count() == 1


def test_lost_needs_a_reason_and_closes_the_opportunity(org):
    lead = make_lead(org)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    opp = lead_stage_set(
        tenant=org.tenant,
        actor=org.bd1,
        lead_id=lead.pk,
        stage_key="lost",
        lost_reason="competitor",
        now=day(1),
    )
    assert opp.closed_at == day(1) and opp.lost_reason.key == "competitor"
    renewal = lead_stage_set(
        tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="contact", now=day(2)
    )
    assert renewal.pk != opp.pk and renewal.closed_at is None


def test_pools_scope_public_sea_to_members(org):
    other = pool_create(tenant=org.tenant, name="朝阳二组专属", org_units=[org.team_b], now=T0)
    lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "专属店"}, pool_id=other.pk, now=T0)
    assert lead.pk in visible_ids(org, org.bd3, T0, sea="public")
    assert lead.pk not in visible_ids(org, org.bd1, T0)
    assert code_of(pools.lead_claim, tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0) == (
        "lead_not_found"
    )
    assert (
        code_of(pools.lead_claim, tenant=org.tenant, actor=org.hq, lead_id=lead.pk, now=T0) == "not_in_pool"
    )
    assert (
        code_of(
            pools.lead_assign,
            tenant=org.tenant,
            actor=org.manager,
            lead_id=lead.pk,
            user_id=org.bd1.user_id,
            now=T0,
        )
        == "not_in_pool"
    )
    pools.lead_claim(tenant=org.tenant, actor=org.bd3, lead_id=lead.pk, now=T0)


def test_expiring_list_uses_remind_days_before(org):
    soon, later = make_lead(org, "甲"), make_lead(org, "乙")
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=soon.pk, now=T0)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=later.pk, now=day(5))
    ids = lambda now: [x.pk for x in expiring_for(tenant=org.tenant, user_id=org.bd1.user_id, now=now)]  # noqa: E731
    assert ids(day(11.9)) == []
    assert ids(day(12)) == [soon.pk]
    assert ids(day(17)) == [later.pk]


def test_sweep_is_idempotent_and_replaying_the_ledger_gives_the_owner(org):
    rng = random.Random(7)
    leads = [make_lead(org, f"店{i}") for i in range(25)]
    bds = [org.bd1, org.bd2, org.bd3]
    for step in range(300):
        now = day(step / 4)
        lead, bd = rng.choice(leads), rng.choice(bds)
        op = rng.random()
        try:
            if op < 0.45:
                pools.lead_claim(tenant=org.tenant, actor=bd, lead_id=lead.pk, now=now)
            elif op < 0.6:
                pools.lead_release(tenant=org.tenant, actor=bd, lead_id=lead.pk, reason="r", now=now)
            elif op < 0.7:
                pools.lead_transfer(
                    tenant=org.tenant,
                    actor=org.manager,
                    lead_id=lead.pk,
                    user_id=rng.choice(bds).user_id,
                    now=now,
                )
            elif op < 0.8:
                pools.lead_extend(tenant=org.tenant, actor=bd, lead_id=lead.pk, now=now)
            elif op < 0.9:
                pools.lead_visited(
                    tenant=org.tenant, lead_id=lead.pk, user_id=bd.user_id, visited_at=now, now=now
                )
            elif op < 0.95:
                sweep(as_of=now)
            else:
                pools.lead_lock(tenant=org.tenant, actor=org.manager, lead_id=lead.pk, now=now)
        except DomainError:
            pass
    end = day(300 / 4)
    sweep(as_of=end)
    assert sweep(as_of=end).dropped == 0
    for lead in leads:
        owner = None
        for entry in LedgerEntry.objects.filter(tenant=org.tenant, lead=lead).order_by("id"):
            assert entry.from_owner_id == owner, f"ledger of {lead.pk} does not chain at {entry.pk}"
            owner = entry.to_owner_id
        assert owner == reload(lead).owner_id


def test_policy_update_is_admin_only_validated_and_recorded(org, api_as):
    pool_id = default_pool(tenant=org.tenant).pk
    bd = api_as(org.bd1)
    assert bd.get(f"/api/v1/pools/{pool_id}/policy").json()["claim_limit"] == 200
    r = bd.put(f"/api/v1/pools/{pool_id}/policy", {"claim_limit": 5})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_supervisor"
    admin = api_as(org.admin)
    r = admin.put(f"/api/v1/pools/{pool_id}/policy", {"claim_limit": 5, "protection_days": 0})
    assert r.status_code == 422 and r.json()["error"]["field"] == "protection_days"
    assert default_pool(tenant=org.tenant).claim_limit == 200  # nothing half-applied
    r = admin.put(
        f"/api/v1/pools/{pool_id}/policy", {"claim_limit": 5, "claim_limit_by_role": {"manager": 3}}
    )
    assert r.status_code == 200 and r.json()["claim_limit"] == 5
    change = ChangeLog.objects.get(tenant=org.tenant, action="pool.policy")
    assert change.before == {"claim_limit": 200, "claim_limit_by_role": {}}
    assert change.after == {"claim_limit": 5, "claim_limit_by_role": {"manager": 3}}
    assert [p["id"] for p in bd.get("/api/v1/pools").json()] == [pool_id]


def test_api_claim_release_ledger_expiring_and_lead_json(org, api_as, time_machine):
    time_machine.move_to(T0, tick=False)
    admin, bd1, bd2 = api_as(org.admin), api_as(org.bd1), api_as(org.bd2)
    lead = admin.post("/api/v1/leads", {"name": "喜茶", "branch_name": "三里屯店"}).json()
    assert lead["sea"] == "public" and lead["owner"] is None and lead["expires_at"] is None
    r = bd1.post(f"/api/v1/leads/{lead['id']}/claim")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["sea"] == "private" and body["owner"] == org.bd1.user_id
    assert body["expiry_clock"] == "no_visit" and body["expires_at"].startswith("2026-03-17T02:00")
    r = bd2.post(f"/api/v1/leads/{lead['id']}/claim")
    assert r.status_code == 409 and r.json()["error"]["code"] == "lead_not_available"
    assert str(org.bd1.user_id) not in r.content.decode().replace(str(lead["id"]), "")
    assert bd2.get(f"/api/v1/leads/{lead['id']}").status_code == 404  # bd1's private sea is not bd2's to read
    assert [x["id"] for x in bd1.get("/api/v1/leads", {"sea": "private"}).json()["items"]] == [lead["id"]]
    assert bd2.get("/api/v1/leads", {"sea": "private"}).json()["items"] == []
    team = api_as(org.lead_a).get("/api/v1/leads", {"sea": "private", "owner": str(org.bd1.user_id)}).json()
    assert [x["id"] for x in team["items"]] == [lead["id"]]
    time_machine.move_to(day(12.5), tick=False)
    expiring = bd1.get("/api/v1/me/expiring").json()
    assert [x["lead"]["id"] for x in expiring] == [lead["id"]]
    assert (
        expiring[0]["clock"] == "no_visit"
        and expiring[0]["since_days"] == 12
        and expiring[0]["left_days"] == 2
    )
    r = bd1.post(f"/api/v1/leads/{lead['id']}/release", {"reason": ""})
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    r = bd1.post(f"/api/v1/leads/{lead['id']}/release", {"reason": "联系不上"})
    assert r.status_code == 200 and r.json()["sea"] == "public"
    r = bd1.post(f"/api/v1/leads/{lead['id']}/claim")
    assert r.status_code == 409 and r.json()["error"]["code"] == "cooldown_active"
    ledger = bd1.get(f"/api/v1/leads/{lead['id']}/ledger").json()
    assert [e["action"] for e in ledger] == ["claim", "release"]
    assert ledger[1]["reason"] == "联系不上" and ledger[1]["from_owner"] == org.bd1.user_id


def test_api_limits_return_409_codes(org, api_as, time_machine):
    time_machine.move_to(T0, tick=False)
    set_policy(org, claim_limit=1)
    admin, bd1 = api_as(org.admin), api_as(org.bd1)
    a = admin.post("/api/v1/leads", {"name": "甲"}).json()
    b = admin.post("/api/v1/leads", {"name": "乙"}).json()
    assert bd1.post(f"/api/v1/leads/{a['id']}/claim").status_code == 200
    r = bd1.post(f"/api/v1/leads/{b['id']}/claim")
    assert r.status_code == 409 and r.json()["error"]["code"] == "claim_limit_reached"
    r = bd1.post(f"/api/v1/leads/{a['id']}/extend", {"days": 30})
    assert r.status_code == 409 and r.json()["error"]["code"] == "extension_not_allowed"
    r = bd1.post(f"/api/v1/leads/{a['id']}/lock")
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_supervisor"
    lead_a = api_as(org.lead_a)
    assert lead_a.post(f"/api/v1/leads/{a['id']}/lock").json()["locked"] is True
    r = lead_a.post(f"/api/v1/leads/{b['id']}/assign", {"user_id": org.bd2.user_id})
    assert r.status_code == 200 and r.json()["owner"] == org.bd2.user_id
    r = lead_a.post(f"/api/v1/leads/{b['id']}/transfer", {"user_id": org.bd1.user_id})
    assert r.status_code == 409 and r.json()["error"]["code"] == "claim_limit_reached"
    r = bd1.post(f"/api/v1/leads/{a['id']}/stage", {"stage": "won"})
    assert r.status_code == 200 and r.json()["status"] == "signed" and r.json()["expires_at"] is None
