"""Redis Streams consumer of intake records (redis-py; consumer group, at-least-once, idempotent intake).

Source config (IntakeSource.config, channel `queue`, backend `redis`):
    url          redis://127.0.0.1:6379/0
    stream       the stream key, e.g. leadsea:intake:acme
    group        consumer group (default "leadsea")
    field        entry field that holds the JSON body (default "data")
    batch        entries read per call (default 100)
    block_ms     how long XREADGROUP waits for new entries (default 1000)
    claim_idle_ms  pending entries idle this long are re-claimed from dead consumers (default 60000)
    dead_stream  where poison entries go with their error (default "<stream>:dead")

Each entry's records are committed by intake_submit first and XACKed after: a consumer killed between the
two leaves the entry pending; another consumer re-claims it with XAUTOCLAIM and intake's idempotency by
source + external_id (the entry id when the record has none) makes the second submit a no-op."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import redis

from leadsea.core import clock
from leadsea.intake.channels.common import PoisonMessage, RunOutcome, is_transient, parse_body, submit
from leadsea.intake.models import IntakeSource

log = logging.getLogger(__name__)


def _cfg(source: IntakeSource) -> dict[str, Any]:
    c: dict[str, Any] = source.config or {}
    stream = c.get("stream") or f"leadsea:intake:{source.tenant_id}:{source.key}"
    return {
        "url": c.get("url") or "redis://127.0.0.1:6379/0",
        "stream": stream,
        "group": c.get("group") or "leadsea",
        "field": c.get("field") or "data",
        "batch": int(c.get("batch") or 100),
        "block_ms": int(c["block_ms"]) if c.get("block_ms") is not None else 1000,
        "claim_idle_ms": int(c["claim_idle_ms"]) if c.get("claim_idle_ms") is not None else 60_000,
        "dead_stream": c.get("dead_stream") or f"{stream}:dead",
    }


def connect(source: IntakeSource) -> redis.Redis:
    return redis.Redis.from_url(_cfg(source)["url"], socket_timeout=10, socket_connect_timeout=5)


def ensure_group(client: redis.Redis, source: IntakeSource) -> None:
    cfg = _cfg(source)
    try:
        client.xgroup_create(cfg["stream"], cfg["group"], id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def consume_once(
    *,
    source: IntakeSource,
    consumer: str,
    client: redis.Redis | None = None,
    now: datetime | None = None,
    before_ack: Callable[[list[str]], None] | None = None,
) -> RunOutcome:
    """One round: re-claim stale pending entries, read new ones, submit, then XACK what is committed.
    `before_ack` runs between commit and ack (tests use it to die there, as a killed worker would)."""
    cfg = _cfg(source)
    client = client or connect(source)
    ensure_group(client, source)
    outcome = RunOutcome(source=source.key)
    entries: list[tuple[str, dict[Any, Any]]] = []
    # Entries another consumer read but never acknowledged (it died): take them over first.
    claimed = client.xautoclaim(
        cfg["stream"],
        cfg["group"],
        consumer,
        min_idle_time=cfg["claim_idle_ms"],
        start_id="0-0",
        count=cfg["batch"],
    )
    entries += [(_decode(eid), fields) for eid, fields in (claimed[1] if claimed else []) if fields]
    if len(entries) < cfg["batch"]:
        read = client.xreadgroup(
            cfg["group"],
            consumer,
            {cfg["stream"]: ">"},
            count=cfg["batch"] - len(entries),
            block=cfg["block_ms"] or None,
        )
        for _stream, rows in cast(list[Any], read or []):
            entries += [(_decode(eid), fields) for eid, fields in rows]
    if not entries:
        return outcome
    records: list[dict[str, Any]] = []
    good_ids: list[str] = []
    poison: list[tuple[str, dict[Any, Any], str]] = []
    for eid, fields in entries:
        body = fields.get(cfg["field"].encode(), fields.get(cfg["field"]))
        try:
            if body is None:
                raise PoisonMessage(f"no {cfg['field']!r} field")
            records += parse_body(body, fallback_id=f"{cfg['stream']}:{eid}")
            good_ids.append(eid)
        except PoisonMessage as exc:
            poison.append((eid, fields, str(exc)))
    if records:
        try:
            outcome.count(submit(source=source, records=records, now=now or clock.now()))
        except Exception as exc:
            if not is_transient(exc):
                raise
            # Not acknowledged: the entries stay pending and are re-claimed on a later round.
            log.warning(
                "redis intake %s: transient failure, %d entries left pending: %s",
                source.key,
                len(good_ids),
                exc,
            )
            outcome.error = str(exc)[:300]
            good_ids = []
    for eid, fields, reason in poison:
        dead = {_decode(k): _decode(v) for k, v in fields.items()}
        dead.update(error=reason, source_id=eid, stream=cfg["stream"])
        client.xadd(cfg["dead_stream"], cast(Any, dead))
        outcome.dead_lettered += 1
    ack = good_ids + [eid for eid, _f, _r in poison]
    if before_ack is not None:
        before_ack(ack)
    if ack:
        client.xack(cfg["stream"], cfg["group"], *ack)
    return outcome


def publish(client: redis.Redis, source: IntakeSource, body: str) -> str:
    """Add one message (a JSON record or array) to the source's stream; for tests and the docs' example."""
    cfg = _cfg(source)
    return _decode(client.xadd(cfg["stream"], {cfg["field"]: body}))
