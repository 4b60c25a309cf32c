"""Hand-written SQL for the claim, the hottest write of the product: the ORM spent more time building these
statements than the database spent running them. Each function does what its ORM twin would, no more."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connection

from leadsea.core.middleware import current_request_id
from leadsea.leads.models import Lead
from leadsea.pools.models import LedgerEntry

LEAD = Lead._meta.db_table
LEDGER = LedgerEntry._meta.db_table
_WANTED = (
    "id",
    "tenant_id",
    "pool_id",
    "status",
    "owner_id",
    "claimed_at",
    "last_visit_at",
    "last_progress_at",
    "protection_until",
    "visit_due_at",
    "progress_due_at",
    "expires_at",
    "expiry_clock",
    "self_extensions_used",
    "extension_days",
    "locked",
    "signed_at",
    "updated_at",
)
# from_db() takes the values in the model's field order
_LOCK_FIELDS = tuple(f.attname for f in Lead._meta.concrete_fields if f.attname in _WANTED)
_DATETIMES = {f.attname for f in Lead._meta.concrete_fields if f.get_internal_type() == "DateTimeField"}


def lock_lead(tenant_id: int, lead_id: int) -> Lead | None:
    """The lead's pool state, row-locked (SELECT ... FOR UPDATE; on SQLite the IMMEDIATE transaction already
    keeps other writers out). Other columns are deferred: the claim path does not read them."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_LOCK_FIELDS)} FROM {LEAD} WHERE tenant_id = %s AND id = %s{lock}",
            [tenant_id, lead_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    if connection.vendor == "sqlite":  # SQLite gives text and integers back
        convert = connection.ops.convert_datetimefield_value  # type: ignore[attr-defined]
        values = [
            convert(v, None, connection) if name in _DATETIMES and v is not None else v
            for name, v in zip(_LOCK_FIELDS, values, strict=True)
        ]
        values[_LOCK_FIELDS.index("locked")] = bool(values[_LOCK_FIELDS.index("locked")])
    return Lead.from_db(connection.alias, list(_LOCK_FIELDS), values)


_POOL_STATE = (
    "owner_id",
    "claimed_at",
    "protection_until",
    "visit_due_at",
    "progress_due_at",
    "expires_at",
    "expiry_clock",
    "self_extensions_used",
    "extension_days",
    "locked",
    "updated_at",
)


def save_pool_state(lead: Lead) -> None:
    """UPDATE only the pool-state columns of the lead (what lead.save(update_fields=...) would write)."""
    adapt = connection.ops.adapt_datetimefield_value
    values = [adapt(v) if isinstance(v, datetime) else v for v in (getattr(lead, a) for a in _POOL_STATE)]
    sets = ", ".join(f"{a} = %s" for a in _POOL_STATE)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {LEAD} SET {sets} WHERE tenant_id = %s AND id = %s", [*values, lead.tenant_id, lead.pk]
        )


def insert_ledger(
    *,
    lead: Lead,
    action: str,
    actor_id: int | None,
    from_owner: int | None,
    to_owner: int | None,
    reason: str,
    clocks: dict[str, Any],
    now: datetime,
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LEDGER} (tenant_id, lead_id, pool_id, action, actor_id, from_owner_id, "
            "to_owner_id, reason, clocks, request_id, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                lead.tenant_id,
                lead.pk,
                lead.pool_id,
                action,
                actor_id,
                from_owner,
                to_owner,
                reason[:300],
                json.dumps(clocks),
                current_request_id() or "",
                connection.ops.adapt_datetimefield_value(now),
            ],
        )
