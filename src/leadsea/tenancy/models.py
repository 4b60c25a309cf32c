"""Tenants, their org tree (HQ > region > city > team), user memberships with roles, and API tokens."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from leadsea.core.models import TenantModel, tenant_unique


class Tenant(models.Model):
    """A business line (group buying, hotel, ...) with its own data, configuration and people."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    default_language = models.CharField(max_length=10, choices=settings.LANGUAGES, default="zh-hans")
    time_zone = models.CharField(max_length=64, default="Asia/Shanghai")
    # A check-in within this distance of the store is a verified visit (it resets the no-visit clock).
    visit_radius_m = models.PositiveIntegerField(default=300)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.slug


class OrgUnit(TenantModel):
    class Kind(models.TextChoices):
        HQ = "hq", _("HQ")
        REGION = "region", _("Region")
        CITY = "city", _("City")
        TEAM = "team", _("Team")

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # Materialized path of ids ("/1/4/9/") so that a subtree is one indexed prefix match.
    path = models.CharField(max_length=500, db_index=True, editable=False)

    class Meta:
        constraints = [
            tenant_unique("orgunit"),
            models.UniqueConstraint(fields=["tenant", "parent", "name"], name="orgunit_sibling_name_uniq"),
        ]
        indexes = [models.Index(fields=["tenant", "path"], name="orgunit_tenant_path_idx")]

    def __str__(self) -> str:
        return self.name


class Membership(TenantModel):
    """A person's place in one tenant: role and org unit. A person may belong to several tenants."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Administrator")
        HQ = "hq", _("HQ")
        MANAGER = "manager", _("Manager")
        BD = "bd", _("BD")
        OPS = "ops", _("Operations")
        CROWD = "crowd", _("Crowdsourcing")  # may only submit stores (intake); sees no lead, no pool

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    org_unit = models.ForeignKey(
        OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    display_name = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            tenant_unique("membership"),
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_tenant_user_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant_id} ({self.role})"

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_username()

    @property
    def sees_whole_tenant(self) -> bool:
        return self.role in (self.Role.ADMIN, self.Role.HQ)


class ApiToken(TenantModel):
    """A bearer token for the REST API; only its SHA-256 is stored. Revoked tokens stay for the record."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [tenant_unique("apitoken")]
