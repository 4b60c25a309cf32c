"""API: the events feed, webhook endpoints with their delivery log, and the tenant's plugins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import Field

from leadsea.events import plugins, selectors, services
from leadsea.events.catalog import EVENT_TYPES
from leadsea.events.models import OutboxEvent, TenantPlugin, WebhookDelivery, WebhookEndpoint
from leadsea.tenancy.http import TenantRequest

router = Router(tags=["events"])
MAX_PAGE_SIZE = 200


# ----------------------------------------------------------------------------------------------- feed


class EventOut(Schema):
    id: int
    cursor: str = Field(description="Pass as `after` to read on from this event")
    type: str
    occurred_at: datetime
    actor: int | None = Field(description="User id of who caused it; null for the system (the sweep)")
    request_id: str | None
    data: dict[str, Any]


class FeedOut(Schema):
    items: list[EventOut]
    next_cursor: str | None = Field(
        description="The cursor to pass as `after` next time (unchanged if empty)"
    )
    has_more: bool


class FeedQuery(Schema):
    after: str | None = Field(
        None, description="A cursor from a previous page; omit to start at the beginning"
    )
    limit: int = Field(100, ge=1, le=selectors.MAX_FEED_LIMIT)
    type: str | None = Field(None, description="Only these event types (comma-separated)")


def event_out(event: OutboxEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "cursor": selectors.cursor_of(event),
        "type": event.type,
        "occurred_at": event.occurred_at,
        "actor": event.actor_id,
        "request_id": event.request_id or None,
        "data": event.payload,
    }


@router.get("/events", response=FeedOut, summary="The events feed: the tenant's domain events after a cursor")
def events_feed(request: TenantRequest, query: Query[FeedQuery]) -> dict[str, Any]:
    types = [t.strip() for t in (query.type or "").split(",") if t.strip()] or None
    page = selectors.events_feed(
        tenant=request.tenant, actor=request.membership, after=query.after, limit=query.limit, types=types
    )
    return {
        "items": [event_out(e) for e in page.events],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }


class EventTypeOut(Schema):
    type: str
    description: str


@router.get("/events/types", response=list[EventTypeOut], summary="The event types webhooks can subscribe to")
def event_types(request: TenantRequest) -> list[dict[str, str]]:
    return [{"type": t, "description": str(d)} for t, d in EVENT_TYPES.items()]


# ------------------------------------------------------------------------------------------- webhooks


class WebhookOut(Schema):
    id: int
    url: str
    event_types: list[str]
    is_active: bool
    description: str
    secret_hint: str = Field(description="The first characters of the signing secret")
    created_at: datetime
    updated_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="The signing secret: shown here and on rotation only; keep it")


class WebhookIn(Schema):
    url: str
    event_types: list[str] = Field(default_factory=lambda: ["*"], description='Event types, or ["*"] for all')
    is_active: bool = True
    description: str = ""


class WebhookPatch(Schema):
    url: str | None = None
    event_types: list[str] | None = None
    is_active: bool | None = None
    description: str | None = None


def webhook_out(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": endpoint.pk,
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "is_active": endpoint.is_active,
        "description": endpoint.description,
        "secret_hint": endpoint.secret[:10] + "…",
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }
    if with_secret:
        data["secret"] = endpoint.secret
    return data


@router.get("/webhooks", response=list[WebhookOut], summary="The tenant's webhooks (admins)")
def webhooks_list(request: TenantRequest) -> list[dict[str, Any]]:
    services.require_admin(request.membership)
    return [webhook_out(w) for w in selectors.webhooks_of(tenant=request.tenant)]


@router.post("/webhooks", response={201: WebhookCreatedOut}, summary="Create a webhook (admins)")
def webhooks_create(request: TenantRequest, payload: WebhookIn) -> Status:
    endpoint = services.webhook_create(tenant=request.tenant, actor=request.membership, data=payload.dict())
    return Status(201, webhook_out(endpoint, with_secret=True))


@router.get("/webhooks/{int:webhook_endpoint_id}", response=WebhookOut, summary="A webhook (admins)")
def webhooks_get(request: TenantRequest, webhook_endpoint_id: int) -> dict[str, Any]:
    return webhook_out(
        services.webhook_get(tenant=request.tenant, actor=request.membership, webhook_id=webhook_endpoint_id)
    )


@router.patch("/webhooks/{int:webhook_endpoint_id}", response=WebhookOut, summary="Change a webhook (admins)")
def webhooks_update(
    request: TenantRequest, webhook_endpoint_id: int, payload: WebhookPatch
) -> dict[str, Any]:
    endpoint = services.webhook_update(
        tenant=request.tenant,
        actor=request.membership,
        webhook_id=webhook_endpoint_id,
        data=payload.dict(exclude_unset=True),
    )
    return webhook_out(endpoint)


@router.delete(
    "/webhooks/{int:webhook_endpoint_id}", response={204: None}, summary="Delete a webhook (admins)"
)
def webhooks_delete(request: TenantRequest, webhook_endpoint_id: int) -> Status:
    services.webhook_delete(tenant=request.tenant, actor=request.membership, webhook_id=webhook_endpoint_id)
    return Status(204, None)


@router.post(
    "/webhooks/{int:webhook_endpoint_id}/rotate-secret",
    response=WebhookCreatedOut,
    summary="Replace a webhook's signing secret (admins); the answer shows the new one",
)
def webhooks_rotate(request: TenantRequest, webhook_endpoint_id: int) -> dict[str, Any]:
    endpoint = services.webhook_rotate_secret(
        tenant=request.tenant, actor=request.membership, webhook_id=webhook_endpoint_id
    )
    return webhook_out(endpoint, with_secret=True)


class DeliveryOut(Schema):
    id: int
    event_id: int
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    response_excerpt: str
    duration_ms: int | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(Schema):
    items: list[DeliveryOut]
    count: int
    page: int
    page_size: int


class DeliveryQuery(Schema):
    status: str | None = Field(None, description="pending, succeeded, failed or dead")
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


def delivery_out(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.pk,
        "event_id": d.event_id,
        "event_type": d.event.type,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at,
        "last_attempt_at": d.last_attempt_at,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "response_excerpt": d.response_excerpt,
        "duration_ms": d.duration_ms,
        "created_at": d.created_at,
        "delivered_at": d.delivered_at,
    }


@router.get(
    "/webhooks/{int:webhook_endpoint_id}/deliveries",
    response=DeliveryPage,
    summary="A webhook's delivery log, newest first (admins)",
)
def webhooks_deliveries(
    request: TenantRequest, webhook_endpoint_id: int, query: Query[DeliveryQuery]
) -> dict[str, Any]:
    endpoint = services.webhook_get(
        tenant=request.tenant, actor=request.membership, webhook_id=webhook_endpoint_id
    )
    qs = selectors.deliveries_of(tenant=request.tenant, endpoint=endpoint, status=query.status)
    start = (query.page - 1) * query.page_size
    items = list(qs[start : start + query.page_size])
    return {
        "items": [delivery_out(d) for d in items],
        "count": qs.count(),
        "page": query.page,
        "page_size": query.page_size,
    }


@router.post(
    "/webhooks/{int:webhook_endpoint_id}/ping",
    response={202: DeliveryOut},
    summary="Queue a test delivery (webhook.ping) to this webhook (admins)",
)
def webhooks_ping(request: TenantRequest, webhook_endpoint_id: int) -> Status:
    delivery = services.webhook_ping(
        tenant=request.tenant, actor=request.membership, webhook_id=webhook_endpoint_id
    )
    return Status(202, delivery_out(delivery))


@router.post(
    "/webhooks/{int:webhook_endpoint_id}/deliveries/{int:webhook_delivery_id}/retry",
    response={202: DeliveryOut},
    summary="Send a delivery again (admins)",
)
def webhooks_retry(request: TenantRequest, webhook_endpoint_id: int, webhook_delivery_id: int) -> Status:
    delivery = services.delivery_retry(
        tenant=request.tenant,
        actor=request.membership,
        webhook_id=webhook_endpoint_id,
        delivery_id=webhook_delivery_id,
    )
    return Status(202, delivery_out(delivery))


# -------------------------------------------------------------------------------------------- plugins


class PluginOut(Schema):
    name: str
    verbose_name: str
    version: str
    description: str
    enabled: bool
    settings: dict[str, Any]
    event_types: list[str]
    validates: list[str]


class PluginIn(Schema):
    enabled: bool | None = None
    settings: dict[str, Any] | None = None


def _plugins_out(request: TenantRequest) -> list[dict[str, Any]]:
    rows = {r.name: r for r in TenantPlugin.objects.filter(tenant=request.tenant)}
    out = []
    for name, config in sorted(plugins.installed().items()):
        row = rows.get(name)
        out.append(
            {
                "name": name,
                "verbose_name": str(config.verbose_name or name),  # a plugin may give lazy translations
                "version": config.version,
                "description": str(config.description),
                "enabled": bool(row and row.enabled),
                "settings": {**config.default_settings, **(row.settings if row else {})},
                "event_types": sorted(config.event_handlers),
                "validates": sorted(config.validators),
            }
        )
    return out


@router.get(
    "/plugins", response=list[PluginOut], summary="Installed plugins and whether this tenant uses them"
)
def plugins_list(request: TenantRequest) -> list[dict[str, Any]]:
    services.require_admin(request.membership)
    return _plugins_out(request)


@router.put(
    "/plugins/{plugin_name}", response=PluginOut, summary="Turn a plugin on or off, set its settings (admins)"
)
def plugins_configure(request: TenantRequest, plugin_name: str, payload: PluginIn) -> dict[str, Any]:
    services.plugin_configure(
        tenant=request.tenant,
        actor=request.membership,
        name=plugin_name,
        enabled=payload.enabled,
        settings=payload.settings,
    )
    return next(p for p in _plugins_out(request) if p["name"] == plugin_name)
