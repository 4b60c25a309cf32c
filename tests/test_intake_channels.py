"""Worker channels against real servers: an HTTP source (http.server in a thread), Redis Streams and RabbitMQ
on 127.0.0.1. A test whose service is missing skips with the reason, except under CI=true where it fails."""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command

from leadsea.intake.channels.models import ChannelState
from leadsea.intake.channels.pull import pull_run, pull_sources_due
from leadsea.intake.models import IntakeRecord
from leadsea.intake.services import source_get_or_create
from leadsea.leads.models import Lead


def need_service(name: str, port: int) -> None:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as exc:
        reason = f"{name} is not running on 127.0.0.1:{port} ({exc}); start it to run this test"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def store(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"测试门店{i:03d}号",
        "phone": f"138{i:08d}",
        "address": f"北京市朝阳区测试路{i}号",
        "lat": 39.9 + i * 0.01,
        "lng": 116.4,
        **extra,
    }


# --- HTTP pull --------------------------------------------------------------------------------------------


class Upstream:
    """A partner API: GET /stores?since=N returns the items with seq > N, at most 2 a page."""

    def __init__(self) -> None:
        self.items = [
            {
                "sid": f"P{i}",
                "seq": i,
                "title": f"上游门店{i}号",
                "tel": f"139{i:08d}",
                "addr": f"测试路{i}号",
            }
            for i in range(1, 6)
        ]
        self.requests: list[str] = []
        self.fail = False
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                upstream.requests.append(self.path)
                if self.headers.get("X-Key") != "secret":
                    self.send_response(401)
                    self.end_headers()
                    return
                if upstream.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                since = int(parse_qs(urlsplit(self.path).query).get("since", ["0"])[0])
                page = [it for it in upstream.items if it["seq"] > since][:2]
                body = json.dumps({"data": {"items": page}}, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stores"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


def pull_source(org: Any, url: str) -> Any:
    return source_get_or_create(
        tenant=org.tenant,
        key="partner-pull",
        channel="pull",
        name="Partner pull",
        config={
            "url": url,
            "headers": {"X-Key": "secret"},
            "interval_s": 60,
            "items_path": "data.items",
            "id_field": "sid",
            "fields": {"name": "title", "phone": "tel", "address": "addr"},
            "since_param": "since",
            "cursor_field": "seq",
        },
    )


def test_pull_pages_through_the_cursor_and_does_not_duplicate(org, upstream):
    source = pull_source(org, upstream.url)
    outcome = pull_run(source=source)
    assert outcome.error == "" and outcome.records == 5
    assert outcome.by_status == {"created": 5}
    state = ChannelState.objects.get(tenant=org.tenant, source=source)
    assert state.cursor == "5" and state.last_ok_at is not None and state.next_run_at > state.last_run_at
    assert Lead.objects.filter(tenant=org.tenant).count() == 5
    assert {r.external_id for r in IntakeRecord.objects.filter(tenant=org.tenant)} == {
        f"P{i}" for i in range(1, 6)
    }
    assert "since=4" in upstream.requests[-1] or "since=5" in upstream.requests[-1]
    # not due again before the interval
    assert source.pk not in [s.pk for s in pull_sources_due()]
    # a new item upstream: the next poll asks from the cursor and takes only it
    upstream.items.append(
        {"sid": "P6", "seq": 6, "title": "上游门店6号", "tel": "13900000006", "addr": "测试路6号"}
    )
    upstream.requests.clear()
    outcome = pull_run(source=source)
    assert outcome.records == 1 and "since=5" in upstream.requests[0]
    assert Lead.objects.filter(tenant=org.tenant).count() == 6
    # the cursor lost (re-poll from the start): idempotent by external_id, nothing new
    ChannelState.objects.filter(tenant=org.tenant, source=source).update(cursor="")
    outcome = pull_run(source=source)
    assert outcome.by_status == {"duplicate": 6}
    assert Lead.objects.filter(tenant=org.tenant).count() == 6
    assert IntakeRecord.objects.filter(tenant=org.tenant).count() == 6


def test_pull_failure_is_recorded_and_keeps_the_cursor(org, upstream):
    source = pull_source(org, upstream.url)
    upstream.fail = True
    outcome = pull_run(source=source)
    assert "503" in outcome.error
    state = ChannelState.objects.get(tenant=org.tenant, source=source)
    assert state.cursor == "" and "503" in state.last_error and state.last_ok_at is None
    assert not Lead.objects.filter(tenant=org.tenant).exists()


def test_worker_command_runs_due_pull_sources_once(org, upstream, capsys):
    pull_source(org, upstream.url)
    call_command("intake_worker", "--once", "--tenant", "acme")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert line["source"] == "partner-pull" and line["records"] == 5
    assert Lead.objects.filter(tenant=org.tenant).count() == 5


# --- Redis Streams ----------------------------------------------------------------------------------------


class Crash(Exception):
    """The worker dies between commit and acknowledgement."""


@pytest.fixture
def redis_source(org):
    need_service("Redis", 6379)
    from leadsea.intake.channels import redis_streams

    stream = f"leadsea-test:{uuid.uuid4().hex}"
    source = source_get_or_create(
        tenant=org.tenant,
        key="redis-feed",
        channel="queue",
        name="Redis feed",
        config={"backend": "redis", "stream": stream, "block_ms": 100, "claim_idle_ms": 0, "batch": 50},
    )
    client = redis_streams.connect(source)
    yield source, client
    client.delete(stream, f"{stream}:dead")
    client.close()


def test_redis_consumer_creates_each_record_once_even_if_killed_before_ack(org, redis_source):
    from leadsea.intake.channels import redis_streams

    source, client = redis_source
    for i in range(3):
        redis_streams.publish(client, source, json.dumps(store(i, external_id=f"R{i}"), ensure_ascii=False))
    redis_streams.publish(client, source, json.dumps([store(10), store(11)], ensure_ascii=False))  # no ids

    def die(ids: list[str]) -> None:
        raise Crash(ids)

    with pytest.raises(Crash):
        redis_streams.consume_once(source=source, consumer="w1", before_ack=die)
    # committed, not acknowledged: all 5 records are in, the 4 entries still pending
    assert Lead.objects.filter(tenant=org.tenant).count() == 5
    cfg = redis_streams._cfg(source)
    assert client.xpending(cfg["stream"], cfg["group"])["pending"] == 4
    # another worker re-claims the dead one's entries: nothing is created twice, then they are acked
    outcome = redis_streams.consume_once(source=source, consumer="w2")
    assert outcome.records == 5 and outcome.by_status == {"duplicate": 5}
    assert client.xpending(cfg["stream"], cfg["group"])["pending"] == 0
    assert Lead.objects.filter(tenant=org.tenant).count() == 5
    assert IntakeRecord.objects.filter(tenant=org.tenant).count() == 5
    # and nothing is left to read
    assert redis_streams.consume_once(source=source, consumer="w2").records == 0


def test_redis_poison_entries_go_to_the_dead_letter_stream(org, redis_source):
    from leadsea.intake.channels import redis_streams

    source, client = redis_source
    redis_streams.publish(client, source, "{not json")
    redis_streams.publish(client, source, json.dumps(store(1, external_id="ok-1")))
    outcome = redis_streams.consume_once(source=source, consumer="w1")
    assert outcome.dead_lettered == 1 and outcome.by_status == {"created": 1}
    cfg = redis_streams._cfg(source)
    dead = client.xrange(cfg["dead_stream"])
    assert len(dead) == 1 and b"not JSON" in dead[0][1][b"error"] and dead[0][1][b"data"] == b"{not json"
    assert client.xpending(cfg["stream"], cfg["group"])["pending"] == 0


# --- RabbitMQ ---------------------------------------------------------------------------------------------


@pytest.fixture
def rabbit_source(org):
    need_service("RabbitMQ", 5672)
    from leadsea.intake.channels import rabbitmq

    queue = f"leadsea-test-{uuid.uuid4().hex}"
    source = source_get_or_create(
        tenant=org.tenant,
        key="rabbit-feed",
        channel="queue",
        name="Rabbit feed",
        config={"backend": "rabbitmq", "queue": queue, "wait_s": 0.5, "batch": 50},
    )
    connection = rabbitmq.connect(source)
    channel = connection.channel()
    rabbitmq.declare(channel, source)
    yield source, channel
    channel.queue_delete(queue)
    channel.queue_delete(f"{queue}.dead")
    connection.close()


def test_rabbitmq_consumer_creates_each_record_once_even_if_killed_before_ack(org, rabbit_source):
    from leadsea.intake.channels import rabbitmq

    source, channel = rabbit_source
    for i in range(3):
        rabbitmq.publish(channel, source, store(i, external_id=f"Q{i}"))
    rabbitmq.publish(channel, source, store(20), message_id="msg-20")  # id from the message
    rabbitmq.publish(channel, source, store(21))  # id from the body's hash

    def die(tag: int) -> None:
        raise Crash(tag)

    with pytest.raises(Crash):
        rabbitmq.consume_once(source=source, before_ack=die)  # its channel closes unacked: requeued
    assert Lead.objects.filter(tenant=org.tenant).count() == 5
    outcome = rabbitmq.consume_once(source=source)
    assert outcome.records == 5 and outcome.by_status == {"duplicate": 5}
    assert Lead.objects.filter(tenant=org.tenant).count() == 5
    assert IntakeRecord.objects.filter(tenant=org.tenant).count() == 5
    assert rabbitmq.consume_once(source=source).records == 0  # all acked


def test_rabbitmq_poison_to_dead_letter_and_transient_failure_requeues(org, rabbit_source):
    from leadsea.intake.channels import common, rabbitmq

    source, channel = rabbit_source
    rabbitmq.publish(channel, source, "[1, 2]")
    rabbitmq.publish(channel, source, store(1, external_id="T1"))
    real_submit = common.submit

    def database_down(**kwargs: Any) -> Any:
        from django.db import OperationalError

        raise OperationalError("server closed the connection unexpectedly")

    rabbitmq.submit = database_down  # type: ignore[assignment]
    try:
        outcome = rabbitmq.consume_once(source=source)
    finally:
        rabbitmq.submit = real_submit  # type: ignore[assignment]
    assert "closed" in outcome.error and not Lead.objects.filter(tenant=org.tenant).exists()
    # requeued: the next round takes both again; the poison goes to the dead letter with its error
    outcome = rabbitmq.consume_once(source=source)
    assert outcome.by_status == {"created": 1} and outcome.dead_lettered == 1
    _method, props, body = channel.basic_get(rabbitmq._cfg(source)["dead_letter"], auto_ack=True)
    assert body == b"[1, 2]" and "object" in props.headers["x-error"]
