"""Tag rule pages: list and add rules, edit or delete one, edit a brand list (admins and HQ)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from leadsea.core.errors import DomainError
from leadsea.tagging.models import BrandList, TagRule
from leadsea.tagging.services import (
    brand_list_save,
    tag_rule_create,
    tag_rule_delete,
    tag_rule_get,
    tag_rule_update,
)
from leadsea.tenancy.models import Membership
from leadsea.web.decorators import tenant_required


def _admin(request: HttpRequest) -> tuple[Any, Membership] | None:
    membership = request.membership  # type: ignore[attr-defined]
    if not membership.sees_whole_tenant:
        return None
    return request.tenant, membership  # type: ignore[attr-defined]


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "tagging/forbidden.html", status=403)


def _rule_data(post: Any) -> dict[str, Any]:
    return {
        "tag": post.get("tag", ""),
        "name": post.get("name", ""),
        "kind": post.get("kind", ""),
        "brand_list": int(post["brand_list"]) if post.get("brand_list", "").isdigit() else None,
        "field": post.get("field", ""),
        "op": post.get("op", ""),
        "value": post.get("value", ""),
        "is_active": post.get("is_active") == "on",
    }


def _context(tenant: Any, **extra: Any) -> dict[str, Any]:
    return {
        "rules": TagRule.objects.filter(tenant=tenant).select_related("brand_list").order_by("tag", "id"),
        "brand_lists": BrandList.objects.filter(tenant=tenant).order_by("name"),
        "kinds": TagRule.Kind.choices,
        "ops": TagRule.Op.choices,
        **extra,
    }


@tenant_required
@require_http_methods(["GET", "POST"])
def rules_page(request: HttpRequest) -> HttpResponse:
    ctx = _admin(request)
    if ctx is None:
        return _forbidden(request)
    tenant, membership = ctx
    error, data = None, {}
    if request.method == "POST":
        if request.POST.get("what") == "brand_list":
            lines = request.POST.get("brands", "").splitlines()
            upload = request.FILES.get("file")
            if upload is not None:
                lines += upload.read().decode("utf-8-sig", errors="replace").splitlines()
            try:
                brand_list = brand_list_save(
                    tenant=tenant,
                    actor=membership,
                    key=request.POST.get("key", "").strip() or "top-brands",
                    name=request.POST.get("list_name", "").strip(),
                    brands=[line.split(",")[0] for line in lines],
                )
            except DomainError as exc:
                error = exc.message
            else:
                messages.success(
                    request, _("Brand list saved: %(n)d brands.") % {"n": len(brand_list.brands)}
                )
                return redirect("tagging:rules")
        else:
            data = _rule_data(request.POST)
            try:
                tag_rule_create(tenant=tenant, actor=membership, data=data)
            except DomainError as exc:
                error = exc.message
            else:
                messages.success(request, _("Rule added. Run `leadsea tags apply` to tag existing leads."))
                return redirect("tagging:rules")
    return render(
        request, "tagging/rules.html", _context(tenant, error=error, data=data), status=400 if error else 200
    )


@tenant_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    ctx = _admin(request)
    if ctx is None:
        return _forbidden(request)
    tenant, membership = ctx
    try:
        rule = tag_rule_get(tenant=tenant, rule_id=rule_id)
    except DomainError:
        return render(request, "web/not_found.html", status=404)
    error = None
    if request.method == "POST":
        try:
            tag_rule_update(tenant=tenant, actor=membership, rule=rule, data=_rule_data(request.POST))
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("Rule saved."))
            return redirect("tagging:rules")
    return render(request, "tagging/rule_edit.html", _context(tenant, rule=rule, error=error))


@tenant_required
@require_POST
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    ctx = _admin(request)
    if ctx is None:
        return _forbidden(request)
    tenant, membership = ctx
    try:
        tag_rule_delete(tenant=tenant, actor=membership, rule=tag_rule_get(tenant=tenant, rule_id=rule_id))
    except DomainError:
        return render(request, "web/not_found.html", status=404)
    messages.success(request, _("Rule deleted."))
    return redirect("tagging:rules")


@tenant_required
@require_http_methods(["GET", "POST"])
def brand_list_edit(request: HttpRequest, list_id: int) -> HttpResponse:
    ctx = _admin(request)
    if ctx is None:
        return _forbidden(request)
    tenant, membership = ctx
    brand_list = BrandList.objects.filter(tenant=tenant, pk=list_id).first()
    if brand_list is None:
        return render(request, "web/not_found.html", status=404)
    error = None
    if request.method == "POST":
        try:
            brand_list_save(
                tenant=tenant,
                actor=membership,
                key=brand_list.key,
                name=request.POST.get("list_name", "").strip(),
                brands=request.POST.get("brands", "").splitlines(),
            )
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("Brand list saved."))
            return redirect("tagging:rules")
    return render(request, "tagging/brand_list.html", {"brand_list": brand_list, "error": error})
