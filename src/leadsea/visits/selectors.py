"""Reads on contacts and visits."""

from __future__ import annotations

from typing import Any

from django.db.models import Max, QuerySet
from django.utils.translation import gettext as _

from leadsea.visits.models import Contact, Visit


def contacts_of(*, tenant: Any, lead: Any) -> QuerySet[Contact]:
    return Contact.objects.filter(tenant=tenant, lead=lead)


def visits_of(*, tenant: Any, lead: Any, limit: int = 200) -> QuerySet[Visit]:
    return (
        Visit.objects.filter(tenant=tenant, lead=lead)
        .select_related("user", "contact")
        .order_by("-visited_at", "-id")[:limit]
    )


def last_visits(*, tenant: Any, lead_ids: list[int]) -> dict[int, Visit]:
    """The latest visit of each lead, in one query (for lists such as nearby)."""
    if not lead_ids:
        return {}
    # Visits are append-only and stamped at insert, so the highest id of a lead is its latest visit.
    last_ids = (
        Visit.objects.filter(tenant=tenant, lead_id__in=lead_ids).values("lead_id").annotate(last=Max("id"))
    )
    visits = Visit.objects.filter(tenant=tenant, pk__in=last_ids.values("last")).select_related("user")
    return {v.lead_id: v for v in visits}


def visit_photo_file(*, tenant: Any, membership: Any, visit_id: int) -> tuple[Any, str]:
    """The photo of a visit to a store the viewer may see: (open file, content type)."""
    import mimetypes

    from leadsea.core.errors import NotFound
    from leadsea.leads.selectors import lead_get

    visit = Visit.objects.filter(tenant=tenant, pk=visit_id).first()
    if visit is None or not visit.photo:
        raise NotFound(_("Photo not found."), code="photo_not_found")
    lead_get(tenant=tenant, membership=membership, lead_id=visit.lead_id)
    content_type = mimetypes.guess_type(visit.photo.name)[0] or "application/octet-stream"
    return visit.photo.open("rb"), content_type
