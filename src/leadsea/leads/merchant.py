"""Merchant 360: everything the field team needs about one store, gathered in a few queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from leadsea.leads.models import Lead
from leadsea.leads.selectors import leads_visible
from leadsea.pipeline.models import LostReason, Opportunity, Stage
from leadsea.tenancy.models import Membership, Tenant
from leadsea.visits.models import Contact, Visit


@dataclass
class Merchant360:
    lead: Lead
    contacts: list[Contact]
    visits: list[Visit]
    opportunities: list[Opportunity]
    stages: list[Stage]
    lost_reasons: list[LostReason]
    related: list[Lead]
    # Filled by the operations and competitor work (deals, sales history, competitor sales).
    deals: list[Any] = field(default_factory=list)
    competitor_sales: list[Any] = field(default_factory=list)


def related_stores(*, tenant: Tenant, membership: Membership, lead: Lead, limit: int = 20) -> list[Lead]:
    """Other stores of the same brand (same name, other branches) that the viewer may see."""
    if not lead.name:
        return []
    return list(
        leads_visible(tenant=tenant, membership=membership)
        .filter(Q(name=lead.name) & ~Q(pk=lead.pk))
        .order_by("city", "branch_name", "id")[:limit]
    )


def merchant_360(*, tenant: Tenant, membership: Membership, lead: Lead) -> Merchant360:
    return Merchant360(
        lead=lead,
        contacts=list(Contact.objects.filter(tenant=tenant, lead=lead)),
        visits=list(Visit.objects.filter(tenant=tenant, lead=lead).select_related("user", "contact")[:50]),
        opportunities=list(
            Opportunity.objects.filter(tenant=tenant, lead=lead)
            .select_related("stage", "lost_reason")
            .order_by("-id")
        ),
        stages=list(Stage.objects.filter(tenant=tenant)),
        lost_reasons=list(LostReason.objects.filter(tenant=tenant, is_active=True)),
        related=related_stores(tenant=tenant, membership=membership, lead=lead),
    )
