"""The crowdsourcing role's fence: a crowd member reaches only the submission page and session basics.

One allow-list, checked for every web request after TenantMiddleware has resolved the membership, so a page
added later is closed to the role by default. The API refuses the role in its bearer authentication, and
`leads.selectors.leads_visible` returns nothing for it (a second line of defence)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from leadsea.tenancy.models import Membership

# Paths a crowd member may open: their page, logging in and out, switching tenant or language, the public
# join form, static files and the health check. /api/ is fenced by the API's own authentication.
CROWD_ALLOWED_PREFIXES = (
    "/crowd/",
    "/login/",
    "/logout/",
    "/tenants/",
    "/i18n/",
    "/join/",
    "/static/",
    "/healthz",
    "/api/",
)
# Where a login lands (the lead list by default): a crowd member is sent to their page instead.
CROWD_LANDINGS = ("/", "/leads/")


def is_crowd(membership: Membership | None) -> bool:
    return membership is not None and membership.role == Membership.Role.CROWD


class CrowdOnlyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_crowd(getattr(request, "membership", None)):
            path = request.path
            if path in CROWD_LANDINGS and request.method in ("GET", "HEAD"):
                return redirect("intake:crowd")
            if not path.startswith(CROWD_ALLOWED_PREFIXES):
                return render(request, "intake/join_forbidden.html", status=403)
        return self.get_response(request)
