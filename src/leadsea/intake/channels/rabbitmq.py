"""RabbitMQ consumer of intake records (pika; manual ack after commit, requeue on transient failure,
poison messages to a dead-letter queue with the error).

Source config (IntakeSource.config, channel `queue`, backend `rabbitmq`):
    url          amqp://guest:guest@127.0.0.1:5672/%2F
    queue        the durable queue, e.g. leadsea.intake.acme
    dead_letter  the dead-letter queue (default "<queue>.dead")
    batch        messages taken per round (default 100; also the prefetch)
    wait_s       how long a round waits for the first message (default 1)

A round takes up to `batch` messages, submits their records in one intake transaction, and only then acks
them (one multiple-ack). A consumer killed before the ack leaves them unacknowledged: RabbitMQ redelivers
them to the next consumer and intake's idempotency (source + external_id; the message id or the body's hash
when the record has none) makes the redelivery a no-op."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from leadsea.core import clock
from leadsea.intake.channels.common import (
    PoisonMessage,
    RunOutcome,
    body_id,
    is_transient,
    parse_body,
    submit,
)
from leadsea.intake.models import IntakeSource

log = logging.getLogger(__name__)


def _cfg(source: IntakeSource) -> dict[str, Any]:
    c: dict[str, Any] = source.config or {}
    queue = c.get("queue") or f"leadsea.intake.{source.tenant_id}.{source.key}"
    return {
        "url": c.get("url") or "amqp://guest:guest@127.0.0.1:5672/%2F",
        "queue": queue,
        "dead_letter": c.get("dead_letter") or f"{queue}.dead",
        "batch": int(c.get("batch") or 100),
        "wait_s": float(c["wait_s"]) if c.get("wait_s") is not None else 1.0,
    }


def connect(source: IntakeSource) -> pika.BlockingConnection:
    params = pika.URLParameters(_cfg(source)["url"])
    params.socket_timeout = 10
    params.blocked_connection_timeout = 30
    return pika.BlockingConnection(params)


def declare(channel: BlockingChannel, source: IntakeSource) -> None:
    cfg = _cfg(source)
    channel.queue_declare(queue=cfg["queue"], durable=True)
    channel.queue_declare(queue=cfg["dead_letter"], durable=True)


def consume_once(
    *,
    source: IntakeSource,
    connection: pika.BlockingConnection | None = None,
    now: datetime | None = None,
    before_ack: Callable[[int], None] | None = None,
) -> RunOutcome:
    """One round on its own channel. `before_ack` runs between commit and ack (tests die there)."""
    cfg = _cfg(source)
    own = connection is None
    connection = connection or connect(source)
    outcome = RunOutcome(source=source.key)
    channel = connection.channel()
    try:
        declare(channel, source)
        channel.basic_qos(prefetch_count=cfg["batch"])
        messages: list[tuple[Any, Any, bytes]] = []
        wait = cfg["wait_s"]
        for method, props, body in channel.consume(cfg["queue"], inactivity_timeout=wait):
            if method is None:
                break  # nothing more within the wait
            messages.append((method, props, body))
            if len(messages) >= cfg["batch"]:
                break
        channel.cancel()  # unacked messages stay ours until ack/nack or the channel closes
        if not messages:
            return outcome
        records: list[dict[str, Any]] = []
        poison: list[tuple[Any, Any, bytes, str]] = []
        for method, props, body in messages:
            fallback = f"amqp:{props.message_id}" if props and props.message_id else body_id(body)
            try:
                records += parse_body(body, fallback_id=fallback)
            except PoisonMessage as exc:
                poison.append((method, props, body, str(exc)))
        last_tag = messages[-1][0].delivery_tag
        if records:
            try:
                outcome.count(submit(source=source, records=records, now=now or clock.now()))
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("rabbitmq intake %s: transient failure, requeued: %s", source.key, exc)
                channel.basic_nack(delivery_tag=last_tag, multiple=True, requeue=True)
                outcome.error = str(exc)[:300]
                return outcome
        for _method, props, body, reason in poison:
            headers = dict((props.headers or {}) if props else {})
            headers.update({"x-error": reason, "x-source-queue": cfg["queue"]})
            channel.basic_publish(
                exchange="",
                routing_key=cfg["dead_letter"],
                body=body,
                properties=pika.BasicProperties(headers=headers, delivery_mode=2),
            )
            outcome.dead_lettered += 1
        if before_ack is not None:
            before_ack(last_tag)
        channel.basic_ack(delivery_tag=last_tag, multiple=True)
        return outcome
    finally:
        if channel.is_open:
            channel.close()
        if own and connection.is_open:
            connection.close()


def publish(
    channel: BlockingChannel, source: IntakeSource, body: str | dict[str, Any] | list[Any], **props: Any
) -> None:
    """Publish one message to the source's queue (persistent); for tests and the docs' example."""
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    channel.basic_publish(
        exchange="",
        routing_key=_cfg(source)["queue"],
        body=text.encode(),
        properties=pika.BasicProperties(delivery_mode=2, content_type="application/json", **props),
    )
