"""Reads of the events app: the events feed (cursor-paginated, stable), webhooks and their delivery log."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from leadsea.core.errors import FieldInvalid
from leadsea.events.catalog import EVENT_TYPES, WEBHOOK_PING
from leadsea.events.errors import NotTenantAdmin
from leadsea.events.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from leadsea.tenancy.models import Membership, Tenant

MAX_FEED_LIMIT = 500
SETTLED_SQL = (
    "(xact < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
    " OR xact = pg_current_xact_id_if_assigned()::text::bigint)"
)


def require_feed_reader(actor: Membership) -> None:
    """The feed is the whole tenant's activity: admins and HQ only."""
    if not actor.sees_whole_tenant:
        raise NotTenantAdmin(_("Only administrators and HQ may read the events feed."))


def cursor_of(event: OutboxEvent) -> str:
    return f"{event.xact}-{event.pk}"


def _parse_cursor(value: str) -> tuple[int, int]:
    try:
        xact, _sep, pk = value.partition("-")
        parsed = int(xact), int(pk)
    except ValueError:
        raise FieldInvalid(
            _("after is not a cursor this feed returned."), code="invalid_cursor", field="after"
        )
    if parsed[0] < 0 or parsed[1] < 0:
        raise FieldInvalid(
            _("after is not a cursor this feed returned."), code="invalid_cursor", field="after"
        )
    return parsed


@dataclass
class FeedPage:
    events: list[OutboxEvent]
    next_cursor: str | None
    has_more: bool


def events_feed(
    *,
    tenant: Tenant,
    actor: Membership,
    after: str | None = None,
    limit: int = 100,
    types: list[str] | None = None,
) -> FeedPage:
    """The tenant's events in a stable order, after a cursor. Ordered by (xact, id); on PostgreSQL only the
    events of transactions older than every transaction still running are shown, so an event never appears
    behind a cursor already handed out: reading on from the last cursor sees every committed event once."""
    require_feed_reader(actor)
    if not 1 <= limit <= MAX_FEED_LIMIT:
        raise FieldInvalid(_("limit must be 1 to %(max)s.") % {"max": MAX_FEED_LIMIT}, field="limit")
    qs = OutboxEvent.objects.filter(tenant=tenant).exclude(type=WEBHOOK_PING)
    if types:
        unknown = [t for t in types if t not in EVENT_TYPES]
        if unknown:
            raise FieldInvalid(
                _("Unknown event type %(type)s.") % {"type": unknown[0][:60]},
                code="invalid_event_type",
                field="type",
            )
        qs = qs.filter(type__in=types)
    if after:
        xact, pk = _parse_cursor(after)
        qs = qs.filter(Q(xact__gt=xact) | Q(xact=xact, id__gt=pk))
    if connection.vendor == "postgresql":
        # (plus the reader's own uncommitted events, which only it can see: tests run inside a transaction)
        qs = qs.extra(where=[SETTLED_SQL])
    events = list(qs.select_related("actor").order_by("xact", "id")[: limit + 1])
    has_more = len(events) > limit
    events = events[:limit]
    return FeedPage(events, cursor_of(events[-1]) if events else after, has_more)


def webhooks_of(*, tenant: Tenant) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(tenant=tenant).order_by("id")


def deliveries_of(
    *, tenant: Tenant, endpoint: WebhookEndpoint, status: str | None = None
) -> QuerySet[WebhookDelivery]:
    qs = WebhookDelivery.objects.filter(tenant=tenant, endpoint=endpoint).select_related("event")
    if status:
        if status not in WebhookDelivery.Status.values:
            raise FieldInvalid(
                _("status must be one of %(choices)s.")
                % {"choices": ", ".join(WebhookDelivery.Status.values)},
                field="status",
            )
        qs = qs.filter(status=status)
    return qs.order_by("-id")
