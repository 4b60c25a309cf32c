"""Merchant 360: everything the field team needs about one store, gathered in a few queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import F, QuerySet

from leadsea.core import geo
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
    related: list[RelatedStore]
    # Filled by the operations and competitor work (deals, sales history, competitor sales).
    deals: list[Any] = field(default_factory=list)
    competitor_sales: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class RelatedStore:
    lead: Lead
    distance_m: float | None  # from the store being looked at


def related_stores(
    *,
    tenant: Tenant,
    membership: Membership,
    lead: Lead,
    limit: int = 20,
    now: datetime | None = None,
    visible: QuerySet[Lead] | None = None,
) -> list[RelatedStore]:
    """Other stores of the same brand (same name, other branches) that the caller may see, nearest first.
    `visible`: the caller's `leads_visible` when the caller has it already (one query less)."""
    if not lead.name:
        return []
    if visible is None:
        visible = leads_visible(tenant=tenant, membership=membership, now=now)
    qs = (
        visible.filter(name=lead.name)
        .exclude(pk=lead.pk)
        .only(
            "id",
            "name",
            "branch_name",
            "city",
            "district",
            "address",
            "lat",
            "lng",
            "owner_id",
            "expires_at",
            "status",
            "signed_at",
        )
        .order_by("id")[:200]
    )
    stores = []
    for other in qs:
        distance = None
        if None not in (lead.lat, lead.lng, other.lat, other.lng):
            distance = geo.haversine_m(lead.lat, lead.lng, other.lat, other.lng)  # type: ignore[arg-type]
        stores.append(RelatedStore(lead=other, distance_m=distance))
    stores.sort(key=lambda s: (s.distance_m is None, s.distance_m or 0.0, s.lead.pk))
    return stores[:limit]


def opportunities_of(*, tenant: Tenant, lead: Lead) -> QuerySet[Opportunity]:
    """A lead's opportunities, open ones first, newest first."""
    return (
        Opportunity.objects.filter(tenant=tenant, lead=lead)
        .select_related("stage", "lost_reason")
        .order_by(F("closed_at").desc(nulls_first=True), "-created_at", "-id")
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
