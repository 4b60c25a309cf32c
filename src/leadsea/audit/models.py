"""The change log: one immutable row per change of a business object (NetBox ObjectChange)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from leadsea.core.models import TenantModel, tenant_unique


class ChangeLog(TenantModel):
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=40)
    object_id = models.BigIntegerField()
    before = models.JSONField(null=True)
    after = models.JSONField(null=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [tenant_unique("changelog")]
        indexes = [
            models.Index(
                fields=["tenant", "object_type", "object_id", "created_at"], name="changelog_object_idx"
            )
        ]
        ordering = ["-created_at", "-id"]
