"""Outgoing webhooks against a real local HTTP server: signed deliveries, event filters, retries with
backoff until dead, SSRF refusals, admin-only configuration with an audit trail, the delivery log, tenant
isolation, and (PostgreSQL) two dispatchers in parallel delivering each delivery once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine

from leadsea.audit.models import ChangeLog
from leadsea.events import delivery as dispatcher
from leadsea.events.delivery import dispatch_once, verify
from leadsea.events.models import OutboxEvent, WebhookDelivery
from leadsea.leads.services import lead_create
from leadsea.pools import services as pools

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


class Receiver:
    """A real HTTP server in a thread that records what it receives and answers from a script."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # answers to give, in order; then 200
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.end_headers()
                self.wfile.write(f"收到 {status}".encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/leadsea?src=test"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.WEBHOOKS_ALLOW_PRIVATE = True  # the receiver listens on loopback
    r = Receiver()
    yield r
    r.close()


def make_webhook(api: Any, url: str, **data: Any) -> dict[str, Any]:
    r = api.post("/api/v1/webhooks", {"url": url, **data})
    assert r.status_code == 201, r.content
    return r.json()


def make_lead(org: Any, name: str = "海底捞火锅", now: datetime = T0) -> Any:
    return lead_create(tenant=org.tenant, actor=org.admin, data={"name": name}, now=now)


def test_a_delivery_arrives_signed_and_verifiable(org, api_as, receiver):
    api = api_as(org.admin)
    hook = make_webhook(api, receiver.url, event_types=["lead.created"], description="CRM 同步")
    assert hook["secret"].startswith("whsec_") and hook["secret_hint"].startswith(hook["secret"][:10])
    with time_machine.travel(T0, tick=False):
        lead = make_lead(org)
        result = dispatch_once()
    assert (result.fanned_out, result.attempted, result.succeeded) == (1, 1, 1)
    (got,) = receiver.requests
    headers, body = got["headers"], got["body"]
    assert got["path"] == "/hooks/leadsea?src=test"
    assert headers["X-Leadsea-Event"] == "lead.created"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert verify(hook["secret"], headers["X-Leadsea-Signature"], body, now=T0.timestamp())
    assert headers["X-Leadsea-Signature"].startswith(f"t={int(T0.timestamp())},v1=")
    # A wrong secret, a changed body or an old signature do not verify.
    assert not verify("whsec_wrong", headers["X-Leadsea-Signature"], body, now=T0.timestamp())
    assert not verify(hook["secret"], headers["X-Leadsea-Signature"], body + b" ", now=T0.timestamp())
    assert not verify(hook["secret"], headers["X-Leadsea-Signature"], body, now=T0.timestamp() + 3600)
    document = json.loads(body)
    assert document["type"] == "lead.created" and document["tenant"] == "acme"
    assert document["data"]["lead_id"] == lead.pk and document["data"]["lead"]["name"] == "海底捞火锅"
    assert "海底捞火锅".encode() in body  # UTF-8, not \\u escapes
    delivery = WebhookDelivery.objects.get(tenant=org.tenant, pk=int(headers["X-Leadsea-Delivery"]))
    assert delivery.status == "succeeded" and delivery.attempts == 1 and delivery.last_status_code == 200
    assert delivery.response_excerpt == "收到 200" and delivery.delivered_at == T0
    # Nothing more to do: a second round sends nothing again.
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert dispatch_once().attempted == 0
    assert len(receiver.requests) == 1


def test_event_filters_and_inactive_endpoints(org, api_as, receiver):
    api = api_as(org.admin)
    claims = make_webhook(api, receiver.url + "&claims", event_types=["lead.claimed", "lead.dropped"])
    make_webhook(api, receiver.url + "&all", event_types=["*"])
    off = make_webhook(api, receiver.url + "&off", is_active=False)
    lead = make_lead(org)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk)
    dispatch_once()
    got = sorted((r["path"].rsplit("&", 1)[1], r["headers"]["X-Leadsea-Event"]) for r in receiver.requests)
    assert got == [("all", "lead.claimed"), ("all", "lead.created"), ("claims", "lead.claimed")]
    assert not WebhookDelivery.objects.filter(tenant=org.tenant, endpoint_id=off["id"]).exists()
    assert all(e.dispatched_at is not None for e in OutboxEvent.objects.filter(tenant=org.tenant))
    # An endpoint sees the events from its creation on, not the backlog before it.
    later = make_webhook(api, receiver.url + "&later")
    dispatch_once()
    assert not WebhookDelivery.objects.filter(tenant=org.tenant, endpoint_id=later["id"]).exists()
    assert api.get(f"/api/v1/webhooks/{claims['id']}/deliveries").json()["count"] == 1


def test_a_failure_is_retried_with_backoff_then_succeeds(org, api_as, receiver):
    api = api_as(org.admin)
    hook = make_webhook(api, receiver.url)
    receiver.statuses = [500, 503]
    with time_machine.travel(T0, tick=False):
        make_lead(org)
        assert dispatch_once().failed == 1
    d = WebhookDelivery.objects.get(tenant=org.tenant, endpoint_id=hook["id"])
    assert d.status == "failed" and d.attempts == 1 and d.last_status_code == 500
    assert d.last_error == "HTTP 500" and d.response_excerpt == "收到 500"
    wait = d.next_attempt_at - T0
    assert timedelta(seconds=54) <= wait <= timedelta(seconds=66)  # 1 minute +-10 %
    with time_machine.travel(T0 + timedelta(seconds=50), tick=False):
        assert dispatch_once().attempted == 0  # not due yet
    with time_machine.travel(T0 + timedelta(seconds=70), tick=False):
        assert dispatch_once().failed == 1
    d = WebhookDelivery.objects.get(tenant=org.tenant, pk=d.pk)
    assert d.attempts == 2 and d.last_status_code == 503
    wait = d.next_attempt_at - (T0 + timedelta(seconds=70))
    assert timedelta(seconds=270) <= wait <= timedelta(seconds=330)  # 5 minutes +-10 %
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        assert dispatch_once().succeeded == 1
    d = WebhookDelivery.objects.get(tenant=org.tenant, pk=d.pk)
    assert d.status == "succeeded" and d.attempts == 3 and d.next_attempt_at is None
    assert len(receiver.requests) == 3
    # The same idempotency key on every attempt, so the receiver can drop repeats.
    assert {r["headers"]["X-Leadsea-Delivery"] for r in receiver.requests} == {str(d.pk)}


def test_dead_after_the_last_attempt_and_an_admin_can_send_it_again(org, api_as, receiver):
    api = api_as(org.admin)
    hook = make_webhook(api, receiver.url)
    receiver.statuses = [500] * 100
    now = T0
    with time_machine.travel(now, tick=False):
        make_lead(org)
    for _ in range(dispatcher.MAX_ATTEMPTS):
        with time_machine.travel(now, tick=False):
            assert dispatch_once().attempted == 1
        d = WebhookDelivery.objects.get(tenant=org.tenant, endpoint_id=hook["id"])
        if d.next_attempt_at is not None:
            now = d.next_attempt_at
    assert d.status == "dead" and d.attempts == dispatcher.MAX_ATTEMPTS and d.next_attempt_at is None
    with time_machine.travel(now + timedelta(days=3), tick=False):
        assert dispatch_once().attempted == 0
    assert len(receiver.requests) == dispatcher.MAX_ATTEMPTS
    log = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries", {"status": "dead"}).json()
    assert [x["id"] for x in log["items"]] == [d.pk] and log["items"][0]["last_error"] == "HTTP 500"
    receiver.statuses = []
    r = api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{d.pk}/retry")
    assert r.status_code == 202 and r.json()["status"] == "pending"
    assert dispatch_once().succeeded == 1
    assert ChangeLog.objects.filter(tenant=org.tenant, action="webhook.redeliver").count() == 1


def test_timeouts_and_unreachable_targets_are_failures(org, api_as, receiver, monkeypatch):
    api = api_as(org.admin)
    monkeypatch.setattr(dispatcher, "TIMEOUT_SECONDS", 0.3)
    receiver.delay = 1.0
    slow = make_webhook(api, receiver.url)
    make_lead(org)
    dispatch_once()
    d = WebhookDelivery.objects.get(tenant=org.tenant, endpoint_id=slow["id"])
    assert d.status == "failed" and "timed out" in d.last_error.lower() and d.last_status_code is None
    receiver.delay = 0
    api.delete(f"/api/v1/webhooks/{slow['id']}")
    closed = make_webhook(api, "http://127.0.0.1:9/nothing-listens")
    make_lead(org, "第二家")
    dispatch_once()
    d = WebhookDelivery.objects.get(tenant=org.tenant, endpoint_id=closed["id"])
    assert d.status == "failed" and "Connection" in d.last_error


def test_private_targets_are_refused_unless_allowed(org, api_as, receiver, settings):
    api = api_as(org.admin)
    hook = make_webhook(api, receiver.url)  # allowed while the test setting is on
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    for url in ("http://127.0.0.1:8000/x", "http://10.1.2.3/x", "http://[::1]/x", "http://localhost/x"):
        r = api.post("/api/v1/webhooks", {"url": url})
        assert r.status_code == 422 and r.json()["error"]["code"] == "url_not_public", url
        assert r.json()["error"]["field"] == "url"
    for url in ("ftp://example.com/x", "example.com", "http://user:pw@example.com/"):
        r = api.post("/api/v1/webhooks", {"url": url})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_url", url
    make_lead(org)
    dispatch_once()  # checked again at delivery: the address is resolved, then connected to
    d = WebhookDelivery.objects.get(tenant=org.tenant, endpoint_id=hook["id"])
    assert d.status == "failed" and d.last_error.startswith("refused:")
    assert receiver.requests == []


def test_configuration_is_for_admins_and_audited_without_the_secret(org, api_as, receiver):
    api = api_as(org.admin)
    for member in (org.bd1, org.manager, org.hq):
        r = api_as(member).post("/api/v1/webhooks", {"url": receiver.url})
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_tenant_admin"
        assert api_as(member).get("/api/v1/webhooks").status_code == 403
    hook = make_webhook(api, receiver.url, event_types=["lead.created", "lead.created", "visit.recorded"])
    assert hook["event_types"] == ["lead.created", "visit.recorded"]
    assert api_as(org.bd1).get(f"/api/v1/webhooks/{hook['id']}/deliveries").status_code == 403
    r = api.patch(f"/api/v1/webhooks/{hook['id']}", {"event_types": ["lead.signed"], "is_active": False})
    assert r.status_code == 200 and r.json()["event_types"] == ["lead.signed"] and "secret" not in r.json()
    r = api.patch(f"/api/v1/webhooks/{hook['id']}", {"event_types": ["lead.exploded"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_event_type"
    rotated = api.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret").json()
    assert rotated["secret"] != hook["secret"]
    listed = api.get("/api/v1/webhooks").json()
    assert [w["id"] for w in listed] == [hook["id"]] and "secret" not in listed[0]
    assert api.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert api.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404
    rows = list(ChangeLog.objects.filter(tenant=org.tenant, object_type="webhookendpoint").order_by("id"))
    assert [r.action for r in rows] == [
        "webhook.create",
        "webhook.update",
        "webhook.rotate_secret",
        "webhook.delete",
    ]
    assert rows[1].before == {"event_types": ["lead.created", "visit.recorded"], "is_active": True}
    assert rows[1].after == {"event_types": ["lead.signed"], "is_active": False}
    assert all(r.actor_id == org.admin.user_id for r in rows)
    assert not any(hook["secret"] in json.dumps([r.before, r.after]) for r in rows)
    assert not any(rotated["secret"] in json.dumps([r.before, r.after]) for r in rows)


def test_another_tenants_webhooks_and_deliveries_are_not_found(org, other_org, api_as, receiver):
    theirs_api = api_as(other_org.admin)
    theirs = make_webhook(theirs_api, receiver.url)
    lead_create(tenant=other_org.tenant, actor=other_org.admin, data={"name": "乙方机密店"})
    dispatch_once()
    (their_delivery,) = theirs_api.get(f"/api/v1/webhooks/{theirs['id']}/deliveries").json()["items"]
    api = api_as(org.admin)
    mine = make_webhook(api, receiver.url)
    base = f"/api/v1/webhooks/{theirs['id']}"
    for method, path in [
        ("get", base),
        ("patch", base),
        ("delete", base),
        ("get", f"{base}/deliveries"),
        ("post", f"{base}/rotate-secret"),
        ("post", f"{base}/ping"),
        ("post", f"{base}/deliveries/{their_delivery['id']}/retry"),
        ("post", f"/api/v1/webhooks/{mine['id']}/deliveries/{their_delivery['id']}/retry"),
    ]:
        r = api.patch(path, {"is_active": False}) if method == "patch" else getattr(api, method)(path)
        assert r.status_code == 404, (method, path, r.content)
        assert r.json()["error"]["code"].endswith("not_found")
    assert [w["id"] for w in api.get("/api/v1/webhooks").json()] == [mine["id"]]
    assert theirs_api.get(base).json()["is_active"] is True
    assert "乙方机密店" not in json.dumps(api.get(f"/api/v1/webhooks/{mine['id']}/deliveries").json())


def test_ping_reaches_one_endpoint_only(org, api_as, receiver):
    api = api_as(org.admin)
    hook = make_webhook(api, receiver.url + "&one", event_types=["lead.signed"])
    make_webhook(api, receiver.url + "&other")
    r = api.post(f"/api/v1/webhooks/{hook['id']}/ping")
    assert r.status_code == 202 and r.json()["event_type"] == "webhook.ping"
    dispatch_once()
    (got,) = receiver.requests
    assert got["path"].endswith("&one") and got["headers"]["X-Leadsea-Event"] == "webhook.ping"
    assert api.get("/api/v1/events").json()["items"] == []  # a ping is not a domain event


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_in_parallel_deliver_each_delivery_once(receiver):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from conftest import build_org
    from leadsea.events.services import webhook_create

    o = build_org("acme", "Acme 团购")
    webhook_create(tenant=o.tenant, actor=o.admin, data={"url": receiver.url})
    for i in range(40):
        make_lead(o, f"店{i}")
    receiver.delay = 0.02
    barrier = threading.Barrier(2)

    def work(_: int) -> int:
        try:
            barrier.wait(timeout=30)
            sent = 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                result = dispatch_once(limit=5)
                sent += result.attempted
                done = WebhookDelivery.objects.filter(tenant=o.tenant, status="succeeded").count()
                if result.attempted == 0 and done == 40:
                    break
                if result.attempted == 0:
                    time.sleep(0.01)  # the other worker holds what is left
            return sent
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(work, range(2)))
    keys = [r["headers"]["X-Leadsea-Delivery"] for r in receiver.requests]
    assert len(keys) == len(set(keys)) == sum(counts) == 40
    assert all(n > 0 for n in counts), counts  # both workers took a share
    statuses = WebhookDelivery.objects.filter(tenant=o.tenant).values_list("status", "attempts")
    assert set(statuses) == {("succeeded", 1)}


def test_a_paused_endpoint_keeps_its_deliveries_until_turned_back_on(org, api_as, receiver):
    api = api_as(org.admin)
    hook = make_webhook(api, receiver.url)
    make_lead(org)
    assert dispatcher.fan_out() == 1
    api.patch(f"/api/v1/webhooks/{hook['id']}", {"is_active": False})
    assert dispatch_once().attempted == 0 and receiver.requests == []
    api.patch(f"/api/v1/webhooks/{hook['id']}", {"is_active": True})
    assert dispatch_once().succeeded == 1 and len(receiver.requests) == 1
