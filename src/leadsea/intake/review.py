"""Reads for the review queue (scoped to reviewers) and for submitters (status of their own submissions)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from leadsea.core.errors import NotFound
from leadsea.intake.models import IntakeRecord, IntakeSource, ReviewItem
from leadsea.leads.models import Lead
from leadsea.leads.selectors import leads_visible
from leadsea.tenancy.models import Membership, Tenant

REVIEWER_ROLES = (Membership.Role.ADMIN, Membership.Role.HQ, Membership.Role.MANAGER)


def can_review(membership: Membership | None) -> bool:
    return membership is not None and membership.role in REVIEWER_ROLES


def review_queue(*, tenant: Tenant, membership: Membership, status: str = "open") -> QuerySet[ReviewItem]:
    """Review items best score first. A manager sees the items whose candidate lead is in their scope;
    hq and admin the whole tenant; anyone else nothing."""
    qs = ReviewItem.objects.filter(tenant=tenant)
    if not can_review(membership):
        return qs.none()
    if status:
        qs = qs.filter(status=status)
    if not membership.sees_whole_tenant:
        qs = qs.filter(candidate__in=leads_visible(tenant=tenant, membership=membership).values("id"))
    return qs.select_related("record", "record__source", "candidate").order_by("-score", "id")


def review_item_get(*, tenant: Tenant, membership: Membership, item_id: int) -> ReviewItem:
    item = review_queue(tenant=tenant, membership=membership, status="").filter(pk=item_id).first()
    if item is None:
        raise NotFound(_("Review item not found."), code="review_item_not_found")
    return item


# The fields compared side by side, with the key of their share in matching.compare()'s explanation.
COMPARED = [
    ("name", gettext_lazy("Name"), "name"),
    ("branch_name", gettext_lazy("Branch"), "branch"),
    ("address", gettext_lazy("Address"), "address"),
    ("phones", gettext_lazy("Phones"), "phone"),
    ("position", gettext_lazy("Position"), "distance"),
    ("city", gettext_lazy("City"), "city"),
    ("category", gettext_lazy("Category"), "category"),
]


@dataclass(frozen=True, slots=True)
class ComparedField:
    field: str
    label: str
    incoming: str
    existing: str
    differs: bool
    weight: float | None  # log-odds share of the score; > 0 speaks for a match, < 0 against

    @property
    def verdict(self) -> str:
        if self.weight is None or abs(self.weight) < 0.05:
            return "neutral"
        return "for" if self.weight > 0 else "against"


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lng1, lat2, lng2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _record_value(record: IntakeRecord, field: str) -> Any:
    data = record.normalized or {}
    raw = record.raw or {}
    if field == "position":
        lat: Any = data.get("lat", raw.get("lat"))
        lng: Any = data.get("lng", raw.get("lng"))
        return (float(lat), float(lng)) if lat not in (None, "") and lng not in (None, "") else None
    if field == "phones":
        phones = data.get("phones") or raw.get("phones") or ([raw["phone"]] if raw.get("phone") else [])
        return list(phones) if isinstance(phones, list) else [str(phones)]
    return data.get(field) if field in data else raw.get(field, "")


def _lead_value(lead: Lead, field: str) -> Any:
    if field == "position":
        return (lead.lat, lead.lng) if lead.lat is not None and lead.lng is not None else None
    if field == "phones":
        return list(lead.phones or ([lead.phone] if lead.phone else []))
    return getattr(lead, field, "")


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return f"{value[0]:.6f}, {value[1]:.6f}"
    if isinstance(value, list):
        return " / ".join(str(v) for v in value)
    return str(value)


def review_comparison(item: ReviewItem) -> list[ComparedField]:
    """The record and the candidate lead side by side, with each field's share of the score."""
    explanation = item.explanation or {}
    rows = []
    for field, label, part in COMPARED:
        incoming, existing = _record_value(item.record, field), _lead_value(item.candidate, field)
        if field == "position":
            differs = bool(incoming and existing and _distance_m(incoming, existing) > 50)
        elif field == "phones":
            differs = bool(incoming and existing and not set(incoming) & set(existing))
        else:
            differs = bool(incoming and existing and str(incoming).strip() != str(existing).strip())
        shown_in = _show(incoming)
        if field == "position" and incoming and existing:
            shown_in += " · " + _("%(m)d m apart") % {"m": round(_distance_m(incoming, existing))}
        weight = explanation.get(part)
        rows.append(
            ComparedField(
                field=field,
                label=str(label),
                incoming=shown_in,
                existing=_show(existing),
                differs=differs,
                weight=float(weight) if isinstance(weight, int | float) else None,
            )
        )
    return rows


# What a submitter may know of their submission: never the lead it matched or anyone's data.
PUBLIC_STATUS: dict[str, tuple[str, Any]] = {
    IntakeRecord.Status.PENDING: ("received", pgettext_lazy("intake record status", "Received")),
    IntakeRecord.Status.ERROR: ("received", pgettext_lazy("intake record status", "Received")),
    IntakeRecord.Status.REVIEW: ("review", gettext_lazy("Under review")),
    IntakeRecord.Status.CREATED: ("accepted", gettext_lazy("Accepted")),
    IntakeRecord.Status.MERGED: ("accepted", gettext_lazy("Accepted")),
    IntakeRecord.Status.REJECTED: ("rejected", gettext_lazy("Not accepted")),
}


@dataclass(frozen=True, slots=True)
class SubmissionStatus:
    code: str  # the reference code
    name: str  # the store name as submitted
    received_at: Any
    state: str  # received | review | accepted | rejected
    label: str


def _submission_status(record: IntakeRecord) -> SubmissionStatus:
    state, label = PUBLIC_STATUS.get(record.status, PUBLIC_STATUS[IntakeRecord.Status.PENDING])
    return SubmissionStatus(
        code=record.external_id,
        name=str((record.raw or {}).get("name", "")),
        received_at=record.received_at,
        state=state,
        label=str(label),
    )


def submission_status(*, tenant: Tenant, code: str) -> SubmissionStatus:
    """A self-submission by its reference code (the code is the capability: long and random)."""
    record = (
        IntakeRecord.objects.filter(
            tenant=tenant,
            source__tenant=tenant,
            source__channel=IntakeSource.Channel.SELF_SUBMISSION,
            external_id=code.strip().upper(),
        )
        .exclude(external_id="")
        .first()
    )
    if record is None:
        raise NotFound(_("No submission has this reference code."), code="submission_not_found")
    return _submission_status(record)


def submissions_of(*, tenant: Tenant, membership: Membership, limit: int = 100) -> list[SubmissionStatus]:
    """A crowdsourcer's own submissions, newest first."""
    qs = IntakeRecord.objects.filter(
        tenant=tenant,
        source__tenant=tenant,
        source__channel=IntakeSource.Channel.CROWD,
        submitted_by_id=membership.user_id,
    ).order_by("-received_at", "-id")
    return [_submission_status(r) for r in qs[:limit]]
