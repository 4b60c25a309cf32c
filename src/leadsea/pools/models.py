"""Pools (public seas), their members and policy, per-user quota rows, and the append-only ledger."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from leadsea.core.models import TenantModel, tenant_unique


class Pool(TenantModel):
    """A public sea (per city or business line). Its policy columns are the pool rules, defaults in brackets
    of DESIGN.md; every rule is a setting here, never a constant in code."""

    name = models.CharField(max_length=100)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    # Policy
    claim_limit = models.PositiveIntegerField(default=200)
    claim_limit_by_role = models.JSONField(default=dict, blank=True)  # {"manager": 50}: overrides per role
    daily_claim_limit = models.PositiveIntegerField(default=50)
    reclaim_cooldown_days = models.PositiveIntegerField(default=7)
    protection_days = models.PositiveIntegerField(default=45)
    no_visit_days = models.PositiveIntegerField(default=15)
    no_progress_days = models.PositiveIntegerField(default=30)
    max_self_extensions = models.PositiveIntegerField(default=1)
    self_extension_days = models.PositiveIntegerField(default=15)
    lock_limit = models.PositiveIntegerField(default=20)
    remind_days_before = models.PositiveIntegerField(default=3)
    assign_counts_toward_limit = models.BooleanField(default=True)
    policy_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            tenant_unique("pool"),
            models.UniqueConstraint(fields=["tenant", "name"], name="pool_tenant_name_uniq"),
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(is_default=True), name="pool_one_default_per_tenant"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def limit_for(self, role: str) -> int:
        value = self.claim_limit_by_role.get(role)
        return int(value) if value is not None else self.claim_limit


POLICY_FIELDS = (
    "claim_limit",
    "claim_limit_by_role",
    "daily_claim_limit",
    "reclaim_cooldown_days",
    "protection_days",
    "no_visit_days",
    "no_progress_days",
    "max_self_extensions",
    "self_extension_days",
    "lock_limit",
    "remind_days_before",
    "assign_counts_toward_limit",
)


class PoolMember(TenantModel):
    """Who belongs to a pool: an org unit (with its whole subtree) or one user; admins edit its policy."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="members")
    org_unit = models.ForeignKey(
        "tenancy.OrgUnit", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    is_admin = models.BooleanField(default=False)

    class Meta:
        constraints = [
            tenant_unique("poolmember"),
            models.CheckConstraint(
                condition=models.Q(org_unit__isnull=False) | models.Q(user__isnull=False),
                name="poolmember_unit_or_user",
            ),
        ]


class PoolQuota(TenantModel):
    """One row per (pool, user): locked FOR UPDATE by every operation that gives this user a lead, so that
    one user's claims serialize and the claim limits hold under parallel requests."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            tenant_unique("poolquota"),
            models.UniqueConstraint(fields=["tenant", "pool", "user"], name="poolquota_uniq"),
        ]


class LedgerEntry(TenantModel):
    """An immutable row per ownership operation. Replaying a lead's rows in id order gives its owner."""

    class Action(models.TextChoices):
        CLAIM = "claim", _("Claim")
        RELEASE = "release", _("Release")
        ASSIGN = "assign", _("Assign")
        TRANSFER = "transfer", _("Transfer")
        EXTEND = "extend", _("Extend")
        LOCK = "lock", _("Lock")
        UNLOCK = "unlock", _("Unlock")
        DROP = "drop", _("Drop")
        SIGN = "sign", _("Sign")

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="ledger")
    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    clocks = models.JSONField(default=dict)  # the lead's deadlines and binding clock after the operation
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [tenant_unique("ledgerentry")]
        indexes = [
            models.Index(fields=["tenant", "lead", "id"], name="ledger_lead_idx"),
            models.Index(
                fields=["tenant", "pool", "to_owner", "action", "created_at"], name="ledger_daily_idx"
            ),
            models.Index(fields=["tenant", "lead", "from_owner", "created_at"], name="ledger_cooldown_idx"),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Ledger entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("Ledger entries are append-only.")
