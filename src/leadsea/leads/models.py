"""Leads: a POI (merchant store) or a brand that the field team works, with tags and custom fields."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from leadsea.core.models import TenantModel, tenant_unique


class Lead(TenantModel):
    class Kind(models.TextChoices):
        POI = "poi", _("Store (POI)")
        BRAND = "brand", _("Brand")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        FOLLOWING = "following", _("Following up")
        SIGNED = "signed", _("Signed")
        INVALID = "invalid", _("Invalid")

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.POI)
    name = models.CharField(max_length=200)
    branch_name = models.CharField(max_length=100, blank=True)
    category = models.CharField(max_length=100, blank=True)
    address = models.CharField(max_length=300, blank=True)
    province = models.CharField(max_length=50, blank=True)
    city = models.CharField(max_length=50, blank=True)
    district = models.CharField(max_length=50, blank=True)
    phone = models.CharField(max_length=20, blank=True)  # the primary phone, E.164
    phones = models.JSONField(default=list, blank=True)  # all phones, E.164, primary first
    lat = models.FloatField(null=True, blank=True)  # WGS-84
    lng = models.FloatField(null=True, blank=True)
    geo_cell = models.BigIntegerField(null=True, blank=True, editable=False)  # core.geo.cell_of(lat, lng)
    source_channel = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    owner = models.ForeignKey(  # indexed with the tenant in lead_tenant_owner_idx and lead_pool_owner_idx
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    custom_data = models.JSONField(default=dict, blank=True)
    # Pool state (the pools app maintains it). A lead is private while it has an owner and expires_at is null
    # (locked or signed) or in the future; once expires_at is past it reads as public even before the sweep.
    # Lookups go through the composite indexes below; a lead row is written on every claim, and each index
    # more is a write more.
    pool = models.ForeignKey("pools.Pool", on_delete=models.PROTECT, related_name="leads", db_index=False)
    stage = models.ForeignKey(
        "pipeline.Stage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_visit_at = models.DateTimeField(null=True, blank=True)  # last verified visit
    last_progress_at = models.DateTimeField(null=True, blank=True)  # last stage advance
    protection_until = models.DateTimeField(null=True, blank=True)  # claim + protection_days + extensions
    visit_due_at = models.DateTimeField(null=True, blank=True)  # no-visit clock deadline
    progress_due_at = models.DateTimeField(null=True, blank=True)  # no-progress clock deadline
    expires_at = models.DateTimeField(null=True, blank=True)  # the earliest of the three
    expiry_clock = models.CharField(max_length=12, blank=True)  # protection, no_visit or no_progress
    self_extensions_used = models.PositiveSmallIntegerField(default=0)
    extension_days = models.PositiveIntegerField(default=0)  # all granted extensions since the claim
    locked = models.BooleanField(default=False)
    signed_at = models.DateTimeField(null=True, blank=True)
    # Lower-cased, width-folded name + branch + address + phone digits: the `q` search is one LIKE on it.
    search_text = models.TextField(blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Set when intake merged this lead into another (intake.LeadMerge); merged leads are hidden everywhere
    # until the merge is undone.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        constraints = [tenant_unique("lead")]
        indexes = [
            models.Index(fields=["tenant", "owner", "-updated_at"], name="lead_tenant_owner_idx"),
            models.Index(fields=["tenant", "city", "-updated_at"], name="lead_tenant_city_idx"),
            models.Index(fields=["tenant", "status", "-updated_at"], name="lead_tenant_status_idx"),
            models.Index(fields=["tenant", "-updated_at"], name="lead_tenant_updated_idx"),
            models.Index(fields=["tenant", "pool", "owner", "expires_at"], name="lead_pool_owner_idx"),
            # Covers the nearby candidate query (leads.nearby.candidate_ids): answered from the index alone
            # (PostgreSQL needs the id in it for an index-only scan; SQLite has the rowid anyway).
            models.Index(
                fields=["tenant", "geo_cell", "lat", "lng", "pool", "owner", "expires_at", "id"],
                name="lead_nearby_idx",
                condition=models.Q(merged_into__isnull=True),
            ),
            models.Index(
                fields=["expires_at"], name="lead_expiring_idx", condition=models.Q(owner__isnull=False)
            ),
            # Deleting a lead checks the leads merged into it: without this, one scan of the table each.
            models.Index(
                fields=["merged_into"],
                name="lead_merged_into_idx",
                condition=models.Q(merged_into__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.branch_name}）" if self.branch_name else self.name

    @property
    def display_name(self) -> str:
        return str(self)


class LeadTag(TenantModel):
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="tag_rows")
    tag = models.CharField(max_length=50)

    class Meta:
        constraints = [
            tenant_unique("leadtag"),
            models.UniqueConstraint(fields=["tenant", "lead", "tag"], name="leadtag_uniq"),
        ]
        indexes = [models.Index(fields=["tenant", "tag", "lead"], name="leadtag_tenant_tag_idx")]
