"""Writes of the mobile app that span two core services: a check-in that may add the KP it met."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from leadsea.core import clock
from leadsea.core.errors import DomainError
from leadsea.tenancy.models import Membership, Tenant
from leadsea.visits.models import Visit
from leadsea.visits.services import contact_create, visit_record


@transaction.atomic
def checkin_record(
    *,
    tenant: Tenant,
    actor: Membership,
    lead_id: int,
    visit: dict[str, Any],
    new_contact: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Visit:
    """Record a visit (`visit` holds visit_record's keyword arguments), first adding the contact met when it
    is new: one transaction, so a refused visit leaves no stray contact behind. A contact error names its
    field as `contact.<field>`."""
    now = now or clock.now()
    contact_id = visit.pop("contact_id", None)
    if new_contact is not None:
        try:
            contact = contact_create(tenant=tenant, actor=actor, lead_id=lead_id, data=new_contact, now=now)
        except DomainError as exc:
            exc.field = f"contact.{exc.field}" if exc.field else "contact"
            raise
        contact_id = contact.pk
    return visit_record(tenant=tenant, actor=actor, lead_id=lead_id, contact_id=contact_id, now=now, **visit)
