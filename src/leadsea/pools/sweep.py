"""The automatic drop: set-based SQL that moves every private lead past its deadline back to the public sea
and writes a ledger row for each, in batches, idempotent, safe beside user actions and other sweeps.

PostgreSQL: one statement per batch (SELECT ... FOR UPDATE SKIP LOCKED -> UPDATE -> INSERT outbox, ledger),
so a lead that a visit or claim holds locked is skipped and looked at again by the next sweep, and the drop,
its ledger row and its lead.dropped event commit together. SQLite: one write transaction per batch (writers
are serialized), the ledger and outbox INSERT ... SELECT and the UPDATE use the same predicate and see the
same rows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from leadsea.core import clock
from leadsea.core.tenancy_guard import unscoped
from leadsea.events.models import OutboxEvent, TenantPlugin
from leadsea.leads.models import Lead
from leadsea.pools.models import LedgerEntry

LEAD = Lead._meta.db_table
LEDGER = LedgerEntry._meta.db_table
OUTBOX = OutboxEvent._meta.db_table
_CLEAR = """owner_id = NULL, claimed_at = NULL, protection_until = NULL, visit_due_at = NULL,
    progress_due_at = NULL, expires_at = NULL, expiry_clock = '', self_extensions_used = 0,
    extension_days = 0, locked = FALSE, updated_at = %(now)s"""
_DUE = "owner_id IS NOT NULL AND expires_at <= %(now)s"

_PG = f"""
WITH due AS (
    SELECT id, tenant_id, pool_id, owner_id, expiry_clock, expires_at, claimed_at, last_visit_at,
           last_progress_at, extension_days
    FROM {LEAD} WHERE {_DUE} ORDER BY expires_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED
), dropped AS (
    UPDATE {LEAD} l SET {_CLEAR} FROM due WHERE l.id = due.id
    RETURNING due.*
), events AS (
    INSERT INTO {OUTBOX} (tenant_id, type, payload, actor_id, request_id, occurred_at, xact)
    SELECT tenant_id, 'lead.dropped',
           jsonb_build_object('lead_id', id, 'pool_id', pool_id, 'action', 'drop', 'from_owner_id', owner_id,
                              'to_owner_id', NULL, 'reason', expiry_clock, 'expires_at', NULL),
           NULL, %(request_id)s, %(now)s, pg_current_xact_id()::text::bigint
    FROM dropped ORDER BY id
)
INSERT INTO {LEDGER} (tenant_id, lead_id, pool_id, action, actor_id, from_owner_id, to_owner_id, reason,
                      clocks, request_id, created_at)
SELECT tenant_id, id, pool_id, 'drop', NULL, owner_id, NULL, expiry_clock,
       jsonb_build_object('expired_at', expires_at, 'expiry_clock', expiry_clock, 'claimed_at', claimed_at,
                          'last_visit_at', last_visit_at, 'last_progress_at', last_progress_at,
                          'extension_days', extension_days, 'expires_at', NULL),
       %(request_id)s, %(now)s
FROM dropped
"""

_SQLITE_PICK = (
    f"CREATE TEMP TABLE sweep_due AS SELECT id FROM {LEAD} WHERE {_DUE} ORDER BY expires_at LIMIT %(batch)s"
)
_SQLITE_LEDGER = f"""
INSERT INTO {LEDGER} (tenant_id, lead_id, pool_id, action, actor_id, from_owner_id, to_owner_id, reason,
                      clocks, request_id, created_at)
SELECT tenant_id, id, pool_id, 'drop', NULL, owner_id, NULL, expiry_clock,
       json_object('expired_at', expires_at, 'expiry_clock', expiry_clock, 'claimed_at', claimed_at,
                   'last_visit_at', last_visit_at, 'last_progress_at', last_progress_at,
                   'extension_days', extension_days, 'expires_at', NULL),
       %(request_id)s, %(now)s
FROM {LEAD} WHERE id IN (SELECT id FROM temp.sweep_due) ORDER BY id
"""
# The lead.dropped events (see events.services.ownership_payload), before the UPDATE clears the owner.
_SQLITE_OUTBOX = f"""
INSERT INTO {OUTBOX} (tenant_id, type, payload, actor_id, request_id, occurred_at, xact)
SELECT tenant_id, 'lead.dropped',
       json_object('lead_id', id, 'pool_id', pool_id, 'action', 'drop', 'from_owner_id', owner_id,
                   'to_owner_id', NULL, 'reason', expiry_clock, 'expires_at', NULL),
       NULL, %(request_id)s, %(now)s, 0
FROM {LEAD} WHERE id IN (SELECT id FROM temp.sweep_due) ORDER BY id
"""
_SQLITE_UPDATE = f"UPDATE {LEAD} SET {_CLEAR} WHERE id IN (SELECT id FROM temp.sweep_due)"


@dataclass
class SweepResult:
    dropped: int
    batches: int
    seconds: float


def _run_plugin_handlers(request_id: str) -> None:
    """The drops were written in SQL, not through emit(): hand this batch's events to the plugins of the
    tenants that turned one on, now that the batch has committed."""
    from leadsea.events import plugins

    if not plugins.installed():
        return
    with unscoped():
        tenant_ids = list(
            TenantPlugin.objects.filter(enabled=True, name__in=list(plugins.installed()))
            .values_list("tenant_id", flat=True)
            .distinct()
        )
    if not tenant_ids:
        return
    events = OutboxEvent.objects.filter(
        tenant_id__in=tenant_ids, type="lead.dropped", request_id=request_id
    ).order_by("id")
    for e in events:
        plugins.run_handlers(
            plugins.DomainEvent(
                id=e.pk,
                tenant_id=e.tenant_id,
                type=e.type,
                payload=e.payload,
                actor_id=None,
                occurred_at=e.occurred_at,
                request_id=e.request_id,
            )
        )


def sweep(*, as_of: datetime | None = None, batch: int = 20000) -> SweepResult:
    """Drop every private lead whose expires_at is at or before `as_of` (default: now), across tenants."""
    now = as_of or clock.now()
    started = time.perf_counter()
    total = batches = 0
    params_now = connection.ops.adapt_datetimefield_value(now)
    with unscoped():  # the sweep is cross-tenant by design; it touches only leads past their deadline
        while True:
            batches += 1
            request_id = f"sweep:{time.time_ns()}"
            params = {"now": params_now, "batch": batch, "request_id": request_id}
            with transaction.atomic(), connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute(_PG, params)
                    n = cursor.rowcount
                else:  # the write transaction (BEGIN IMMEDIATE) keeps other writers out until commit
                    cursor.execute("DROP TABLE IF EXISTS temp.sweep_due")
                    cursor.execute(_SQLITE_PICK, params)
                    cursor.execute(_SQLITE_LEDGER, params)
                    n = cursor.rowcount
                    cursor.execute(_SQLITE_OUTBOX, params)
                    cursor.execute(_SQLITE_UPDATE, params)
                    cursor.execute("DROP TABLE temp.sweep_due")
            total += max(n, 0)
            if n > 0:
                _run_plugin_handlers(request_id)
            if n < batch:
                break
    return SweepResult(dropped=total, batches=batches, seconds=time.perf_counter() - started)
