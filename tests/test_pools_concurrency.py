"""Pool limits and ownership under parallel requests: real threads on PostgreSQL, one connection each."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from conftest import build_org
from leadsea.core.errors import DomainError
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_create
from leadsea.pools import services as pools
from leadsea.pools.models import LedgerEntry
from leadsea.pools.selectors import default_pool
from leadsea.pools.sweep import sweep
from leadsea.tenancy.services import user_create

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def in_threads(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run fn(0..n-1) in n threads released together; each thread closes its own connection."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return fn(i)
        except DomainError as exc:
            return exc.code
        finally:
            connection.close()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def leads(org, n: int) -> list[Lead]:
    return [
        lead_create(tenant=org.tenant, actor=org.admin, data={"name": f"店{i}"}, now=T0) for i in range(n)
    ]


def assert_ledger_replays(org) -> None:
    for lead in Lead.objects.filter(tenant=org.tenant):
        owner = None
        for entry in LedgerEntry.objects.filter(tenant=org.tenant, lead=lead).order_by("id"):
            assert entry.from_owner_id == owner
            owner = entry.to_owner_id
        assert owner == lead.owner_id


def test_sixteen_clients_claiming_one_lead_give_exactly_one_owner():
    org = build_org("race", "并发")
    bds = [
        user_create(
            tenant=org.tenant,
            username=f"race-x{i}",
            password="correct-horse-9",
            role="bd",
            org_unit=org.team_a,
        )
        for i in range(16)
    ]
    (lead,) = leads(org, 1)
    results = in_threads(
        16, lambda i: pools.lead_claim(tenant=org.tenant, actor=bds[i], lead_id=lead.pk, now=T0) and "ok"
    )
    assert Counter(results) == {"ok": 1, "lead_not_available": 15}
    winner = bds[results.index("ok")]
    assert Lead.objects.get(tenant=org.tenant, pk=lead.pk).owner_id == winner.user_id
    assert LedgerEntry.objects.filter(tenant=org.tenant, lead=lead, action="claim").count() == 1
    assert_ledger_replays(org)


def test_one_bd_claiming_in_parallel_never_exceeds_claim_limit():
    org = build_org("limit", "上限")
    pools.pool_policy_update(
        tenant=org.tenant,
        actor=org.admin,
        pool=default_pool(tenant=org.tenant),
        policy={"claim_limit": 5},
        now=T0,
    )
    for round_ in range(4):  # several rounds, each a fresh BD: a race has many chances to show
        bd = user_create(
            tenant=org.tenant,
            username=f"limit-r{round_}",
            password="correct-horse-9",
            role="bd",
            org_unit=org.team_a,
        )
        targets = leads(org, 24)
        results = in_threads(
            24,
            lambda i, bd=bd, targets=targets: (
                pools.lead_claim(tenant=org.tenant, actor=bd, lead_id=targets[i].pk, now=T0) and "ok"
            ),
        )
        assert Counter(results) == {"ok": 5, "claim_limit_reached": 19}
        assert Lead.objects.filter(tenant=org.tenant, owner_id=bd.user_id).count() == 5
    assert_ledger_replays(org)


def test_one_bd_claiming_in_parallel_never_exceeds_daily_limit():
    org = build_org("daily", "每日")
    pools.pool_policy_update(
        tenant=org.tenant,
        actor=org.admin,
        pool=default_pool(tenant=org.tenant),
        policy={"daily_claim_limit": 4},
        now=T0,
    )
    targets = leads(org, 16)
    results = in_threads(
        16,
        lambda i: pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=targets[i].pk, now=T0) and "ok",
    )
    assert Counter(results) == {"ok": 4, "daily_claim_limit_reached": 12}


def test_a_sweep_racing_visits_never_drops_a_lead_just_visited():
    org = build_org("sweeprace", "清扫")
    pools.pool_policy_update(
        tenant=org.tenant,
        actor=org.admin,
        pool=default_pool(tenant=org.tenant),
        policy={"claim_limit": 1000, "daily_claim_limit": 1000},
        now=T0,
    )
    targets = leads(org, 60)
    for lead in targets:
        pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    deadline = T0 + timedelta(days=15)
    just_before = deadline - timedelta(minutes=1)
    seen: dict[int, int | None] = {}

    def work(i: int) -> Any:
        if i == 0:  # the visitor: checks in at each store one minute before its deadline
            for lead in targets:
                visited = pools.lead_visited(
                    tenant=org.tenant,
                    lead_id=lead.pk,
                    user_id=org.bd1.user_id,
                    visited_at=just_before,
                    now=just_before,
                )
                seen[lead.pk] = visited.owner_id
            return "visits"
        total = 0  # the sweepers: run as of the deadline, in small batches, again and again
        for _ in range(20):
            total += sweep(as_of=deadline, batch=3).dropped
        return total

    results = in_threads(3, work)
    for lead in Lead.objects.filter(tenant=org.tenant):
        # A visit that found the lead still owned protected it; the sweep never dropped it after that.
        assert lead.owner_id == seen[lead.pk]
        if seen[lead.pk] is not None:
            assert lead.expires_at == just_before + timedelta(days=15)
    dropped = LedgerEntry.objects.filter(tenant=org.tenant, action="drop").count()
    assert dropped == results[1] + results[2] == sum(1 for v in seen.values() if v is None)
    assert_ledger_replays(org)


def test_parallel_sweeps_drop_each_lead_once():
    org = build_org("sweeps", "并发清扫")
    pools.pool_policy_update(
        tenant=org.tenant,
        actor=org.admin,
        pool=default_pool(tenant=org.tenant),
        policy={"claim_limit": 1000, "daily_claim_limit": 1000},
        now=T0,
    )
    for lead in leads(org, 120):
        pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    results = in_threads(4, lambda i: sweep(as_of=T0 + timedelta(days=16), batch=7).dropped)
    assert sum(results) == 120
    assert LedgerEntry.objects.filter(tenant=org.tenant, action="drop").count() == 120
    assert_ledger_replays(org)
