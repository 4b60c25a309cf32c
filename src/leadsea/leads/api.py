"""API: leads (create, read, update, list with search and filters)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from leadsea.core import clock
from leadsea.core.errors import FieldInvalid
from leadsea.leads.models import Lead
from leadsea.leads.nearby import NearbyLead, leads_nearby
from leadsea.leads.selectors import lead_get, leads_search
from leadsea.leads.services import lead_create, lead_update
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


COUNT_CAP = 10_000


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
    found = qs.order_by()[: cap + 1].count() if items or filters.page > 1 else 0
    count, count_exact = min(found, cap), found <= cap
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
