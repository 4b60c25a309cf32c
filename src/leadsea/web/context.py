"""Template context for every workbench page: tenant, membership, the user's other tenants."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def workbench(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": membership,
    }
