"""API: pool operations on a lead (claim, release, assign, transfer, extend, lock, unlock, stage), the
ledger, leads about to drop, pools and their policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema
from pydantic import Field

from leadsea.core import clock
from leadsea.leads.api import LeadOut, lead_out
from leadsea.leads.selectors import lead_get, with_tags
from leadsea.pipeline.services import lead_stage_set
from leadsea.pools import services
from leadsea.pools.models import Pool
from leadsea.pools.selectors import expiring_for, expiry_words, ledger_of, pool_get, pools_visible
from leadsea.pools.services import policy_of
from leadsea.tenancy.http import TenantRequest

router = Router(tags=["pools"])


class ReasonIn(Schema):
    reason: str = ""


class UserIn(Schema):
    user_id: int
    reason: str = ""


class ExtendIn(Schema):
    days: int | None = Field(None, description="Self-service: defaults to the pool's self_extension_days")
    reason: str = ""


class StageIn(Schema):
    stage: str = Field(description="Stage key, e.g. negotiation, won, lost")
    lost_reason: str | None = Field(None, description="Key of a lost reason; required for a lost stage")
    note: str = ""


class LedgerOut(Schema):
    id: int
    action: str
    actor: int | None
    from_owner: int | None
    to_owner: int | None
    reason: str
    clocks: dict[str, Any]
    created_at: datetime


class ExpiringOut(Schema):
    lead: LeadOut
    clock: str
    since_days: int
    left_days: int
    left_hours: int


class PolicyOut(Schema):
    claim_limit: int
    claim_limit_by_role: dict[str, int]
    daily_claim_limit: int
    reclaim_cooldown_days: int
    protection_days: int
    no_visit_days: int
    no_progress_days: int
    max_self_extensions: int
    self_extension_days: int
    lock_limit: int
    remind_days_before: int
    assign_counts_toward_limit: bool


class PolicyIn(Schema):
    claim_limit: int | None = None
    claim_limit_by_role: dict[str, int] | None = None
    daily_claim_limit: int | None = None
    reclaim_cooldown_days: int | None = None
    protection_days: int | None = None
    no_visit_days: int | None = None
    no_progress_days: int | None = None
    max_self_extensions: int | None = None
    self_extension_days: int | None = None
    lock_limit: int | None = None
    remind_days_before: int | None = None
    assign_counts_toward_limit: bool | None = None


class PoolOut(Schema):
    id: int
    name: str
    is_default: bool
    policy: PolicyOut


def _lead(request: TenantRequest, lead_id: int) -> dict[str, Any]:
    return lead_out(lead_get(tenant=request.tenant, membership=request.membership, lead_id=lead_id))


def _ctx(request: TenantRequest) -> dict[str, Any]:
    return {"tenant": request.tenant, "actor": request.membership}


@router.post("/leads/{int:lead_id}/claim", response=LeadOut, summary="Claim a lead from the public sea")
def claim(request: TenantRequest, lead_id: int) -> dict[str, Any]:
    services.lead_claim(**_ctx(request), lead_id=lead_id)
    return _lead(request, lead_id)


@router.post("/leads/{int:lead_id}/release", response=LeadOut, summary="Release a lead (reason required)")
def release(request: TenantRequest, lead_id: int, payload: ReasonIn) -> dict[str, Any]:
    services.lead_release(**_ctx(request), lead_id=lead_id, reason=payload.reason)
    return lead_out(lead_get(tenant=request.tenant, membership=request.membership, lead_id=lead_id))


@router.post(
    "/leads/{int:lead_id}/assign", response=LeadOut, summary="Assign a public lead to a BD (supervisor)"
)
def assign(request: TenantRequest, lead_id: int, payload: UserIn) -> dict[str, Any]:
    services.lead_assign(**_ctx(request), lead_id=lead_id, user_id=payload.user_id, reason=payload.reason)
    return _lead(request, lead_id)


@router.post(
    "/leads/{int:lead_id}/transfer", response=LeadOut, summary="Transfer a lead between BDs (supervisor)"
)
def transfer(request: TenantRequest, lead_id: int, payload: UserIn) -> dict[str, Any]:
    services.lead_transfer(**_ctx(request), lead_id=lead_id, user_id=payload.user_id, reason=payload.reason)
    return _lead(request, lead_id)


@router.post("/leads/{int:lead_id}/extend", response=LeadOut, summary="Extend a private lead's protection")
def extend(request: TenantRequest, lead_id: int, payload: ExtendIn) -> dict[str, Any]:
    services.lead_extend(**_ctx(request), lead_id=lead_id, days=payload.days, reason=payload.reason)
    return _lead(request, lead_id)


@router.post(
    "/leads/{int:lead_id}/lock", response=LeadOut, summary="Lock a lead: exempt from drops (supervisor)"
)
def lock(request: TenantRequest, lead_id: int, payload: ReasonIn | None = None) -> dict[str, Any]:
    services.lead_lock(**_ctx(request), lead_id=lead_id, reason=payload.reason if payload else "")
    return _lead(request, lead_id)


@router.post("/leads/{int:lead_id}/unlock", response=LeadOut, summary="Unlock a lead (supervisor)")
def unlock(request: TenantRequest, lead_id: int, payload: ReasonIn | None = None) -> dict[str, Any]:
    services.lead_unlock(**_ctx(request), lead_id=lead_id, reason=payload.reason if payload else "")
    return _lead(request, lead_id)


@router.post("/leads/{int:lead_id}/stage", response=LeadOut, summary="Move the lead's opportunity to a stage")
def stage(request: TenantRequest, lead_id: int, payload: StageIn) -> dict[str, Any]:
    lead_stage_set(
        **_ctx(request),
        lead_id=lead_id,
        stage_key=payload.stage,
        lost_reason=payload.lost_reason,
        note=payload.note,
    )
    return _lead(request, lead_id)


@router.get("/leads/{int:lead_id}/ledger", response=list[LedgerOut], summary="The lead's ownership ledger")
def ledger(request: TenantRequest, lead_id: int) -> list[dict[str, Any]]:
    lead = lead_get(tenant=request.tenant, membership=request.membership, lead_id=lead_id)
    return [
        {
            "id": e.pk,
            "action": e.action,
            "actor": e.actor_id,
            "from_owner": e.from_owner_id,
            "to_owner": e.to_owner_id,
            "reason": e.reason,
            "clocks": e.clocks,
            "created_at": e.created_at,
        }
        for e in ledger_of(tenant=request.tenant, lead=lead)
    ]


@router.get("/me/expiring", response=list[ExpiringOut], summary="My private leads about to drop")
def me_expiring(request: TenantRequest, within_days: int | None = None) -> list[dict[str, Any]]:
    now = clock.now()
    qs = with_tags(
        expiring_for(
            tenant=request.tenant, user_id=request.membership.user_id, now=now, within_days=within_days
        ),
        tenant=request.tenant,
    )
    return [{"lead": lead_out(x, now), **expiry_words(x, now)} for x in qs[:500]]


def _pool_out(pool: Pool) -> dict[str, Any]:
    return {"id": pool.pk, "name": pool.name, "is_default": pool.is_default, "policy": policy_of(pool)}


@router.get("/pools", response=list[PoolOut], summary="Pools you belong to (all, for hq and admin)")
def pools(request: TenantRequest) -> list[dict[str, Any]]:
    return [_pool_out(p) for p in pools_visible(tenant=request.tenant, membership=request.membership)]


@router.get("/pools/{int:pool_id}/policy", response=PolicyOut, summary="A pool's rules")
def get_policy(request: TenantRequest, pool_id: int) -> dict[str, Any]:
    return policy_of(pool_get(tenant=request.tenant, membership=request.membership, pool_id=pool_id))


@router.put("/pools/{int:pool_id}/policy", response=PolicyOut, summary="Change a pool's rules (admin)")
def put_policy(request: TenantRequest, pool_id: int, payload: PolicyIn) -> dict[str, Any]:
    pool = pool_get(tenant=request.tenant, membership=request.membership, pool_id=pool_id)
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    return policy_of(services.pool_policy_update(**_ctx(request), pool=pool, policy=changes))
