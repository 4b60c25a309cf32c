"""API of onboarding (a new tenant from a spec, the business templates) and of a tenant's modules and
lead-page sections."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language
from ninja import Router, Schema, Status
from pydantic import Field

from leadsea.onboarding.modules import LEAD_SECTIONS, MODULES
from leadsea.onboarding.selectors import PageSettings, page_settings_of
from leadsea.onboarding.services import onboarding_check_actor, page_config_update, tenant_onboard
from leadsea.onboarding.templates import TEMPLATES, template_content, template_description, template_label
from leadsea.tenancy.http import TenantRequest

router = Router(tags=["onboarding"])
settings_router = Router(tags=["settings"])


class OnboardIn(Schema):
    slug: str = Field(description="The new tenant's slug: 2-50 lower-case letters, digits or hyphens")
    name: str = Field(description="The business line's name, e.g. 酒店事业部")
    language: str | None = Field(None, description="zh-hans (default) or en")
    time_zone: str | None = Field(None, description="IANA time zone, default Asia/Shanghai")
    template: str | None = Field(None, description="group_buying, hotel, food_delivery or blank (default)")
    admin: dict[str, Any] = Field(
        description="The first administrator: username, password (omit it for an existing person), name, org"
    )
    org_units: list[dict[str, Any]] | None = Field(
        None,
        description="Org units below the root: {path: '华北/北京', kind: region|city|team} "
        "or {name, parent, kind}",
    )
    org_csv: str | None = Field(None, description="The org tree as CSV text, columns path,name,kind,parent")
    users: list[dict[str, Any]] | None = Field(
        None,
        description="More users: username, role, org (path of names), name, password (made up when omitted)",
    )
    users_csv: str | None = Field(
        None, description="More users as CSV text, columns username,name,role,org,password"
    )
    visit_radius_m: int | None = Field(None, description="Replaces the template's visit radius")
    pool_policy: dict[str, Any] | None = Field(None, description="Replaces the template's pool rules")
    stages: list[dict[str, Any]] | None = Field(None, description="Replaces the template's stages")
    lost_reasons: list[dict[str, Any]] | None = Field(
        None, description="Replaces the template's lost reasons"
    )
    lead_fields: list[dict[str, Any]] | None = Field(None, description="Replaces the template's lead fields")
    object_types: list[dict[str, Any]] | None = Field(
        None, description="Replaces the template's object types (each with its fields)"
    )
    modules: dict[str, Any] | None = Field(
        None, description="Modules on or off: pool, visits, operations, tasks, intake"
    )
    lead_sections: dict[str, Any] | None = Field(None, description="Lead page sections on or off")


class TenantOut(Schema):
    id: int
    slug: str
    name: str
    default_language: str
    time_zone: str
    visit_radius_m: int


class MemberOut(Schema):
    username: str
    role: str
    org_unit: str
    generated_password: str | None = Field(
        None, description="Made up for a user given without one; shown once"
    )


class OnboardOut(Schema):
    tenant: TenantOut
    template: str
    users: list[MemberOut]
    counts: dict[str, int]


class TemplateOut(Schema):
    key: str
    label: str
    label_zh: str
    label_en: str
    description: str
    content: dict[str, Any]


class PageSettingsIn(Schema):
    modules: dict[str, Any] | None = Field(
        None, description='Only the keys given change, e.g. {"intake": false}'
    )
    lead_sections: dict[str, Any] | None = Field(
        None, description='Only the keys given change, e.g. {"ledger": false}'
    )


class ItemOut(Schema):
    key: str
    label: str
    enabled: bool


class PageSettingsOut(Schema):
    modules: dict[str, bool]
    lead_sections: dict[str, bool]
    shown_sections: dict[str, bool] = Field(
        description="What the lead page shows: sections of modules that are off are hidden"
    )
    module_list: list[ItemOut]
    section_list: list[ItemOut]


@router.post("/tenants", response={201: OnboardOut}, summary="Onboard a business line from a spec (admins)")
def onboard(request: TenantRequest, payload: OnboardIn) -> Status:
    onboarding_check_actor(user=request.membership.user, membership=request.membership)
    spec = {k: v for k, v in payload.dict().items() if v is not None}
    spec.setdefault("template", "blank")
    done = tenant_onboard(spec=spec, actor=request.membership.user)
    members = [done.admin, *done.members]
    return Status(
        201,
        {
            "tenant": done.tenant,
            "template": spec["template"],
            "users": [
                {
                    "username": m.user.username,
                    "role": m.role,
                    "org_unit": m.org_unit.name if m.org_unit else "",
                    "generated_password": done.generated_passwords.get(m.user.username),
                }
                for m in members
            ],
            "counts": done.counts,
        },
    )


@router.get("/templates", response=list[TemplateOut], summary="The business templates and their content")
def templates(request: TenantRequest) -> list[dict[str, Any]]:
    language = get_language()
    out = []
    for key, template in TEMPLATES.items():
        content = template_content(key) or {}
        out.append(
            {
                "key": key,
                "label": template_label(template, language),
                "label_zh": template["label_zh"],
                "label_en": template["label_en"],
                "description": template_description(template, language),
                "content": {k: content[k] for k in content if k not in ("key", "label_zh", "label_en")},
            }
        )
    return out


def _settings_out(settings: PageSettings) -> dict[str, Any]:
    return {
        "modules": settings.modules,
        "lead_sections": settings.lead_sections,
        "shown_sections": settings.sections,
        "module_list": [
            {"key": m.key, "label": str(m.label), "enabled": settings.modules[m.key]} for m in MODULES
        ],
        "section_list": [
            {"key": s.key, "label": str(s.label), "enabled": settings.lead_sections[s.key]}
            for s in LEAD_SECTIONS
        ],
    }


@settings_router.get(
    "/modules", response=PageSettingsOut, summary="The tenant's modules and lead-page sections"
)
def modules_get(request: TenantRequest) -> dict[str, Any]:
    return _settings_out(page_settings_of(tenant=request.tenant))


@settings_router.patch(
    "/modules", response=PageSettingsOut, summary="Turn modules and lead-page sections on or off (admins)"
)
def modules_patch(request: TenantRequest, payload: PageSettingsIn) -> dict[str, Any]:
    settings = page_config_update(
        tenant=request.tenant,
        actor=request.membership,
        modules=payload.modules,
        lead_sections=payload.lead_sections,
    )
    return _settings_out(settings)
