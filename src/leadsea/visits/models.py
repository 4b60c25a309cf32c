"""Contacts (KP) of a merchant, and visits: append-only check-ins, verified by distance to the store."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from leadsea.core.models import TenantModel, tenant_unique


class Contact(TenantModel):
    """A key person (KP) or other contact at a merchant."""

    # Indexed on its own too: deleting a lead cascades with WHERE lead_id IN (...), without the tenant.
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=50, blank=True)  # 老板, 店长, 经理, ...
    phones = models.JSONField(default=list, blank=True)  # E.164
    is_key_person = models.BooleanField(default=False)
    notes = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [tenant_unique("contact")]
        indexes = [models.Index(fields=["tenant", "lead"], name="contact_lead_idx")]
        ordering = ["-is_key_person", "id"]

    def __str__(self) -> str:
        return f"{self.name}（{self.role}）" if self.role else self.name


class Visit(TenantModel):
    """One check-in. Never edited: a correction is a new visit that names the one it corrects."""

    class Purpose(models.TextChoices):
        FIRST = "first", _("First visit")
        FOLLOW_UP = "follow_up", _("Follow-up")
        SIGNING = "signing", _("Signing")
        SERVICE = "service", _("Service and training")
        OTHER = "other", _("Other")

    class Outcome(models.TextChoices):
        MET_KP = "met_kp", _("Met the key person")
        NOT_MET = "not_met", _("Key person not met")
        INTERESTED = "interested", _("Interested")
        NOT_INTERESTED = "not_interested", _("Not interested")
        SIGNED = "signed", _("Signed")
        CLOSED = "closed", _("Store closed")
        OTHER = "other", _("Other")

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="visits")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits"
    )
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.FOLLOW_UP)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    notes = models.TextField(blank=True)
    next_step = models.CharField(max_length=300, blank=True)
    next_visit_at = models.DateTimeField(null=True, blank=True)  # a planned visit, on the to-do list
    lat = models.FloatField()  # WGS-84, converted from what the device gave
    lng = models.FloatField()
    coord_sys = models.CharField(max_length=8, default="wgs84")  # what the device gave
    accuracy_m = models.FloatField(null=True, blank=True)
    # gps: from the device's location service; manual: typed or picked by hand, which never verifies a visit.
    position_source = models.CharField(max_length=8, default="gps")
    distance_m = models.FloatField(null=True, blank=True)  # to the store; null when the store has no position
    radius_m = models.PositiveIntegerField()  # the tenant's visit radius at the time
    verified = models.BooleanField(default=False)
    photo = models.ImageField(upload_to="visits/%Y/%m/", null=True, blank=True)
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    visited_at = models.DateTimeField()

    class Meta:
        constraints = [tenant_unique("visit")]
        indexes = [
            models.Index(fields=["tenant", "lead", "-visited_at"], name="visit_lead_idx"),
            models.Index(fields=["tenant", "user", "-visited_at"], name="visit_user_idx"),
            models.Index(
                fields=["corrects"], name="visit_corrects_idx", condition=models.Q(corrects__isnull=False)
            ),
        ]
        ordering = ["-visited_at", "-id"]
