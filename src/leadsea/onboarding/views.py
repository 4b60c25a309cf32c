"""Pages: the onboarding wizard (tenant and people, then the template's content to adjust, then the result)
and the modules and lead-page sections settings page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from leadsea.core.errors import DomainError
from leadsea.onboarding.forms import (
    AdminStepForm,
    TenantStepForm,
    reasons_from_text,
    reasons_to_text,
    stages_from_text,
    stages_to_text,
)
from leadsea.onboarding.modules import LEAD_SECTIONS, MODULES
from leadsea.onboarding.selectors import page_settings_of
from leadsea.onboarding.services import can_onboard, onboarding_plan, page_config_update, tenant_onboard
from leadsea.onboarding.templates import TEMPLATES, template_content, template_description, template_label
from leadsea.web.decorators import tenant_required

SALT = "leadsea.onboarding.wizard"
# The pool rules the review step offers to adjust (the pool policy page has all of them).
POLICY_KEYS = (
    "claim_limit",
    "daily_claim_limit",
    "protection_days",
    "no_visit_days",
    "no_progress_days",
    "reclaim_cooldown_days",
)


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "onboarding/forbidden.html", status=403)


def _templates_for_page(language: str | None) -> list[dict[str, Any]]:
    return [
        {"key": key, "label": template_label(t, language), "description": template_description(t, language)}
        for key, t in TEMPLATES.items()
    ]


def _review_context(request: HttpRequest, base: dict[str, Any], post: Any = None) -> dict[str, Any]:
    """The review step: the template's content, each part adjustable; `post` keeps what was typed."""
    language = get_language()
    plan = onboarding_plan(spec=base, require_admin=False)
    content = template_content(plan.template) or {}
    policy = {k: content["pool_policy"].get(k) for k in POLICY_KEYS}
    if post is not None:
        chosen_fields = set(post.getlist("lead_field"))
        chosen_objects = set(post.getlist("object_type"))
        chosen_object_fields = set(post.getlist("object_field"))
        chosen_modules = set(post.getlist("module"))
        chosen_sections = set(post.getlist("section"))
        policy = {k: post.get(f"policy_{k}", "") for k in POLICY_KEYS}
    else:
        chosen_fields = {f["key"] for f in content["lead_fields"]}
        chosen_objects = {o["key"] for o in content["object_types"]}
        chosen_object_fields = {
            f"{o['key']}.{f['key']}" for o in content["object_types"] for f in o["fields"]
        }
        chosen_modules = {m.key for m in MODULES if content["modules"].get(m.key, True)}
        chosen_sections = {s.key for s in LEAD_SECTIONS if content["lead_sections"].get(s.key, True)}
    english = (language or "").startswith("en")

    def label(item: dict[str, Any]) -> str:
        return str((item.get("label_en") if english else None) or item.get("label_zh") or item.get("key"))

    return {
        "base": signing.dumps(base, salt=SALT, compress=True),
        "plan": plan,
        "template": {
            "label": template_label(TEMPLATES[plan.template], language),
            "description": template_description(TEMPLATES[plan.template], language),
        },
        "org": ["/".join(r.names) + f" ({_kind_label(r.kind)})" for r in plan.org],
        "users": plan.users,
        "visit_radius_m": post.get("visit_radius_m") if post is not None else content["visit_radius_m"],
        "policy": [(k, v) for k, v in policy.items()],
        "stages_text": post.get("stages", "") if post is not None else stages_to_text(content["stages"]),
        "reasons_text": post.get("lost_reasons", "")
        if post is not None
        else reasons_to_text(content["lost_reasons"]),
        "lead_fields": [
            {
                "key": f["key"],
                "label": label(f),
                "type": f["field_type"],
                "checked": f["key"] in chosen_fields,
                "detail": _detail(f, english),
            }
            for f in content["lead_fields"]
        ],
        "object_types": [
            {
                "key": o["key"],
                "label": label(o),
                "kind": o.get("kind", "custom"),
                "description": o.get("description", ""),
                "checked": o["key"] in chosen_objects,
                "fields": [
                    {
                        "value": f"{o['key']}.{f['key']}",
                        "label": label(f),
                        "type": f["field_type"],
                        "checked": f"{o['key']}.{f['key']}" in chosen_object_fields,
                        "detail": _detail(f, english),
                    }
                    for f in o["fields"]
                ],
            }
            for o in content["object_types"]
        ],
        "modules": [
            {"key": m.key, "label": m.label, "help": m.help, "checked": m.key in chosen_modules}
            for m in MODULES
        ],
        "sections": [
            {"key": s.key, "label": s.label, "checked": s.key in chosen_sections} for s in LEAD_SECTIONS
        ],
        "admin_form": AdminStepForm(post) if post is not None else AdminStepForm(),
    }


def _detail(f: dict[str, Any], english: bool) -> str:
    """A field's constraints in a few words: target, choices, bounds, required."""
    parts = []
    if f.get("target"):
        parts.append("→ " + f["target"])
    if f.get("choices"):
        parts.append(
            " / ".join(
                str((c.get("label_en") if english else None) or c.get("label_zh") or c["value"])
                for c in f["choices"]
            )
        )
    if f.get("min_value") is not None or f.get("max_value") is not None:
        parts.append(f"[{f.get('min_value', '')}, {f.get('max_value', '')}]")
    if f.get("required"):
        parts.append(_("required"))
    return "; ".join(parts)


def _adjusted_spec(base: dict[str, Any], post: Any) -> dict[str, Any]:
    """The spec the review step sends: step 1's part with the template content as adjusted."""
    content = template_content(base.get("template") or "blank") or {}
    fields = set(post.getlist("lead_field"))
    objects = set(post.getlist("object_type"))
    object_fields = set(post.getlist("object_field"))
    policy: dict[str, Any] = dict(content["pool_policy"])
    for key in POLICY_KEYS:
        raw = (post.get(f"policy_{key}") or "").strip()
        if raw:
            policy[key] = int(raw) if raw.lstrip("-").isdigit() else raw
    radius_raw = (post.get("visit_radius_m") or "").strip()
    admin = {"username": post.get("admin_username", ""), "name": post.get("admin_name", ""), "role": "admin"}
    if post.get("admin_password"):
        admin["password"] = post["admin_password"]
    return {
        **base,
        "admin": admin,
        "visit_radius_m": int(radius_raw) if radius_raw.isdigit() else radius_raw,
        "pool_policy": policy,
        "stages": stages_from_text(post.get("stages", "")),
        "lost_reasons": reasons_from_text(post.get("lost_reasons", "")),
        "lead_fields": [f for f in content["lead_fields"] if f["key"] in fields],
        "object_types": [
            {**o, "fields": [f for f in o["fields"] if f"{o['key']}.{f['key']}" in object_fields]}
            for o in content["object_types"]
            if o["key"] in objects
        ],
        "modules": {m.key: m.key in set(post.getlist("module")) for m in MODULES},
        "lead_sections": {s.key: s.key in set(post.getlist("section")) for s in LEAD_SECTIONS},
    }


@require_http_methods(["GET", "POST"])
def wizard(request: HttpRequest) -> HttpResponse:
    """Step 1 (GET, or POST step=tenant), step 2 (POST step=apply) and the result."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse('web:login')}?next={request.get_full_path()}")
    if not can_onboard(user=request.user, membership=getattr(request, "membership", None)):
        return _forbidden(request)
    language = get_language()
    step = request.POST.get("step") if request.method == "POST" else None
    if step == "apply":
        try:
            base = signing.loads(request.POST.get("base", ""), salt=SALT)
        except signing.BadSignature:
            return redirect("onboarding:wizard")
        spec = _adjusted_spec(base, request.POST)
        try:
            done = tenant_onboard(spec=spec, actor=request.user)
        except DomainError as exc:
            context = _review_context(request, base, request.POST)
            context.update(error=exc.message, error_field=exc.field, error_code=exc.code)
            return render(request, "onboarding/review.html", context, status=400)
        return render(
            request,
            "onboarding/done.html",
            {
                "done": done,
                "members": [done.admin, *done.members],
                "login_url": f"{reverse('web:login')}?tenant={done.tenant.slug}",
            },
        )
    form = TenantStepForm(request.POST or None, request.FILES or None, language=language)
    error = None
    if step == "tenant" and form.is_valid():
        base = form.spec()
        try:
            return render(request, "onboarding/review.html", _review_context(request, base))
        except DomainError as exc:
            error = exc.message
            if exc.field in form.fields:
                form.add_error(exc.field, exc.message)
    status = 400 if step else 200
    return render(
        request,
        "onboarding/wizard.html",
        {"form": form, "error": error, "templates": _templates_for_page(language)},
        status=status,
    )


@tenant_required
@require_http_methods(["GET", "POST"])
def modules_settings(request: HttpRequest) -> HttpResponse:
    tenant, membership = request.tenant, request.membership  # type: ignore[attr-defined]
    if membership.role != "admin":
        return _forbidden(request)
    if request.method == "POST":
        chosen_modules = set(request.POST.getlist("module"))
        chosen_sections = set(request.POST.getlist("section"))
        try:
            page_config_update(
                tenant=tenant,
                actor=membership,
                modules={m.key: m.key in chosen_modules for m in MODULES},
                lead_sections={s.key: s.key in chosen_sections for s in LEAD_SECTIONS},
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Modules and sections saved."))
        return redirect("onboarding:modules")
    settings = page_settings_of(tenant=tenant)
    return render(
        request,
        "onboarding/modules.html",
        {
            "modules": [
                {"key": m.key, "label": m.label, "help": m.help, "checked": settings.modules[m.key]}
                for m in MODULES
            ],
            "sections": [
                {
                    "key": s.key,
                    "label": s.label,
                    "checked": settings.lead_sections[s.key],
                    "module": next((m.label for m in MODULES if m.key == s.module), None),
                    "hidden_by_module": s.module is not None and not settings.modules[s.module],
                }
                for s in LEAD_SECTIONS
            ],
        },
    )


def _kind_label(kind: str) -> str:
    """An org unit kind in words (城市, Team), the key itself when unknown."""
    from leadsea.tenancy.models import OrgUnit

    try:
        return str(OrgUnit.Kind(kind).label)
    except ValueError:
        return kind
