"""The transactional outbox (one row per domain event), webhook endpoints and their deliveries, and the
plugins each tenant has turned on."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from leadsea.core.models import TenantModel, tenant_unique


class OutboxEvent(TenantModel):
    """A domain event, written in the transaction of the change it reports. The feed orders by (xact, id):
    on PostgreSQL `xact` is the writing transaction's id, so that a transaction that commits late cannot
    slip in behind a cursor (see selectors.events_feed); on SQLite writers are serialized and it stays 0.
    `dispatched_at` is set once the dispatcher has fanned the event out to webhooks."""

    type = models.CharField(max_length=60)
    payload = models.JSONField(encoder=DjangoJSONEncoder, default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    request_id = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    xact = models.BigIntegerField(default=0)

    class Meta:
        constraints = [tenant_unique("outboxevent")]
        indexes = [
            models.Index(fields=["tenant", "xact", "id"], name="outbox_feed_idx"),
            models.Index(fields=["tenant", "type", "xact", "id"], name="outbox_feed_type_idx"),
            # The dispatcher's queue: only the rows not fanned out yet are in this index.
            models.Index(fields=["id"], condition=Q(dispatched_at__isnull=True), name="outbox_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class WebhookEndpoint(TenantModel):
    """A URL of the tenant's that receives signed POSTs for the event types it subscribes to."""

    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100)
    event_types = models.JSONField(default=list)  # ["lead.created", ...] or ["*"]
    is_active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [tenant_unique("webhookendpoint")]

    def __str__(self) -> str:
        return self.url

    def accepts(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


class WebhookDelivery(TenantModel):
    """One event to one endpoint: its attempts, the last answer and when to try again."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed, will retry")
        DEAD = "dead", _("Dead")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            tenant_unique("webhookdelivery"),
            models.UniqueConstraint(
                fields=["tenant", "endpoint", "event"], name="delivery_endpoint_event_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "endpoint", "-id"], name="delivery_endpoint_log_idx"),
            # The worker's queue: due deliveries only.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "failed"]),
                name="delivery_due_idx",
            ),
        ]


class TenantPlugin(TenantModel):
    """An installed plugin turned on (or off) for one tenant, with its per-tenant settings."""

    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=False)
    settings = models.JSONField(default=dict)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            tenant_unique("tenantplugin"),
            models.UniqueConstraint(fields=["tenant", "name"], name="tenantplugin_name_uniq"),
        ]
