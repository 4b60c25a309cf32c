"""Writes on tasks: a supervisor assigns to their subtree (anyone may add their own), the assignee closes."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from leadsea.audit.services import change_record
from leadsea.core import clock
from leadsea.core.errors import Conflict, FieldInvalid, Forbidden, NotFound
from leadsea.leads.normalize import clean_text
from leadsea.tasks.models import Task
from leadsea.tenancy.models import Membership, Tenant
from leadsea.tenancy.selectors import member_in_scope


@transaction.atomic
def task_create(
    *,
    tenant: Tenant,
    actor: Membership,
    title: str,
    assignee_id: int | None = None,
    description: str = "",
    lead_id: int | None = None,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> Task:
    from leadsea.leads.selectors import lead_get

    now = now or clock.now()
    title = clean_text(title)
    if not title:
        raise FieldInvalid(_("title is required."), code="required", field="title")
    if len(title) > 200:
        raise FieldInvalid(_("title is longer than 200 characters."), field="title")
    assignee_id = assignee_id or actor.user_id
    if member_in_scope(tenant=tenant, actor=actor, user_id=assignee_id) is None:
        raise FieldInvalid(
            _("You may assign tasks to yourself and your org subtree."),
            code="invalid_assignee",
            field="assignee_id",
        )
    lead = lead_get(tenant=tenant, membership=actor, lead_id=lead_id, now=now) if lead_id else None
    task = Task.objects.create(
        tenant=tenant,
        title=title,
        description=(description or "").strip()[:5000],
        assignee_id=assignee_id,
        lead=lead,
        due_at=due_at,
        created_by=actor.user,
        created_at=now,
    )
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="task.create",
        obj=task,
        before=None,
        after={
            "title": title,
            "assignee": assignee_id,
            "lead": lead_id,
            "due_at": due_at.isoformat() if due_at else None,
        },
        now=now,
    )
    return task


@transaction.atomic
def task_complete(
    *,
    tenant: Tenant,
    actor: Membership,
    task_id: int,
    result: str = "",
    cancel: bool = False,
    now: datetime | None = None,
) -> Task:
    now = now or clock.now()
    task = Task.objects.select_for_update().filter(tenant=tenant, pk=task_id).first()
    if task is None or (
        task.assignee_id != actor.user_id
        and task.created_by_id != actor.user_id
        and member_in_scope(tenant=tenant, actor=actor, user_id=task.assignee_id) is None
    ):
        raise NotFound(_("Task not found."), code="task_not_found")
    if task.status != Task.Status.OPEN:
        raise Conflict(_("This task is closed already."), code="task_closed")
    if cancel and task.created_by_id != actor.user_id and actor.role == Membership.Role.BD:
        raise Forbidden(_("Only whoever gave the task may cancel it."))
    task.status = Task.Status.CANCELLED if cancel else Task.Status.DONE
    task.done_at, task.result = now, (result or "").strip()[:500]
    task.save()
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="task.cancel" if cancel else "task.done",
        obj=task,
        before={"status": "open"},
        after={"status": task.status, "result": task.result},
        now=now,
    )
    return task
