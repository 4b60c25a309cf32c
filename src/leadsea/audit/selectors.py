"""Reading the change log of one object."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from leadsea.audit.models import ChangeLog


def changes_for(*, tenant: Any, object_type: str, object_id: int, limit: int = 100) -> QuerySet[ChangeLog]:
    return (
        ChangeLog.objects.filter(tenant=tenant, object_type=object_type, object_id=object_id)
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )
