"""Web requests: resolve the session's tenant and membership, and apply the tenant's default language."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from leadsea.core.tenancy_guard import unscoped
from leadsea.tenancy.models import Tenant
from leadsea.tenancy.selectors import membership_get

SESSION_TENANT = "leadsea_tenant_id"


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.tenant = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        if request.path.startswith("/admin/"):
            # The Django admin is for superusers across tenants.
            with unscoped():
                return self.get_response(request)
        tenant_id = request.session.get(SESSION_TENANT) if hasattr(request, "session") else None
        if tenant_id and request.user.is_authenticated:
            tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
            membership = membership_get(tenant=tenant, user=request.user) if tenant else None
            if membership is not None:
                request.tenant = tenant  # type: ignore[attr-defined]
                request.membership = membership  # type: ignore[attr-defined]
                if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
                    translation.activate(tenant.default_language)  # type: ignore[union-attr]
                    request.LANGUAGE_CODE = translation.get_language()  # type: ignore[attr-defined]
                timezone.activate(tenant.time_zone)  # type: ignore[union-attr]
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
