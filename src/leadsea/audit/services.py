"""Writing the change log; called inside the transaction of the change it records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadsea.audit.models import ChangeLog
from leadsea.core.middleware import current_request_id


def change_record(
    *,
    tenant: Any,
    actor: Any,
    action: str,
    obj: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> ChangeLog:
    return ChangeLog.objects.create(
        tenant=tenant,
        actor=actor,
        action=action,
        object_type=obj._meta.model_name,
        object_id=obj.pk,
        before=before,
        after=after,
        request_id=current_request_id() or "",
        created_at=now,
    )


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keep only what changed, so an update's audit row reads as a diff."""
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}
