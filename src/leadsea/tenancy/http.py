"""The request type of tenant-scoped views and API operations (set by TenantMiddleware or the bearer auth)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

from leadsea.tenancy.models import Membership, Tenant

if TYPE_CHECKING:
    from leadsea.tenancy.services import TokenAuth


class TenantRequest(HttpRequest):
    tenant: Tenant
    membership: Membership
    api_token: TokenAuth  # API requests only
