"""What intake records when a person creates or edits a lead in the workbench (called by leads.services):
per-field provenance (channel bd; verified when a BD gave it) and the lead's blocking keys, so that later
intake finds the lead as a candidate and weighs its values in survivorship."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# lead_snapshot keys -> survivorship fields
_FIELD_OF = {"lat": "position", "lng": "position"}


def intake_lead_recorded(
    *, tenant: Any, lead: Any, actor: Any, now: datetime, fields: set[str] | None = None
) -> None:
    """fields: the lead_snapshot keys an edit changed (None on create)."""
    from leadsea.intake import services

    names = None if fields is None else {_FIELD_OF.get(f, f) for f in fields}
    services.lead_provenance_record(tenant=tenant, lead=lead, actor=actor, now=now, fields=names)
