"""The pool clocks as pure functions: deadlines from a claim, a verified visit, a stage advance, an extension;
the lead's expires_at is the earliest, and the clock that binds is named."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

PROTECTION = "protection"
NO_VISIT = "no_visit"
NO_PROGRESS = "no_progress"


@dataclass(frozen=True)
class Deadlines:
    protection_until: datetime
    visit_due_at: datetime
    progress_due_at: datetime

    def earliest(self) -> tuple[datetime, str]:
        # Ties name the clock a BD can act on first: a visit, then progress, then protection.
        options = [
            (self.visit_due_at, 0, NO_VISIT),
            (self.progress_due_at, 1, NO_PROGRESS),
            (self.protection_until, 2, PROTECTION),
        ]
        at, _, clock = min(options)
        return at, clock


def on_claim(policy: Any, now: datetime) -> Deadlines:
    return Deadlines(
        protection_until=now + timedelta(days=policy.protection_days),
        visit_due_at=now + timedelta(days=policy.no_visit_days),
        progress_due_at=now + timedelta(days=policy.no_progress_days),
    )


def current(lead: Any) -> Deadlines:
    return Deadlines(lead.protection_until, lead.visit_due_at, lead.progress_due_at)


def on_visit(lead: Any, policy: Any, visited_at: datetime) -> Deadlines:
    """A verified visit restarts the no-visit clock (never moves it earlier)."""
    d = current(lead)
    return Deadlines(
        d.protection_until,
        max(d.visit_due_at, visited_at + timedelta(days=policy.no_visit_days)),
        d.progress_due_at,
    )


def on_progress(lead: Any, policy: Any, at: datetime) -> Deadlines:
    """A stage advance restarts the no-progress clock (never moves it earlier)."""
    d = current(lead)
    return Deadlines(
        d.protection_until,
        d.visit_due_at,
        max(d.progress_due_at, at + timedelta(days=policy.no_progress_days)),
    )


def on_extend(lead: Any, days: int) -> Deadlines:
    """An extension pushes every clock out by the same days: the lead stays protected `days` longer than it
    would have, whichever clock was binding."""
    d = current(lead)
    delta = timedelta(days=days)
    return Deadlines(d.protection_until + delta, d.visit_due_at + delta, d.progress_due_at + delta)


def apply(lead: Any, deadlines: Deadlines) -> None:
    lead.protection_until = deadlines.protection_until
    lead.visit_due_at = deadlines.visit_due_at
    lead.progress_due_at = deadlines.progress_due_at
    if lead.locked or lead.signed_at is not None:
        lead.expires_at, lead.expiry_clock = None, ""
    else:
        lead.expires_at, lead.expiry_clock = deadlines.earliest()


def clear(lead: Any) -> None:
    """Back to the public sea: no owner, no clocks."""
    lead.owner_id = None
    lead.claimed_at = lead.protection_until = lead.visit_due_at = lead.progress_due_at = None
    lead.expires_at, lead.expiry_clock = None, ""
    lead.self_extensions_used = 0
    lead.extension_days = 0
    lead.locked = False


def clocks_of(lead: Any) -> dict[str, Any]:
    """The clock values a ledger row records."""
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return {
        "claimed_at": iso(lead.claimed_at),
        "last_visit_at": iso(lead.last_visit_at),
        "last_progress_at": iso(lead.last_progress_at),
        "protection_until": iso(lead.protection_until),
        "visit_due_at": iso(lead.visit_due_at),
        "progress_due_at": iso(lead.progress_due_at),
        "expires_at": iso(lead.expires_at),
        "expiry_clock": lead.expiry_clock,
        "extension_days": lead.extension_days,
        "self_extensions_used": lead.self_extensions_used,
        "locked": lead.locked,
    }


def is_private(lead: Any, now: datetime) -> bool:
    return lead.owner_id is not None and (lead.expires_at is None or lead.expires_at > now)
