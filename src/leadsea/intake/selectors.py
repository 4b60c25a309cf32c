"""Reads of intake: records, the review queue, merges, sources and import jobs, scoped to the tenant and
to who may see them (records: their submitter, or admins/HQ/managers; the queue and merges:
admins/HQ/managers). Anything out of scope is simply not found."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from leadsea.core.errors import FieldInvalid, NotFound
from leadsea.intake.errors import ImportJobNotFound, MergeNotFound, ReviewItemNotFound
from leadsea.intake.models import (
    ImportJob,
    IntakeRecord,
    IntakeSource,
    LeadMerge,
    ReviewItem,
)
from leadsea.leads.models import Lead
from leadsea.tenancy.models import Membership, Tenant

SUPERVISING = (Membership.Role.ADMIN, Membership.Role.HQ, Membership.Role.MANAGER)


def supervises_intake(membership: Membership) -> bool:
    return membership.role in SUPERVISING


def records_visible(*, tenant: Tenant, membership: Membership) -> QuerySet[IntakeRecord]:
    qs = IntakeRecord.objects.filter(tenant=tenant)
    if not supervises_intake(membership):
        qs = qs.filter(submitted_by_id=membership.user_id)
    return qs


def record_get(*, tenant: Tenant, membership: Membership, record_id: int) -> IntakeRecord:
    found = (
        records_visible(tenant=tenant, membership=membership)
        .select_related("source")
        .filter(pk=record_id)
        .first()
    )
    if found is None:
        raise NotFound(_("Intake record not found."), code="record_not_found")
    return found


def review_queue(
    *, tenant: Tenant, membership: Membership, status: str = ReviewItem.Status.OPEN
) -> QuerySet[ReviewItem]:
    """Review items, the most likely duplicates first."""
    if not supervises_intake(membership):
        return ReviewItem.objects.filter(tenant=tenant).none()
    if status not in ReviewItem.Status.values:
        raise FieldInvalid(
            _("status must be one of %(choices)s.") % {"choices": ", ".join(ReviewItem.Status.values)},
            field="status",
        )
    return (
        ReviewItem.objects.filter(tenant=tenant, status=status)
        .select_related("record", "record__source", "candidate")
        .order_by("-score", "id")
    )


def review_item_get(*, tenant: Tenant, membership: Membership, item_id: int) -> ReviewItem:
    found = None
    if supervises_intake(membership):
        found = (
            ReviewItem.objects.filter(tenant=tenant, pk=item_id)
            .select_related("record", "record__source", "candidate")
            .first()
        )
    if found is None:
        raise ReviewItemNotFound()
    return found


def merge_get(*, tenant: Tenant, membership: Membership, merge_id: int) -> LeadMerge:
    found = None
    if supervises_intake(membership):
        found = LeadMerge.objects.filter(tenant=tenant, pk=merge_id).first()
    if found is None:
        raise MergeNotFound()
    return found


def merges_of(*, tenant: Tenant, lead: Lead) -> QuerySet[LeadMerge]:
    """The merges a lead took part in, newest first."""
    from django.db.models import Q

    return LeadMerge.objects.filter(Q(survivor=lead) | Q(merged=lead), tenant=tenant).order_by("-at", "-id")


def sources(*, tenant: Tenant) -> QuerySet[IntakeSource]:
    return IntakeSource.objects.filter(tenant=tenant).order_by("key")


def source_by_key(*, tenant: Tenant, key: str) -> IntakeSource | None:
    return IntakeSource.objects.filter(tenant=tenant, key=key).first()


def import_jobs(*, tenant: Tenant, membership: Membership) -> QuerySet[ImportJob]:
    qs = ImportJob.objects.filter(tenant=tenant).select_related("source").order_by("-created_at", "-id")
    if not supervises_intake(membership):
        return qs.none()
    return qs


def import_job_get(*, tenant: Tenant, membership: Membership, job_id: int) -> ImportJob:
    found = import_jobs(tenant=tenant, membership=membership).filter(pk=job_id).first()
    if found is None:
        raise ImportJobNotFound()
    return found
