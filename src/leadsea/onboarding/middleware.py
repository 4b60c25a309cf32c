"""The fence of turned-off modules: their pages answer 404 (checked for every web request once the view is
resolved) and their API routes answer 404 (checked by the API's bearer authentication)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from leadsea.core.errors import NotFound
from leadsea.onboarding.modules import module_of_api_path, module_of_view
from leadsea.onboarding.selectors import page_settings_for_request, page_settings_of
from leadsea.tenancy.selectors import tenant_by_slug


class ModuleDisabled(NotFound):
    code = "not_found"


def api_module_guard(request: Any) -> None:
    """Raise NotFound when the API path belongs to a module the token's tenant turned off."""
    module = module_of_api_path(request.path)
    if module is None:
        return
    settings = page_settings_for_request(request)
    if settings is not None and not settings.module_on(module):
        raise ModuleDisabled(_("Not found."))


class ModuleMiddleware:
    """After TenantMiddleware: a page of a turned-off module is not found. Public pages that name their
    tenant in the URL (the join form: /join/<tenant_slug>/) are checked against that tenant."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        match = request.resolver_match
        module = module_of_view(match.view_name if match else None)
        if module is None:
            return None
        settings = page_settings_for_request(request)
        if settings is None and kwargs.get("tenant_slug"):
            tenant = tenant_by_slug(str(kwargs["tenant_slug"]))
            settings = page_settings_of(tenant=tenant) if tenant is not None else None
        if settings is None or settings.module_on(module):
            return None
        template = "mobile/not_found.html" if match and match.namespace == "mobile" else "web/not_found.html"
        return render(request, template, {"tab": ""}, status=404)
