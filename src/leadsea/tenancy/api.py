"""API: token issue and revoke, and who am I."""

from __future__ import annotations

from datetime import datetime

from ninja import Router, Schema

from leadsea.tenancy.http import TenantRequest
from leadsea.tenancy.services import token_issue, token_revoke

router = Router(tags=["auth"])


class TokenIn(Schema):
    tenant: str
    username: str
    password: str
    name: str = ""


class UserOut(Schema):
    id: int
    username: str
    display_name: str


class TokenOut(Schema):
    token: str
    token_id: int
    expires_at: datetime
    tenant: str
    role: str
    user: UserOut


class MeOut(Schema):
    tenant: str
    tenant_name: str
    role: str
    org_unit: int | None
    language: str
    time_zone: str
    user: UserOut


class OkOut(Schema):
    ok: bool


@router.post("/auth/token", auth=None, response=TokenOut, summary="Issue a bearer token")
def issue_token(request: TenantRequest, payload: TokenIn) -> dict[str, object]:
    raw, token, membership = token_issue(
        tenant_slug=payload.tenant, username=payload.username, password=payload.password, name=payload.name
    )
    return {
        "token": raw,
        "token_id": token.pk,
        "expires_at": token.expires_at,
        "tenant": membership.tenant.slug,
        "role": membership.role,
        "user": {
            "id": membership.user_id,
            "username": membership.user.username,
            "display_name": membership.name,
        },
    }


@router.post("/auth/revoke", response=OkOut, summary="Revoke the token used for this request")
def revoke_token(request: TenantRequest) -> dict[str, bool]:
    token_revoke(tenant=request.tenant, token_id=request.api_token.token_id)
    return {"ok": True}


@router.get("/me", response=MeOut, summary="The caller: tenant, role, org unit")
def me(request: TenantRequest) -> dict[str, object]:
    m = request.membership
    return {
        "tenant": m.tenant.slug,
        "tenant_name": m.tenant.name,
        "role": m.role,
        "org_unit": m.org_unit_id,
        "language": m.tenant.default_language,
        "time_zone": m.tenant.time_zone,
        "user": {"id": m.user_id, "username": m.user.username, "display_name": m.name},
    }
