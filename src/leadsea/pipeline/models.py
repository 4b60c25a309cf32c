"""Conversion: a tenant's ordered stages (open, won, lost), lost reasons, and a lead's opportunities."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from leadsea.core.models import TenantModel, tenant_unique


class Stage(TenantModel):
    class Kind(models.TextChoices):
        OPEN = "open", pgettext_lazy("stage kind", "Open")  # "Open" alone is ambiguous to translators
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    key = models.SlugField(max_length=40)
    name_zh = models.CharField(max_length=50)
    name_en = models.CharField(max_length=50, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OPEN)
    probability = models.PositiveSmallIntegerField(default=0)  # percent
    position = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            tenant_unique("stage"),
            models.UniqueConstraint(fields=["tenant", "key"], name="stage_tenant_key_uniq"),
        ]
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name_zh

    def label(self, language: str | None) -> str:
        return self.name_en if (language or "").startswith("en") and self.name_en else self.name_zh


class LostReason(TenantModel):
    key = models.SlugField(max_length=40)
    label_zh = models.CharField(max_length=100)
    label_en = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            tenant_unique("lostreason"),
            models.UniqueConstraint(fields=["tenant", "key"], name="lostreason_tenant_key_uniq"),
        ]

    def __str__(self) -> str:
        return self.label_zh


class Opportunity(TenantModel):
    """One negotiation with a merchant (first deal, renewal, ...); a lead may have several over its life."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="opportunities")
    name = models.CharField(max_length=200, blank=True)
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    lost_reason = models.ForeignKey(
        LostReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lost_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    stage_changed_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [tenant_unique("opportunity")]
        indexes = [models.Index(fields=["tenant", "lead", "closed_at"], name="opportunity_lead_idx")]

    @property
    def is_open(self) -> bool:
        return self.closed_at is None
