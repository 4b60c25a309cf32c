"""Pool engine: claims per second with concurrent clients, limit violations, and the sweep of many leads.

Figures: claims_per_s (successful claims per second of wall time with --clients processes claiming at
random from a shared public sea, each BD running into claim_limit), violations (BDs over claim_limit or the
daily limit, leads whose ledger does not replay to their owner; must be 0), sweep_seconds (one sweep of
--sweep-leads private leads of which --sweep-expired are past their deadline)."""

from __future__ import annotations

import multiprocessing as mp
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import connection, connections

from leadsea.bench.common import analyze, bench_tenant, drop_tenant, insert_leads, prepare_database
from leadsea.core import clock
from leadsea.core.errors import DomainError
from leadsea.core.tenancy_guard import unscoped
from leadsea.leads.models import Lead
from leadsea.pools.models import LedgerEntry
from leadsea.pools.selectors import default_pool
from leadsea.pools.services import lead_claim, pool_policy_update
from leadsea.pools.sweep import sweep
from leadsea.tenancy.models import Membership


def add_arguments(parser: Any) -> None:
    parser.add_argument("--clients", type=int, default=8, help="concurrent claiming processes (default 8)")
    parser.add_argument("--attempts", type=int, default=500, help="claim attempts per client (default 500)")
    parser.add_argument("--claim-limit", type=int, default=400, help="the pool's claim_limit during the run")
    parser.add_argument("--public", type=int, default=20000, help="public leads to claim from")
    parser.add_argument("--sweep-leads", type=int, default=1_000_000)
    parser.add_argument("--sweep-expired", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark tenant afterwards")


def _client(
    tenant_id: int, member_id: int, lead_ids: list[int], attempts: int, seed: int, start: Any, out: Any
) -> None:
    from leadsea.tenancy.models import Tenant

    tenant = Tenant.objects.get(pk=tenant_id)
    member = Membership.objects.select_related("org_unit", "user").get(tenant=tenant, pk=member_id)
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    start.wait()
    began, cpu = time.perf_counter(), time.process_time()
    for _ in range(attempts):
        try:
            lead_claim(tenant=tenant, actor=member, lead_id=rng.choice(lead_ids))
            counts["ok"] += 1
        except DomainError as exc:
            counts[exc.code] += 1
    out.put((dict(counts), time.perf_counter() - began, time.process_time() - cpu))
    connection.close()


def _claims(
    tenant: Any, members: list[Membership], pool: Any, options: dict[str, Any], log: Callable[[str], None]
) -> dict[str, Any]:
    now = clock.now()
    insert_leads(tenant=tenant, pool_id=pool.pk, n=options["public"], now=now, name_prefix="公海店")
    analyze()  # as autovacuum would after a bulk load: the planner must know the new tenant's rows
    with unscoped():
        lead_ids = list(Lead.objects.filter(tenant=tenant, owner__isnull=True).values_list("id", flat=True))
    clients = options["clients"]
    ctx = mp.get_context("fork")
    start, out = ctx.Barrier(clients + 1), ctx.Queue()
    connections.close_all()  # children open their own connections
    procs = [
        ctx.Process(
            target=_client,
            args=(tenant.pk, members[i % len(members)].pk, lead_ids, options["attempts"], i, start, out),
        )
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    start.wait()
    began = time.perf_counter()
    results = [out.get(timeout=600) for _ in procs]
    wall = time.perf_counter() - began
    for p in procs:
        p.join(timeout=60)
    total: Counter[str] = Counter()
    for counts, _, _ in results:
        total.update(counts)
    client_cpu = sum(r[2] for r in results)
    log(
        f"claims: {dict(total)} in {wall:.2f}s; client CPU {client_cpu:.2f}s "
        f"({client_cpu / max(1, sum(total.values())) * 1000:.2f} ms per attempt)"
    )
    return {
        "claims": total["ok"],
        "claim_attempts": sum(total.values()),
        "claim_seconds": round(wall, 3),
        "claims_per_s": round(total["ok"] / wall, 1),
        "attempts_per_s": round(sum(total.values()) / wall, 1),
        "outcomes": dict(total),
    }


def _violations(tenant: Any, pool: Any, members: list[Membership]) -> int:
    """BDs over a limit, and leads whose ledger does not replay to their current owner."""
    bad = 0
    now = clock.now()
    with unscoped():
        for m in members:
            held = Lead.objects.filter(tenant=tenant, owner_id=m.user_id, expires_at__gt=now).count()
            claimed = LedgerEntry.objects.filter(tenant=tenant, actor_id=m.user_id, action="claim").count()
            bad += int(held > pool.limit_for(m.role)) + int(claimed > pool.daily_claim_limit)
        owners = dict(Lead.objects.filter(tenant=tenant).values_list("id", "owner_id"))
        replay: dict[int, int | None] = {}
        for lead_id, from_owner, to_owner in (
            LedgerEntry.objects.filter(tenant=tenant)
            .order_by("id")
            .values_list("lead_id", "from_owner_id", "to_owner_id")
        ):
            bad += int(replay.get(lead_id) != from_owner)
            replay[lead_id] = to_owner
        bad += sum(1 for lead_id, owner in replay.items() if owners.get(lead_id) != owner)
    return bad


def _sweep(
    tenant: Any, pool: Any, members: list[Membership], options: dict[str, Any], log: Callable[[str], None]
) -> dict[str, Any]:
    n, expired = options["sweep_leads"], options["sweep_expired"]
    if n <= 0:
        return {}
    now = clock.now()
    every = max(1, n // max(1, expired)) if expired else 0
    began = time.perf_counter()
    insert_leads(
        tenant=tenant,
        pool_id=pool.pk,
        n=n,
        owners=[m.user_id for m in members],
        now=now,
        expired_every=every,
        claimed_at=now - timedelta(days=20),
        expires_ok=now + timedelta(days=5),
        expires_past=now - timedelta(days=1),
        name_prefix="私海店",
    )
    log(f"inserted {n} private leads in {time.perf_counter() - began:.1f}s")
    analyze()
    expected = n // every if every else 0
    result = sweep(as_of=now)
    log(f"sweep: dropped {result.dropped} in {result.seconds:.2f}s ({result.batches} batches)")
    return {
        "sweep_leads": n,
        "sweep_expired": expected,
        "sweep_dropped": result.dropped,
        "sweep_seconds": round(result.seconds, 2),
        "sweep_ok": result.dropped == expected,
    }


def run(options: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    prepare_database()
    tenant, _team, members, admin = bench_tenant("bench-pool", max(1, options["clients"]))
    pool = default_pool(tenant=tenant)
    pool = pool_policy_update(
        tenant=tenant,
        actor=admin,
        pool=pool,
        policy={"claim_limit": options["claim_limit"], "daily_claim_limit": options["attempts"] * 2},
    )
    try:
        figures: dict[str, Any] = {
            "benchmark": "pool",
            "backend": connection.vendor,
            "clients": options["clients"],
        }
        figures.update(_claims(tenant, members, pool, options, log))
        figures["violations"] = _violations(tenant, pool, members)
        figures.update(_sweep(tenant, pool, members, options, log))
        return figures
    finally:
        if not options["keep"]:
            drop_tenant(tenant, log)
