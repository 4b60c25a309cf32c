"""Template context for every workbench page: tenant, membership, the user's other tenants."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def workbench(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    tenant = getattr(request, "tenant", None)
    default_pool_id = None
    if membership is not None and membership.role == "admin":
        from leadsea.pools.models import Pool

        default_pool_id = (
            Pool.objects.filter(tenant=tenant, is_default=True).values_list("id", flat=True).first()
        )
    return {
        "current_tenant": tenant,
        "current_membership": membership,
        "current_default_pool_id": default_pool_id or 0,
    }
