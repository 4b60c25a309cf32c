"""The request type of tenant-scoped views and API operations (set by TenantMiddleware or the bearer auth)."""

from __future__ import annotations

from django.http import HttpRequest

from leadsea.tenancy.models import ApiToken, Membership, Tenant


class TenantRequest(HttpRequest):
    tenant: Tenant
    membership: Membership
    api_token: ApiToken
