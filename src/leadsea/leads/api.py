"""API: leads (create, read, update, list with search and filters, the aggregated history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpResponse
from django.utils.translation import get_language
from ninja import Query, Router, Schema, Status
from pydantic import Field

from leadsea.core import clock
from leadsea.core.errors import FieldInvalid
from leadsea.leads.history import LeadHistory, lead_history
from leadsea.leads.models import Lead
from leadsea.leads.nearby import NearbyLead, leads_nearby
from leadsea.leads.selectors import COUNT_CAP, lead_get, leads_count_capped, leads_search
from leadsea.leads.services import lead_create, lead_update
from leadsea.onboarding.selectors import page_settings_of
from leadsea.pools.rules import is_private
from leadsea.tenancy.http import TenantRequest

router = Router(tags=["leads"])
MAX_PAGE_SIZE = 200


class LeadOut(Schema):
    id: int
    kind: str
    name: str
    branch_name: str
    category: str
    address: str
    province: str
    city: str
    district: str
    phone: str | None
    phones: list[str]
    lat: float | None
    lng: float | None
    source_channel: str
    status: str
    owner: int | None = Field(description="User id of the private owner; null in the public sea")
    sea: str = Field(description="public or private")
    pool_id: int
    expires_at: datetime | None = Field(description="When the lead drops back to the public sea")
    expiry_clock: str | None = Field(description="The clock that binds: protection, no_visit or no_progress")
    locked: bool
    stage: str | None
    claimed_at: datetime | None
    last_visit_at: datetime | None
    signed_at: datetime | None
    tags: list[str]
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class LeadIn(Schema):
    name: str
    kind: str = "poi"
    branch_name: str = ""
    category: str = ""
    address: str = ""
    province: str = ""
    city: str = ""
    district: str = ""
    phone: str | None = None
    phones: list[str] | None = None
    lat: float | None = None
    lng: float | None = None
    coord_sys: str = Field("wgs84", description="lat/lng given in wgs84, gcj02 or bd09; stored as WGS-84")
    source_channel: str = "api"
    status: str = "new"
    tags: list[str] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    owner: int | None = Field(
        None, description="User id: claims (yourself) or assigns (a supervisor) on create"
    )
    pool_id: int | None = Field(None, description="Defaults to the tenant's default pool")


class LeadPatch(Schema):
    name: str | None = None
    kind: str | None = None
    branch_name: str | None = None
    category: str | None = None
    address: str | None = None
    province: str | None = None
    city: str | None = None
    district: str | None = None
    phone: str | None = None
    phones: list[str] | None = None
    lat: float | None = None
    lng: float | None = None
    coord_sys: str | None = Field(None, description="lat/lng given in wgs84, gcj02 or bd09")
    source_channel: str | None = None
    status: str | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = Field(
        None, description="Only the keys given change; null clears one."
    )


class LeadPage(Schema):
    items: list[LeadOut]
    count: int
    count_exact: bool = Field(
        True, description=f"false: more than `count` leads match (counting stops past {COUNT_CAP:,})"
    )
    page: int
    page_size: int


class LeadFilters(Schema):
    q: str | None = Field(None, description="Substring of name, branch, address or phone")
    city: str | None = None
    tag: str | None = None
    status: str | None = None
    owner: str | None = Field(None, description="User id, 'me' or 'none'")
    sea: str | None = Field(None, description="public, private (yours, or owner=...) or all")
    pool: int | None = Field(None, description="Pool id")
    stage: str | None = Field(None, description="Stage key")
    ordering: str = Field("updated", description="updated, -updated, created, name or expires")
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


def lead_out(
    lead: Lead | NearbyLead,
    now: datetime | None = None,
    *,
    tags: list[str] | None = None,
    stage_key: str | None = None,
) -> dict[str, Any]:
    """The API form of a lead. A Lead reads its tags and stage from the prefetched relations; a NearbyLead
    (a plain row) comes with them."""
    private = is_private(lead, now or clock.now())
    if isinstance(lead, Lead):
        tags = [t.tag for t in lead.tag_rows.all()]
        stage_key = lead.stage.key if lead.stage_id and lead.stage else None
    return {
        "id": lead.pk,
        "kind": lead.kind,
        "name": lead.name,
        "branch_name": lead.branch_name,
        "category": lead.category,
        "address": lead.address,
        "province": lead.province,
        "city": lead.city,
        "district": lead.district,
        "phone": lead.phone or None,
        "phones": lead.phones,
        "lat": lead.lat,
        "lng": lead.lng,
        "source_channel": lead.source_channel,
        "status": lead.status,
        "owner": lead.owner_id if private else None,
        "sea": "private" if private else "public",
        "pool_id": lead.pool_id,
        "expires_at": lead.expires_at if private else None,
        "expiry_clock": (lead.expiry_clock or None) if private else None,
        "locked": lead.locked and private,
        "stage": stage_key,
        "claimed_at": lead.claimed_at if private else None,
        "last_visit_at": lead.last_visit_at,
        "signed_at": lead.signed_at,
        "tags": tags or [],
        "custom_fields": lead.custom_data,
        "created_at": lead.created_at,
        "updated_at": lead.updated_at,
    }


def _custom_filters(request: TenantRequest) -> dict[str, str]:
    return {k[3:]: str(v) for k, v in request.GET.items() if k.startswith("cf_") and len(k) > 3}


@router.get(
    "",
    response=LeadPage,
    summary="List and search leads in your scope",
    description="Also filters on custom fields with `cf_<key>=value`.",
)
def list_leads(request: TenantRequest, filters: Query[LeadFilters]) -> dict[str, Any]:
    qs = leads_search(
        tenant=request.tenant,
        membership=request.membership,
        q=filters.q,
        city=filters.city,
        tag=filters.tag,
        status=filters.status,
        owner=filters.owner,
        sea=filters.sea,
        pool=filters.pool,
        stage=filters.stage,
        custom_filters=_custom_filters(request),
        ordering=filters.ordering,
    )
    start = (filters.page - 1) * filters.page_size
    items = list(qs[start : start + filters.page_size])
    # Counting stops past COUNT_CAP (or the page asked for): "10,000+" with count_exact false.
    cap = max(COUNT_CAP, start + filters.page_size)
    count, count_exact = leads_count_capped(qs, cap=cap) if items or filters.page > 1 else (0, True)
    now = clock.now()
    return {
        "items": [lead_out(x, now) for x in items],
        "count": count,
        "count_exact": count_exact,
        "page": filters.page,
        "page_size": filters.page_size,
    }


@router.post("", response={201: LeadOut}, summary="Create a lead")
def create_lead(request: TenantRequest, payload: LeadIn) -> Status:
    data = payload.dict()
    owner, pool_id = data.pop("owner"), data.pop("pool_id")
    lead = lead_create(
        tenant=request.tenant, actor=request.membership, data=data, owner_id=owner, pool_id=pool_id
    )
    return Status(201, lead_out(_reload(request, lead.pk)))


class LastVisitOut(Schema):
    at: datetime
    verified: bool
    by_me: bool
    distance_m: float | None


class NearbyOut(Schema):
    lead: LeadOut
    distance_m: float
    pool_status: str = Field(description="public, mine, or taken (someone else's private sea)")
    last_visit: LastVisitOut | None


class NearbyQuery(Schema):
    lat: float
    lng: float
    radius_m: float = Field(1000, gt=0, le=50000)
    limit: int = Field(50, ge=1, le=200)
    coord_sys: str = Field("wgs84", description="wgs84, gcj02 or bd09: what your map SDK gives")
    sea: str = Field("all", description="public, private (mine) or all")


@router.get("/nearby", response=list[NearbyOut], summary="Merchants near a position, nearest first")
def nearby(request: TenantRequest, query: Query[NearbyQuery]) -> HttpResponse:
    """The hot path of the mobile app: the items are built here in the shape of NearbyOut (a test holds them
    to it) and rendered directly; ninja's validation of 50 nested items through its attribute getters took
    longer than the search itself."""
    now = clock.now()
    me = request.membership
    found = leads_nearby(tenant=request.tenant, membership=me, now=now, **query.dict())
    items = []
    for n in found:
        lead = lead_out(n.lead, now, tags=n.tags, stage_key=n.stage_key)
        if n.pool_status == "taken" and me.role == "bd":
            lead["owner"] = None  # a BD learns that it is taken, not by whom
        v = n.last_visit
        items.append(
            {
                "lead": lead,
                "distance_m": round(n.distance_m, 1),
                "pool_status": n.pool_status,
                "last_visit": None
                if v is None
                else {
                    "at": v.visited_at,
                    "verified": v.verified,
                    "by_me": v.user_id == me.user_id,
                    "distance_m": v.distance_m,
                },
            }
        )
    from leadsea.api import api  # the API root imports this module

    return api.create_response(request, items, status=200)


@router.get("/{int:lead_id}", response=LeadOut, summary="Read a lead")
def get_lead(request: TenantRequest, lead_id: int) -> dict[str, Any]:
    return lead_out(_reload(request, lead_id))


@router.patch("/{int:lead_id}", response=LeadOut, summary="Update a lead (only the fields given)")
def patch_lead(request: TenantRequest, lead_id: int, payload: LeadPatch) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True)
    for required in ("name", "kind", "status"):
        if required in data and data[required] is None:
            raise FieldInvalid(f"{required} cannot be null.", field=required)
    lead = _reload(request, lead_id)
    lead_update(tenant=request.tenant, actor=request.membership, lead=lead, data=data)
    return lead_out(_reload(request, lead_id))


def _reload(request: TenantRequest, lead_id: int) -> Lead:
    return lead_get(tenant=request.tenant, membership=request.membership, lead_id=lead_id)


# ------------------------------------------------------------------------------------------------ history


class HistoryOpportunityOut(Schema):
    id: int
    name: str
    stage: str = Field(description="Stage key")
    stage_name: str
    kind: str = Field(description="open, won or lost")
    owner: int | None = Field(description="User id")
    created_at: datetime
    closed_at: datetime | None
    lost_reason: str | None = Field(description="Lost reason key")
    lost_note: str


class HistorySourceValueOut(Schema):
    field: str = Field(
        description="name, branch_name, category, address, province, city, district, phones "
        "or position ([lat, lng], WGS-84)"
    )
    value: Any
    at: datetime
    verified_by_bd: bool
    current: bool = Field(description="The lead holds this value now")


class HistorySourceOut(Schema):
    key: str | None = Field(
        description="Intake source key; null: entered in the workbench, or the lead's "
        "values from before intake"
    )
    name: str
    channel: str
    trust: int | None
    records: int = Field(description="Intake records of this source that made or joined the lead")
    first_seen: datetime | None
    last_seen: datetime | None
    values: list[HistorySourceValueOut] = Field(description="The latest value this source gave per field")


class HistorySalesOut(Schema):
    record_id: int
    source: str = Field(description="Intake source key")
    at: datetime = Field(description="When the record was received")
    amount: float = Field(description="Monthly sales")
    currency: str = Field(description="As reported; empty: the tenant's currency")
    key: str = Field(description="The record's key the figure came from (monthly_sales, sales or 月销售额)")


class HistoryMergeOut(Schema):
    id: int = Field(description="Merge id (GET /api/v1/intake/merges/{id})")
    direction: str = Field(
        description="into: another lead was merged into this one; away: this lead was "
        "merged into another (the merge is undone)"
    )
    other_lead_id: int | None = Field(description="null when that lead is outside your scope")
    other_name: str | None
    at: datetime
    merged_by: int | None
    undone_at: datetime | None
    undone_by: int | None


class HistoryOwnerOut(Schema):
    owner: int = Field(description="User id")
    start: datetime
    started_by: str = Field(description="Ledger action: claim, assign or transfer")
    end: datetime | None = Field(description="null: the owner now")
    ended_by: str = Field(description="release, drop, transfer; empty while it lasts")


class HistoryVisitsOut(Schema):
    count: int
    verified: int
    last_at: datetime | None
    last_by: int | None


class HistoryStoreOut(Schema):
    id: int
    name: str
    branch_name: str
    city: str
    district: str
    status: str
    signed_at: datetime | None
    distance_m: float | None


class HistoryBrandOut(Schema):
    total: int = Field(description="Other stores of the brand (same name) in your scope")
    signed: int
    stores: list[HistoryStoreOut] = Field(description="Nearest first, at most 20")


class LeadHistoryOut(Schema):
    lead_id: int
    signed_at: datetime | None
    won: int
    lost: int
    opportunities: list[HistoryOpportunityOut] = Field(description="Newest first, at most 50")
    sources: list[HistorySourceOut] = Field(description="First reported first")
    sales: list[HistorySalesOut] = Field(description="Newest first, at most 100")
    merges: list[HistoryMergeOut] = Field(description="Newest first, at most 50")
    ownership: list[HistoryOwnerOut] | None = Field(description="Oldest first; null: the pool module is off")
    visits: HistoryVisitsOut | None = Field(description="null: the visits module is off")
    brand: HistoryBrandOut


def history_out(h: LeadHistory, language: str | None) -> dict[str, Any]:
    return {
        "lead_id": h.lead.pk,
        "signed_at": h.signed_at,
        "won": h.won,
        "lost": h.lost,
        "opportunities": [
            {
                "id": o.id,
                "name": o.name,
                "stage": o.stage.key,
                "stage_name": o.stage.label(language),
                "kind": o.kind,
                "owner": o.owner.user_id if o.owner else None,
                "created_at": o.created_at,
                "closed_at": o.closed_at,
                "lost_reason": o.lost_reason or None,
                "lost_note": o.lost_note,
            }
            for o in h.opportunities
        ],
        "sources": [
            {
                "key": r.key or None,
                "name": r.name,
                "channel": r.channel,
                "trust": r.trust,
                "records": r.records,
                "first_seen": r.first_seen,
                "last_seen": r.last_seen,
                "values": [v.__dict__ for v in r.values],
            }
            for r in h.sources
        ],
        "sales": [
            {
                "record_id": f.record_id,
                "source": f.source_key,
                "at": f.at,
                "amount": f.amount,
                "currency": f.currency,
                "key": f.key,
            }
            for f in h.sales
        ],
        "merges": [
            {
                "id": g.id,
                "direction": g.direction,
                "other_lead_id": g.other_id,
                "other_name": g.other_name or None,
                "at": g.at,
                "merged_by": g.by.user_id if g.by else None,
                "undone_at": g.undone_at,
                "undone_by": g.undone_by.user_id if g.undone_by else None,
            }
            for g in h.merges
        ],
        "ownership": None
        if h.ownership is None
        else [
            {
                "owner": p.owner.user_id,
                "start": p.start,
                "started_by": p.started_by,
                "end": p.end,
                "ended_by": p.ended_by,
            }
            for p in h.ownership
        ],
        "visits": None
        if h.visits is None
        else {
            "count": h.visits.count,
            "verified": h.visits.verified,
            "last_at": h.visits.last_at,
            "last_by": h.visits.last_by.user_id if h.visits.last_by else None,
        },
        "brand": {
            "total": h.brand.total,
            "signed": h.brand.signed,
            "stores": [
                {
                    "id": r.lead.pk,
                    "name": r.lead.name,
                    "branch_name": r.lead.branch_name,
                    "city": r.lead.city,
                    "district": r.lead.district,
                    "status": r.lead.status,
                    "signed_at": r.lead.signed_at,
                    "distance_m": r.distance_m,
                }
                for r in h.brand.stores
            ],
        },
    }


@router.get(
    "/{int:lead_id}/history",
    response=LeadHistoryOut,
    summary="A lead's aggregated history",
    description="Past opportunities (won, lost), the sales figures sources reported, which sources reported "
    "the store and the values they gave, merges into the lead (and their undo), its owners over time, its "
    "visits and the brand's other stores in your scope. Parts of a module the tenant turned off are null.",
)
def get_lead_history(request: TenantRequest, lead_id: int) -> dict[str, Any]:
    history = lead_history(
        tenant=request.tenant,
        membership=request.membership,
        lead_id=lead_id,
        modules=page_settings_of(tenant=request.tenant).modules,
    )
    return history_out(history, get_language())
