"""Shared by the worker channels: submitting a batch (intake + tags), parsing bodies, state rows."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction

from leadsea.intake.channels.models import ChannelState
from leadsea.intake.models import IntakeSource
from leadsea.intake.services import IntakeResult
from leadsea.intake.submit import intake_submit_tagged


class PoisonMessage(ValueError):
    """A message that can never become records (not JSON, not an object): dead-lettered with the reason."""


def is_transient(exc: BaseException) -> bool:
    """A failure worth retrying later (the database went away, a lock timed out): the message is not
    acknowledged, so it comes back. IntegrityError is a bug or a race that a retry settles too."""
    return isinstance(exc, DatabaseError | IntegrityError | ConnectionError | TimeoutError)


def parse_body(body: bytes | str, *, fallback_id: str) -> list[dict[str, Any]]:
    """A message carries one record (a JSON object) or several (an array, or {"records": [...]}). A record
    without external_id gets one from the message (its id, else the body's hash), so a redelivered message
    is recognised by intake's idempotency and never creates twice."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonMessage(f"not JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        data = data["records"]
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(x, dict) for x in items):
        raise PoisonMessage("a message must be a JSON object or a non-empty array of objects")
    out = []
    for i, item in enumerate(items):
        if not str(item.get("external_id") or "").strip():
            suffix = f"#{i}" if len(items) > 1 else ""
            item = {**item, "external_id": f"{fallback_id}{suffix}"[:200]}
        out.append(item)
    return out


def body_id(body: bytes | str) -> str:
    raw = body.encode() if isinstance(body, str) else body
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:40]


def submit(
    *, source: IntakeSource, records: list[dict[str, Any]], now: datetime | None = None
) -> list[IntakeResult]:
    """The records through intake and the tag rules on the leads they touched (one transaction)."""
    return intake_submit_tagged(tenant=source.tenant, source=source, records=records, now=now)


@dataclass
class RunOutcome:
    source: str
    records: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    dead_lettered: int = 0
    error: str = ""

    def count(self, results: list[IntakeResult]) -> None:
        self.records += len(results)
        for r in results:
            key = "duplicate" if r.duplicate else r.status
            self.by_status[key] = self.by_status.get(key, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "records": self.records,
            "by_status": self.by_status,
            "dead_lettered": self.dead_lettered,
            "error": self.error,
        }


def state_of(source: IntakeSource) -> ChannelState:
    state = ChannelState.objects.filter(tenant_id=source.tenant_id, source=source).first()
    if state is None:
        try:
            with transaction.atomic():
                state = ChannelState.objects.create(tenant_id=source.tenant_id, source=source)
        except IntegrityError:
            state = ChannelState.objects.get(tenant_id=source.tenant_id, source=source)
    return state


def state_save(
    state: ChannelState, *, now: datetime, interval_s: float, ok: bool, error: str = "", seen: int = 0
) -> None:
    state.last_run_at = now
    state.next_run_at = now + timedelta(seconds=interval_s)
    state.runs += 1
    state.records_seen += seen
    if ok:
        state.last_ok_at = now
        state.last_error = ""
    else:
        state.last_error = error[:500]
    state.save()
