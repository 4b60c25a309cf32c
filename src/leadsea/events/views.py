"""Settings pages for tenant admins: webhooks (create, edit, delete, rotate the secret, test) with the
delivery log of each, and the plugins the tenant turns on. Anyone else gets "not found"."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from leadsea.core.errors import DomainError
from leadsea.events import plugins, selectors, services
from leadsea.events.catalog import EVENT_TYPES, WEBHOOK_PING
from leadsea.events.models import TenantPlugin, WebhookDelivery
from leadsea.tenancy.models import Membership
from leadsea.web.decorators import tenant_required

PAGE_SIZE = 50
SUBSCRIBABLE = [(t, d) for t, d in EVENT_TYPES.items() if t != WEBHOOK_PING]


def _admin(request: HttpRequest) -> tuple[Any, Membership]:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    if membership.role != Membership.Role.ADMIN:
        raise Http404
    return request.tenant, membership  # type: ignore[attr-defined]


def _form_data(request: HttpRequest) -> dict[str, Any]:
    return {
        "url": request.POST.get("url", ""),
        "event_types": request.POST.getlist("event_types") or ["*"],
        "description": request.POST.get("description", ""),
        "is_active": request.POST.get("is_active") == "on",
    }


def _plugins(tenant: Any) -> list[dict[str, Any]]:
    rows = {r.name: r for r in TenantPlugin.objects.filter(tenant=tenant)}
    return [
        {"name": name, "config": config, "enabled": bool(rows.get(name) and rows[name].enabled)}
        for name, config in sorted(plugins.installed().items())
    ]


@tenant_required
@require_http_methods(["GET", "POST"])
def webhooks(request: HttpRequest) -> HttpResponse:
    tenant, membership = _admin(request)
    error: DomainError | None = None
    created = None
    values: dict[str, Any] = {"event_types": ["*"], "is_active": True}
    if request.method == "POST":
        action = request.POST.get("action", "create")
        try:
            if action == "plugin":
                row = services.plugin_configure(
                    tenant=tenant,
                    actor=membership,
                    name=request.POST.get("name", ""),
                    enabled=request.POST.get("enabled") == "on",
                )
                messages.success(
                    request,
                    (_("Plugin %(name)s is on.") if row.enabled else _("Plugin %(name)s is off."))
                    % {"name": row.name},
                )
                return redirect("events:webhooks")
            values = _form_data(request)
            created = services.webhook_create(tenant=tenant, actor=membership, data=values)
            values = {"event_types": ["*"], "is_active": True}
        except DomainError as exc:
            error = exc
    return render(
        request,
        "events/webhooks.html",
        {
            "endpoints": list(selectors.webhooks_of(tenant=tenant)),
            "created": created,
            "error": error,
            "values": values,
            "event_types": SUBSCRIBABLE,
            "plugins": _plugins(tenant),
        },
    )


@tenant_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, webhook_id: int) -> HttpResponse:
    tenant, membership = _admin(request)
    try:
        endpoint = services.webhook_get(tenant=tenant, actor=membership, webhook_id=webhook_id)
    except DomainError:
        raise Http404
    error: DomainError | None = None
    secret = None
    if request.method == "POST":
        action = request.POST.get("action")
        kwargs = {"tenant": tenant, "actor": membership, "webhook_id": endpoint.pk}
        try:
            if action == "update":
                endpoint = services.webhook_update(**kwargs, data=_form_data(request))
                messages.success(request, _("Webhook saved."))
                return redirect("events:webhook", webhook_id=endpoint.pk)
            if action == "delete":
                services.webhook_delete(**kwargs)
                messages.success(request, _("Webhook deleted."))
                return redirect("events:webhooks")
            if action == "rotate":
                secret = services.webhook_rotate_secret(**kwargs).secret
            elif action == "ping":
                services.webhook_ping(**kwargs)
                messages.success(request, _("A test delivery is queued; it shows in the log below."))
                return redirect("events:webhook", webhook_id=endpoint.pk)
            elif action == "retry":
                raw = request.POST.get("delivery_id", "")
                services.delivery_retry(**kwargs, delivery_id=int(raw) if raw.isdigit() else 0)
                messages.success(request, _("The delivery will be sent again shortly."))
                return redirect("events:webhook", webhook_id=endpoint.pk)
            else:
                raise Http404
        except DomainError as exc:
            error = exc
    status = request.GET.get("status") or None
    if status not in WebhookDelivery.Status.values:
        status = None
    qs = selectors.deliveries_of(tenant=tenant, endpoint=endpoint, status=status)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "events/webhook_detail.html",
        {
            "endpoint": endpoint,
            "page": page,
            "query": f"status={status}" if status else "",
            "status": status,
            "statuses": WebhookDelivery.Status.choices,
            "error": error,
            "secret": secret,
            "event_types": SUBSCRIBABLE,
            "values": {
                "url": endpoint.url,
                "event_types": endpoint.event_types,
                "description": endpoint.description,
                "is_active": endpoint.is_active,
            },
        },
    )
