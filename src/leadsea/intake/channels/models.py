"""Worker state of the pulled and consumed intake sources: cursor, schedule and last outcome."""

from __future__ import annotations

from django.db import models

from leadsea.core.models import TenantModel, tenant_unique


class ChannelState(TenantModel):
    """One row per pull/queue source. The cursor is what the upstream gave last (a `since` value); it only
    moves forward after the records it covers are committed, so a crash re-reads, never skips."""

    source = models.ForeignKey("intake.IntakeSource", on_delete=models.CASCADE, related_name="+")
    cursor = models.CharField(max_length=500, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    runs = models.PositiveIntegerField(default=0)
    records_seen = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            tenant_unique("channelstate"),
            models.UniqueConstraint(fields=["tenant", "source"], name="channelstate_source_uniq"),
        ]
