"""API of intake: the upstream push (batched, idempotent by source + external_id), records, the review
queue and its decisions, lead merges and their undo, sources and the tenant's thresholds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from leadsea.core.errors import Forbidden
from leadsea.intake.errors import TooManyRecords
from leadsea.intake.models import IntakeRecord, IntakeSource, LeadMerge, ReviewItem
from leadsea.intake.selectors import (
    merge_get,
    record_get,
    review_item_get,
    review_queue,
    source_by_key,
    sources,
    supervises_intake,
)
from leadsea.intake.services import (
    intake_settings_get,
    intake_settings_update,
    lead_merge,
    lead_unmerge,
    review_decide,
    source_get_or_create,
)
from leadsea.intake.submit import intake_submit_tagged
from leadsea.leads.selectors import lead_get
from leadsea.tenancy.http import TenantRequest

router = Router(tags=["intake"])
MAX_RECORDS = 500


class RecordsIn(Schema):
    source: str = Field(description="Source key (created on first use by an admin or HQ, channel `push`)")
    records: list[dict[str, Any]] = Field(
        description="Up to 500 records: external_id, name, branch_name, address, province, city, district, "
        "phone, lat, lng, coord_sys (wgs84|gcj02|bd09), category, tags, custom_fields"
    )


class ErrorOut(Schema):
    code: str
    message: str
    field: str | None


class ResultOut(Schema):
    index: int
    status: str = Field(description="created, merged, review, rejected or error")
    record_id: int | None
    lead_id: int | None
    review_item_id: int | None
    score: float | None
    errors: list[ErrorOut]
    duplicate: bool = Field(description="The same source + external_id + payload was submitted before")


class SubmitOut(Schema):
    results: list[ResultOut]
    counts: dict[str, int]


class RecordOut(Schema):
    id: int
    source: str
    channel: str
    external_id: str
    status: str
    lead_id: int | None
    score: float | None
    error: ErrorOut | None
    raw: dict[str, Any]
    normalized: dict[str, Any]
    received_at: datetime
    updated_at: datetime


def record_out(record: IntakeRecord) -> dict[str, Any]:
    return {
        "id": record.pk,
        "source": record.source.key,
        "channel": record.source.channel,
        "external_id": record.external_id,
        "status": record.status,
        "lead_id": record.lead_id,
        "score": record.score,
        "error": (
            {"code": record.error_code, "message": record.error_message, "field": record.error_field or None}
            if record.error_code
            else None
        ),
        "raw": record.raw,
        "normalized": record.normalized,
        "received_at": record.received_at,
        "updated_at": record.updated_at,
    }


class CandidateOut(Schema):
    id: int
    name: str
    branch_name: str
    address: str
    city: str
    phones: list[str]
    lat: float | None
    lng: float | None
    category: str


class ReviewOut(Schema):
    id: int
    status: str
    score: float
    explanation: dict[str, float] = Field(
        description="Each field's share of the score (log-odds) and the score"
    )
    alternatives: list[dict[str, Any]]
    record: RecordOut
    candidate: CandidateOut
    decided_by: int | None
    decided_at: datetime | None
    created_at: datetime


def review_out(item: ReviewItem) -> dict[str, Any]:
    c = item.candidate
    return {
        "id": item.pk,
        "status": item.status,
        "score": item.score,
        "explanation": item.explanation,
        "alternatives": item.alternatives,
        "record": record_out(item.record),
        "candidate": {
            "id": c.pk,
            "name": c.name,
            "branch_name": c.branch_name,
            "address": c.address,
            "city": c.city,
            "phones": c.phones,
            "lat": c.lat,
            "lng": c.lng,
            "category": c.category,
        },
        "decided_by": item.decided_by_id,
        "decided_at": item.decided_at,
        "created_at": item.created_at,
    }


class ReviewPage(Schema):
    items: list[ReviewOut]
    count: int
    page: int
    page_size: int


class ReviewFilters(Schema):
    status: str = Field("open", description="open, merged, not_duplicate or created")
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=200)


class DecisionIn(Schema):
    decision: str = Field(description="merge, not_duplicate or create")


class MergeIn(Schema):
    survivor_id: int = Field(description="The lead that stays")
    merged_id: int = Field(description="The lead merged into it (hidden until the merge is undone)")


class MergeOut(Schema):
    id: int
    survivor_id: int
    merged_id: int
    moved: dict[str, Any] = Field(description="Ids of the rows moved to the survivor, by kind")
    merged_by: int | None
    at: datetime
    undone_at: datetime | None
    undone_by: int | None


def merge_out(merge: LeadMerge) -> dict[str, Any]:
    return {
        "id": merge.pk,
        "survivor_id": merge.survivor_id,
        "merged_id": merge.merged_id,
        "moved": {k: v for k, v in merge.moved_ids.items() if k != "survivor_after"},
        "merged_by": merge.merged_by_id,
        "at": merge.at,
        "undone_at": merge.undone_at,
        "undone_by": merge.undone_by_id,
    }


class SourceOut(Schema):
    id: int
    key: str
    channel: str
    name: str
    trust: int
    is_active: bool


class SettingsOut(Schema):
    auto_merge_at: float = Field(description="At or above this match probability a record is merged")
    review_at: float = Field(description="Below this a record becomes a new lead; in between, a review item")


class SettingsIn(Schema):
    auto_merge_at: float | None = None
    review_at: float | None = None


@router.post(
    "/records",
    response=SubmitOut,
    summary="Push records (batched, idempotent by source + external_id)",
    description="Each record goes through normalization, matching and the decision; the response has one "
    "result per record in order. A record with an external_id already seen for this source returns the "
    "earlier result when its payload is the same (duplicate=true, nothing written), and updates the lead "
    "by survivorship when it changed. A bad record gets status error with its code, message and field; "
    "the others go on.",
)
def push_records(request: TenantRequest, body: RecordsIn) -> dict[str, Any]:
    if len(body.records) > MAX_RECORDS:
        raise TooManyRecords(
            _("At most %(max)s records per request.") % {"max": MAX_RECORDS}, field="records"
        )
    source = source_by_key(tenant=request.tenant, key=body.source)
    if source is None:
        if not request.membership.sees_whole_tenant:
            raise Forbidden(_("Only administrators and HQ may create a new source."), field="source")
        source = source_get_or_create(
            tenant=request.tenant,
            key=body.source,
            channel=IntakeSource.Channel.PUSH,
            actor=request.membership,
        )
    results = intake_submit_tagged(
        tenant=request.tenant, source=source, records=body.records, actor=request.membership
    )
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return {"results": [r.as_dict() for r in results], "counts": counts}


@router.get(
    "/records/{intake_record_id}", response=RecordOut, summary="One intake record and what became of it"
)
def get_record(request: TenantRequest, intake_record_id: int) -> dict[str, Any]:
    return record_out(
        record_get(tenant=request.tenant, membership=request.membership, record_id=intake_record_id)
    )


@router.get("/review", response=ReviewPage, summary="The review queue (admins, HQ, managers)")
def list_review(request: TenantRequest, filters: Query[ReviewFilters]) -> dict[str, Any]:
    if not supervises_intake(request.membership):
        raise Forbidden(_("Only administrators, HQ and managers see the review queue."))
    qs = review_queue(tenant=request.tenant, membership=request.membership, status=filters.status)
    start = (filters.page - 1) * filters.page_size
    items = list(qs[start : start + filters.page_size])
    count = qs.count() if items or filters.page > 1 else 0
    return {
        "items": [review_out(x) for x in items],
        "count": count,
        "page": filters.page,
        "page_size": filters.page_size,
    }


@router.get("/review/{review_item_id}", response=ReviewOut, summary="One review item")
def get_review(request: TenantRequest, review_item_id: int) -> dict[str, Any]:
    return review_out(
        review_item_get(tenant=request.tenant, membership=request.membership, item_id=review_item_id)
    )


@router.post(
    "/review/{review_item_id}/decision",
    response=ReviewOut,
    summary="Decide a review item: merge, not_duplicate or create",
)
def decide_review(request: TenantRequest, review_item_id: int, body: DecisionIn) -> dict[str, Any]:
    item = review_item_get(tenant=request.tenant, membership=request.membership, item_id=review_item_id)
    review_decide(tenant=request.tenant, item=item, decision=body.decision, actor=request.membership)
    return review_out(
        review_item_get(tenant=request.tenant, membership=request.membership, item_id=review_item_id)
    )


@router.post(
    "/merges",
    response={201: MergeOut},
    summary="Merge one lead into another (admins, HQ, managers)",
    description="Both leads must be in your scope. Refused with merge_owner_conflict when both are in the "
    "private seas of different people.",
)
def create_merge(request: TenantRequest, body: MergeIn) -> Status[dict[str, Any]]:
    survivor = lead_get(tenant=request.tenant, membership=request.membership, lead_id=body.survivor_id)
    merged = lead_get(tenant=request.tenant, membership=request.membership, lead_id=body.merged_id)
    merge = lead_merge(tenant=request.tenant, survivor=survivor, merged=merged, actor=request.membership)
    return Status(201, merge_out(merge))


@router.get("/merges/{lead_merge_id}", response=MergeOut, summary="One merge")
def get_merge(request: TenantRequest, lead_merge_id: int) -> dict[str, Any]:
    return merge_out(merge_get(tenant=request.tenant, membership=request.membership, merge_id=lead_merge_id))


@router.post("/merges/{lead_merge_id}/undo", response=MergeOut, summary="Undo a merge (admins, HQ, managers)")
def undo_merge(request: TenantRequest, lead_merge_id: int) -> dict[str, Any]:
    merge = merge_get(tenant=request.tenant, membership=request.membership, merge_id=lead_merge_id)
    return merge_out(lead_unmerge(tenant=request.tenant, merge=merge, actor=request.membership))


@router.get("/sources", response=list[SourceOut], summary="Intake sources")
def list_sources(request: TenantRequest) -> list[IntakeSource]:
    return list(sources(tenant=request.tenant))


@router.get("/settings", response=SettingsOut, summary="The tenant's matching thresholds")
def get_settings(request: TenantRequest) -> dict[str, Any]:
    row = intake_settings_get(tenant=request.tenant)
    return {"auto_merge_at": row.auto_merge_at, "review_at": row.review_at}


@router.put("/settings", response=SettingsOut, summary="Change the matching thresholds (admins, HQ)")
def put_settings(request: TenantRequest, body: SettingsIn) -> dict[str, Any]:
    row = intake_settings_update(
        tenant=request.tenant,
        actor=request.membership,
        auto_merge_at=body.auto_merge_at,
        review_at=body.review_at,
    )
    return {"auto_merge_at": row.auto_merge_at, "review_at": row.review_at}
