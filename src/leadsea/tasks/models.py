"""Tasks: something a person must do, optionally about a lead (grown later by the strategy tasks)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from leadsea.core.models import TenantModel, tenant_unique


class Task(TenantModel):
    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("task status", "Open")  # "Open" alone is ambiguous to translators
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [tenant_unique("task")]
        indexes = [models.Index(fields=["tenant", "assignee", "status", "due_at"], name="task_assignee_idx")]
        ordering = ["due_at", "id"]

    def __str__(self) -> str:
        return self.title
