"""The webhook dispatcher: fan the outbox out to deliveries, claim due deliveries (SKIP LOCKED on
PostgreSQL), POST them signed with HMAC-SHA256, and retry with exponential backoff and jitter until dead.

Every query here is cross-tenant by design (one worker serves all tenants) and says so with `unscoped()`."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import os
import random
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q

from leadsea.core import clock
from leadsea.core.tenancy_guard import unscoped
from leadsea.events.models import OutboxEvent, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)
S = WebhookDelivery.Status

TIMEOUT_SECONDS = 5.0
# Waits after the 1st, 2nd, ... failed attempt; the attempt after the last wait is the last one.
BACKOFF_SECONDS = [60, 5 * 60, 30 * 60, 2 * 3600, 12 * 3600]
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
JITTER = 0.1  # +-10 %, so that endpoints that failed together do not retry together
LEASE = timedelta(seconds=60)  # a claimed delivery is invisible to other workers this long
EXCERPT_CHARS = 500
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "leadsea-webhooks/1"


def allow_private() -> bool:
    """LEADSEA_WEBHOOKS_ALLOW_PRIVATE=1 (or settings.WEBHOOKS_ALLOW_PRIVATE) lets webhooks reach private,
    loopback and link-local addresses: for tests and closed networks only."""
    configured = getattr(settings, "WEBHOOKS_ALLOW_PRIVATE", None)
    if configured is not None:
        return bool(configured)
    return os.environ.get("LEADSEA_WEBHOOKS_ALLOW_PRIVATE", "").strip().lower() in {"1", "true", "yes", "on"}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Leadsea-Signature header value: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, now: float | None = None, tolerance: int = 300) -> bool:
    """What a receiver does (also in docs/events.md): recompute, compare in constant time, refuse old ones."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt, with jitter."""
    base = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
    return timedelta(seconds=base * random.uniform(1 - JITTER, 1 + JITTER))


# ------------------------------------------------------------------------------------ HTTP and SSRF


class TargetRefused(Exception):
    """The URL resolves to an address webhooks may not reach."""


def _resolve(host: str, port: int) -> str:
    """Resolve once and connect to that very address, so a DNS answer cannot change between the check and
    the connection (DNS rebinding)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private():
        for a in addresses:
            if not ipaddress.ip_address(a.split("%", 1)[0]).is_global:
                raise TargetRefused(f"{host} resolves to a non-public address ({a})")
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(
    url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_SECONDS
) -> tuple[int, bytes]:
    """POST without following redirects; returns (status, the first bytes of the response)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = _resolve(host, port)
    cls = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    conn = cls(host, port, address, timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(MAX_RESPONSE_BYTES)
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------- fan-out


def fan_out(*, batch: int = 500, now: datetime | None = None) -> int:
    """Turn outbox events not dispatched yet into deliveries, one per subscribed active endpoint at this time.
    Idempotent (one delivery per endpoint and event); returns the events handled."""
    now = now or clock.now()
    with unscoped(), transaction.atomic():
        qs = OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("id")
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True)
        events = list(qs.only("id", "tenant_id", "type", "occurred_at")[:batch])
        if not events:
            return 0
        endpoints: dict[int, list[WebhookEndpoint]] = {}
        for ep in WebhookEndpoint.objects.filter(
            tenant_id__in={e.tenant_id for e in events}, is_active=True
        ).only("id", "tenant_id", "event_types"):
            endpoints.setdefault(ep.tenant_id, []).append(ep)
        deliveries = [
            WebhookDelivery(tenant_id=e.tenant_id, endpoint=ep, event=e, next_attempt_at=now, created_at=now)
            for e in events
            for ep in endpoints.get(e.tenant_id, [])
            if ep.accepts(e.type)
        ]
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True, batch_size=500)
        OutboxEvent.objects.filter(id__in=[e.pk for e in events]).update(dispatched_at=now)
    return len(events)


# ------------------------------------------------------------------------------------------- delivery


def claim_due(*, limit: int = 20, now: datetime | None = None) -> list[WebhookDelivery]:
    """Take up to `limit` due deliveries for this worker: each is counted as an attempt and leased (its
    next_attempt_at moved past now), so no other worker picks it up while this one sends it."""
    now = now or clock.now()
    with unscoped():
        with transaction.atomic():
            # A paused endpoint's deliveries wait (they go out when it is turned back on).
            qs = WebhookDelivery.objects.filter(
                status__in=[S.PENDING, S.FAILED], next_attempt_at__lte=now, endpoint__is_active=True
            ).order_by("next_attempt_at", "id")
            if connection.vendor == "postgresql":
                qs = qs.select_for_update(skip_locked=True, of=("self",))
            ids = list(qs.values_list("id", flat=True)[:limit])
            if not ids:
                return []
            WebhookDelivery.objects.filter(id__in=ids).update(
                attempts=F("attempts") + 1, next_attempt_at=now + LEASE, last_attempt_at=now
            )
        return list(
            WebhookDelivery.objects.filter(id__in=ids)
            .select_related("endpoint", "event", "tenant")
            .order_by("id")
        )


def body_of(delivery: WebhookDelivery) -> bytes:
    event = delivery.event
    document = {
        "id": event.pk,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "tenant": delivery.tenant.slug,
        "request_id": event.request_id or None,
        "data": event.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class Outcome:
    status_code: int | None
    error: str
    excerpt: str
    duration_ms: int


def send(delivery: WebhookDelivery, *, now: datetime | None = None) -> Outcome:
    now = now or clock.now()
    body = body_of(delivery)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Leadsea-Event": delivery.event.type,
        "X-Leadsea-Delivery": str(delivery.pk),
        "X-Leadsea-Signature": sign(delivery.endpoint.secret, int(now.timestamp()), body),
    }
    started = time.perf_counter()
    code: int | None = None
    error = excerpt = ""
    try:
        code, raw = post(delivery.endpoint.url, body, headers, TIMEOUT_SECONDS)
        excerpt = raw.decode("utf-8", "replace")[:EXCERPT_CHARS]
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except TargetRefused as exc:
        error = f"refused: {exc}"
    except (OSError, http.client.HTTPException) as exc:  # timeouts, refused connections, TLS, bad answers
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return Outcome(code, error[:300], excerpt, int((time.perf_counter() - started) * 1000))


def record(delivery: WebhookDelivery, outcome: Outcome, *, now: datetime | None = None) -> WebhookDelivery:
    """Write an attempt's result: succeeded on 2xx; else failed with the next try after a backoff, or dead
    once the attempts are used up."""
    now = now or clock.now()
    fields: dict[str, Any] = {
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "response_excerpt": outcome.excerpt,
        "duration_ms": outcome.duration_ms,
    }
    if not outcome.error:
        fields.update(status=S.SUCCEEDED, delivered_at=now, next_attempt_at=None)
    elif delivery.attempts >= MAX_ATTEMPTS:
        fields.update(status=S.DEAD, next_attempt_at=None)
    else:
        fields.update(status=S.FAILED, next_attempt_at=now + backoff(delivery.attempts))
    WebhookDelivery.objects.filter(tenant_id=delivery.tenant_id, pk=delivery.pk).update(**fields)
    for key, value in fields.items():
        setattr(delivery, key, value)
    return delivery


@dataclass
class DispatchResult:
    fanned_out: int
    attempted: int
    succeeded: int
    failed: int
    dead: int


def dispatch_once(*, limit: int = 50, now: datetime | None = None) -> DispatchResult:
    """One round of the worker: fan out the outbox, then send what is due (up to `limit`)."""
    fanned = 0
    while True:
        n = fan_out(now=now)
        fanned += n
        if n == 0:
            break
    result = DispatchResult(fanned, 0, 0, 0, 0)
    for delivery in claim_due(limit=limit, now=now):
        record(delivery, send(delivery, now=now), now=now)
        result.attempted += 1
        if delivery.status == S.SUCCEEDED:
            result.succeeded += 1
        elif delivery.status == S.DEAD:
            result.dead += 1
        else:
            result.failed += 1
    return result


def pending_count() -> int:
    with unscoped():
        return WebhookDelivery.objects.filter(
            Q(status__in=[S.PENDING, S.FAILED]) & Q(next_attempt_at__lte=clock.now())
        ).count()
