"""The to-do center: leads about to drop, planned visits, open tasks, with their counts for badges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from leadsea.core import clock
from leadsea.leads.models import Lead
from leadsea.pools.selectors import expiring_for
from leadsea.tasks.models import Task
from leadsea.visits.models import Visit


@dataclass
class Todo:
    expiring: list[Lead]
    planned_visits: list[Visit]
    tasks: list[Task]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "expiring": len(self.expiring),
            "planned_visits": len(self.planned_visits),
            "tasks": len(self.tasks),
            "total": len(self.expiring) + len(self.planned_visits) + len(self.tasks),
        }


def open_tasks(*, tenant: Any, user_id: int) -> QuerySet[Task]:
    return Task.objects.filter(tenant=tenant, assignee_id=user_id, status=Task.Status.OPEN).select_related(
        "lead"
    )


def planned_visits(*, tenant: Any, user_id: int, now: datetime, within_days: int = 7) -> QuerySet[Visit]:
    """My visits that planned a next one (up to `within_days` ahead, or overdue) with no visit since."""
    later = Visit.objects.filter(
        tenant=tenant, lead_id=OuterRef("lead_id"), user_id=user_id, visited_at__gt=OuterRef("visited_at")
    )
    return (
        Visit.objects.filter(
            tenant=tenant,
            user_id=user_id,
            next_visit_at__isnull=False,
            next_visit_at__lte=now + timedelta(days=within_days),
        )
        .filter(~Exists(later))
        .select_related("lead")
        .order_by("next_visit_at")
    )


def todo_for(*, tenant: Any, user_id: int, now: datetime | None = None) -> Todo:
    now = now or clock.now()
    return Todo(
        expiring=list(expiring_for(tenant=tenant, user_id=user_id, now=now)[:200]),
        planned_visits=list(planned_visits(tenant=tenant, user_id=user_id, now=now)[:200]),
        tasks=list(open_tasks(tenant=tenant, user_id=user_id)[:200]),
    )
