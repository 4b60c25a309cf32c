"""Writes of the events app: `emit` (the outbox row of a domain event, in the caller's transaction),
webhook endpoints (create, update, delete, rotate the secret, redeliver) and turning plugins on per tenant."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from leadsea.audit.services import change_record, changed_fields
from leadsea.core import bulksql, clock, jsontext
from leadsea.core.errors import FieldInvalid
from leadsea.core.middleware import current_request_id
from leadsea.core.tenancy_guard import unscoped
from leadsea.events import plugins
from leadsea.events.catalog import EVENT_TYPES, WEBHOOK_PING
from leadsea.events.errors import (
    DeliveryNotFound,
    EventTypeInvalid,
    NotTenantAdmin,
    PluginNotFound,
    WebhookNotFound,
    WebhookUrlInvalid,
    WebhookUrlPrivate,
)
from leadsea.events.models import OutboxEvent, TenantPlugin, WebhookDelivery, WebhookEndpoint
from leadsea.tenancy.models import Membership, Tenant

MAX_ENDPOINTS = 20


def _json(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload exactly as it will read back (datetimes as ISO strings, decimals as strings)."""
    return jsontext.loads(jsontext.dumps(payload, django=True))


XACT_SQL = "pg_current_xact_id()::text::bigint"


def current_xact() -> Any:
    """The writing transaction's id on PostgreSQL (the feed's ordering key), 0 elsewhere."""
    return RawSQL(XACT_SQL, []) if connection.vendor == "postgresql" else 0


def _outbox_create(
    tenant_id: int, type: str, payload: Any, actor_id: int | None, request_id: str, occurred_at: datetime
) -> OutboxEvent:
    return OutboxEvent.objects.create(
        tenant_id=tenant_id,
        type=type,
        payload=payload,
        actor_id=actor_id,
        request_id=request_id,
        occurred_at=occurred_at,
        xact=current_xact(),
    )


def emit(
    *,
    tenant: Tenant | int,
    type: str,
    payload: dict[str, Any],
    actor: Any = None,
    now: datetime | None = None,
) -> OutboxEvent:
    """Record a domain event in the outbox, in the caller's transaction: it commits with the change or not
    at all. Webhooks are fanned out from the outbox by the dispatcher; the tenant's plugin handlers run once
    the transaction commits. `actor` is a user (or a user id), None for the system."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    actor_id = actor if actor is None or isinstance(actor, int) else actor.pk
    event = _outbox_create(
        tenant_id, type, _json(payload), actor_id, (current_request_id() or "")[:64], now or clock.now()
    )
    plugins.schedule_handlers(
        plugins.DomainEvent(
            id=event.pk,
            tenant_id=tenant_id,
            type=type,
            payload=event.payload,
            actor_id=actor_id,
            occurred_at=event.occurred_at,
            request_id=event.request_id,
        )
    )
    return event


def emit_many(
    *,
    tenant: Tenant | int,
    events: Sequence[tuple[str, dict[str, Any]]],
    actor: Any = None,
    now: datetime | None = None,
) -> list[int]:
    """`emit` for many events of one actor at once (a batch job's writes): the same outbox rows (on
    PostgreSQL through COPY, ids drawn from the sequence), the same plugin handlers after commit. Returns the
    event ids in order."""
    if not events:
        return []
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    actor_id = actor if actor is None or isinstance(actor, int) else actor.pk
    request_id = (current_request_id() or "")[:64]
    occurred_at = now or clock.now()
    dumped = [jsontext.dumps(p, django=True) for _t, p in events]
    ids: list[int] = []
    if connection.vendor != "postgresql":  # SQLite: an INSERT costs little, one row each as emit writes it
        for (type_, _p), text in zip(events, dumped, strict=True):
            ids.append(
                _outbox_create(tenant_id, type_, jsontext.loads(text), actor_id, request_id, occurred_at).pk
            )
    else:
        # Ids from the sequence and the transaction id read once, the rows through COPY: the payloads are
        # neither quoted into a statement by psycopg nor parsed out of one by the server.
        ids = bulksql.reserve_ids(OutboxEvent, len(events))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {XACT_SQL}")
            xact = cursor.fetchone()[0]
        bulksql.insert_rows(
            OutboxEvent,
            ("id", "tenant_id", "type", "payload", "actor_id", "request_id", "occurred_at", "xact"),
            [
                (event_id, tenant_id, type_, text, actor_id, request_id, occurred_at, xact)
                for event_id, (type_, _p), text in zip(ids, events, dumped, strict=True)
            ],
            json_text=True,
        )
    if plugins.installed():
        plugins.schedule_handlers_many(
            [
                plugins.DomainEvent(
                    id=event_id,
                    tenant_id=tenant_id,
                    type=type_,
                    payload=jsontext.loads(text),
                    actor_id=actor_id,
                    occurred_at=occurred_at,
                    request_id=request_id,
                )
                for event_id, (type_, _p), text in zip(ids, events, dumped, strict=True)
            ]
        )
    return ids


def ownership_payload(
    lead: Any, action: str, *, from_owner: int | None, to_owner: int | None, reason: str = ""
) -> dict[str, Any]:
    """The payload of the pool's events (lead.claimed, lead.dropped, ...); pools/sweep.py builds the same
    object in SQL for the drops it makes."""
    return {
        "lead_id": lead.pk,
        "pool_id": lead.pool_id,
        "action": action,
        "from_owner_id": from_owner,
        "to_owner_id": to_owner,
        "reason": reason,
        "expires_at": lead.expires_at,
    }


# ------------------------------------------------------------------------------------------ webhooks


def require_admin(actor: Membership) -> None:
    if actor.role != Membership.Role.ADMIN:
        raise NotTenantAdmin()


def _clean_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise WebhookUrlInvalid(field="url")
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        raise WebhookUrlInvalid(field="url")
    if parts.username or parts.password:
        raise WebhookUrlInvalid(_("url must not carry a user name or password."), field="url")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        address = None  # a host name: resolved and checked again at every delivery
    from leadsea.events.delivery import allow_private

    if address is not None and not address.is_global and not allow_private():
        raise WebhookUrlPrivate(field="url")
    if parts.hostname.lower() in ("localhost", "localhost.localdomain") and not allow_private():
        raise WebhookUrlPrivate(field="url")
    return url


def _clean_event_types(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise EventTypeInvalid(_("event_types must be a non-empty list of event types."), field="event_types")
    types: list[str] = []
    for raw in value:
        t = raw.strip()
        if t != "*" and t not in EVENT_TYPES:
            raise EventTypeInvalid(_("Unknown event type %(type)s.") % {"type": t[:60]}, field="event_types")
        if t not in types:
            types.append(t)
    return ["*"] if "*" in types else sorted(types)


def _clean_description(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldInvalid(_("description must be a string."), field="description")
    text = value.strip()
    if len(text) > 200:
        raise FieldInvalid(_("description is longer than 200 characters."), field="description")
    return text


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit log records: never the secret itself."""
    return {
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "is_active": endpoint.is_active,
        "description": endpoint.description,
    }


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def webhook_get(*, tenant: Tenant, actor: Membership, webhook_id: int) -> WebhookEndpoint:
    require_admin(actor)
    endpoint = WebhookEndpoint.objects.filter(tenant=tenant, pk=webhook_id).first()
    if endpoint is None:
        raise WebhookNotFound()
    return endpoint


@transaction.atomic
def webhook_create(
    *, tenant: Tenant, actor: Membership, data: dict[str, Any], now: datetime | None = None
) -> WebhookEndpoint:
    require_admin(actor)
    now = now or clock.now()
    unknown = set(data) - {"url", "event_types", "is_active", "description"}
    if unknown:
        field = sorted(unknown)[0]
        raise FieldInvalid(
            _("%(field)s cannot be set here.") % {"field": field}, code="unknown_field", field=field
        )
    endpoint = WebhookEndpoint(
        tenant=tenant,
        url=_clean_url(data.get("url")),
        event_types=_clean_event_types(data.get("event_types", ["*"])),
        is_active=bool(data.get("is_active", True)),
        description=_clean_description(data.get("description")),
        secret=new_secret(),
        created_by=actor.user,
        created_at=now,
        updated_at=now,
    )
    if WebhookEndpoint.objects.filter(tenant=tenant).count() >= MAX_ENDPOINTS:
        raise FieldInvalid(
            _("A tenant has at most %(max)s webhooks.") % {"max": MAX_ENDPOINTS}, code="too_many_webhooks"
        )
    endpoint.save()
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="webhook.create",
        obj=endpoint,
        before=None,
        after=_snapshot(endpoint),
        now=now,
    )
    return endpoint


def _endpoint_locked(tenant: Tenant, webhook_id: int) -> WebhookEndpoint:
    """The tenant's endpoint, locked for the change; another tenant's id is not found."""
    endpoint = WebhookEndpoint.objects.select_for_update().filter(tenant=tenant, pk=webhook_id).first()
    if endpoint is None:
        raise WebhookNotFound()
    return endpoint


@transaction.atomic
def webhook_update(
    *, tenant: Tenant, actor: Membership, webhook_id: int, data: dict[str, Any], now: datetime | None = None
) -> WebhookEndpoint:
    require_admin(actor)
    now = now or clock.now()
    endpoint = _endpoint_locked(tenant, webhook_id)
    unknown = set(data) - {"url", "event_types", "is_active", "description"}
    if unknown:
        field = sorted(unknown)[0]
        raise FieldInvalid(
            _("%(field)s cannot be set here.") % {"field": field}, code="unknown_field", field=field
        )
    before = _snapshot(endpoint)
    if "url" in data:
        endpoint.url = _clean_url(data["url"])
    if "event_types" in data:
        endpoint.event_types = _clean_event_types(data["event_types"])
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            raise FieldInvalid(_("is_active must be true or false."), field="is_active")
        endpoint.is_active = data["is_active"]
    if "description" in data:
        endpoint.description = _clean_description(data["description"])
    b, a = changed_fields(before, _snapshot(endpoint))
    if a:
        endpoint.updated_at = now
        endpoint.save()
        change_record(
            tenant=tenant, actor=actor.user, action="webhook.update", obj=endpoint, before=b, after=a, now=now
        )
    return endpoint


@transaction.atomic
def webhook_delete(
    *, tenant: Tenant, actor: Membership, webhook_id: int, now: datetime | None = None
) -> None:
    """Delete an endpoint and its delivery log (the audit log keeps what it was)."""
    require_admin(actor)
    now = now or clock.now()
    endpoint = _endpoint_locked(tenant, webhook_id)
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="webhook.delete",
        obj=endpoint,
        before=_snapshot(endpoint),
        after=None,
        now=now,
    )
    WebhookDelivery.objects.filter(tenant=tenant, endpoint=endpoint).delete()
    with unscoped():  # the cascade's own lookup of deliveries by endpoint id: none are left, all were ours
        WebhookEndpoint.objects.filter(tenant=tenant, pk=endpoint.pk).delete()


@transaction.atomic
def webhook_rotate_secret(
    *, tenant: Tenant, actor: Membership, webhook_id: int, now: datetime | None = None
) -> WebhookEndpoint:
    """A new signing secret, effective for every delivery from now on (the old one stops verifying)."""
    require_admin(actor)
    now = now or clock.now()
    endpoint = _endpoint_locked(tenant, webhook_id)
    endpoint.secret = new_secret()
    endpoint.updated_at = now
    endpoint.save()
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="webhook.rotate_secret",
        obj=endpoint,
        before=None,
        after={"secret": "rotated"},
        now=now,
    )
    return endpoint


@transaction.atomic
def webhook_ping(
    *, tenant: Tenant, actor: Membership, webhook_id: int, now: datetime | None = None
) -> WebhookDelivery:
    """Queue a `webhook.ping` delivery to this endpoint only (whatever its event filter)."""
    endpoint = webhook_get(tenant=tenant, actor=actor, webhook_id=webhook_id)
    now = now or clock.now()
    event = OutboxEvent.objects.create(
        tenant=tenant,
        type=WEBHOOK_PING,
        payload={"webhook_id": endpoint.pk},
        actor=actor.user,
        request_id=(current_request_id() or "")[:64],
        occurred_at=now,
        dispatched_at=now,  # delivered to this endpoint only, never fanned out
        xact=current_xact(),
    )
    return WebhookDelivery.objects.create(
        tenant=tenant, endpoint=endpoint, event=event, next_attempt_at=now, created_at=now
    )


@transaction.atomic
def delivery_retry(
    *, tenant: Tenant, actor: Membership, webhook_id: int, delivery_id: int, now: datetime | None = None
) -> WebhookDelivery:
    """Send a delivery again now (a dead or failed one, or a succeeded one the receiver lost)."""
    endpoint = webhook_get(tenant=tenant, actor=actor, webhook_id=webhook_id)
    now = now or clock.now()
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("event")
        .filter(tenant=tenant, endpoint=endpoint, pk=delivery_id)
        .first()
    )
    if delivery is None:
        raise DeliveryNotFound()
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.next_attempt_at = now
    delivery.attempts = 0
    delivery.save()
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="webhook.redeliver",
        obj=delivery,
        before=None,
        after={"webhook": endpoint.pk, "event": delivery.event_id},
        now=now,
    )
    return delivery


# ------------------------------------------------------------------------------------------- plugins


@transaction.atomic
def plugin_configure(
    *,
    tenant: Tenant,
    actor: Membership,
    name: str,
    enabled: bool | None = None,
    settings: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> TenantPlugin:
    """Turn an installed plugin on or off for this tenant and/or set its settings (audited)."""
    require_admin(actor)
    now = now or clock.now()
    if name not in plugins.installed():
        raise PluginNotFound(field="name")
    if settings is not None and not isinstance(settings, dict):
        raise FieldInvalid(_("settings must be an object."), field="settings")
    row = TenantPlugin.objects.select_for_update().filter(tenant=tenant, name=name).first()
    created = row is None
    if row is None:
        row = TenantPlugin(tenant=tenant, name=name, enabled=False, settings={}, updated_at=now)
    before = {"enabled": row.enabled, "settings": dict(row.settings)}
    if enabled is not None:
        row.enabled = bool(enabled)
    if settings is not None:
        row.settings = _json(settings)
    after = {"enabled": row.enabled, "settings": dict(row.settings)}
    b, a = changed_fields(before, after)
    if a or created:
        row.updated_at = now
        row.save()
        change_record(
            tenant=tenant,
            actor=actor.user,
            action="plugin.configure",
            obj=row,
            before=None if created else b,
            after={"name": name, **a},
            now=now,
        )
    return row
