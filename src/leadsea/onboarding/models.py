"""Per-tenant page configuration: which modules a tenant turns on and which sections its lead page shows."""

from __future__ import annotations

from django.db import models

from leadsea.core.models import TenantModel, tenant_unique


class PageConfig(TenantModel):
    """One row per tenant (absent = everything on). Keys missing from the JSON maps are on, so a module or
    section added later appears for every tenant until an admin turns it off."""

    modules = models.JSONField(default=dict, blank=True)  # {"pool": true, "intake": false, ...}
    lead_sections = models.JSONField(default=dict, blank=True)  # {"visits": true, "ledger": false, ...}
    updated_at = models.DateTimeField(null=True, blank=True)

    objects: models.Manager[PageConfig] = models.Manager()

    class Meta:
        constraints = [
            tenant_unique("pageconfig"),
            models.UniqueConstraint(fields=["tenant"], name="pageconfig_one_per_tenant"),
        ]
