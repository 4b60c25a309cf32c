"""Workbench pages: login, tenant switch, leads (list with HTMX filtering, detail, create, edit), health."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadsea.audit.selectors import changes_for
from leadsea.core.errors import DomainError
from leadsea.leads.merchant import merchant_360
from leadsea.leads.models import Lead
from leadsea.leads.selectors import COUNT_CAP, lead_cities, lead_get, leads_count_capped, leads_search
from leadsea.leads.services import can_edit, lead_create, lead_update
from leadsea.metadata.selectors import field_definitions
from leadsea.pipeline.services import lead_stage_set
from leadsea.tenancy.middleware import SESSION_TENANT
from leadsea.tenancy.selectors import membership_get, memberships_of_user, tenant_by_slug
from leadsea.web.decorators import tenant_required
from leadsea.web.forms import LeadForm, LoginForm

PAGE_SIZE = 25


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # the health check reports, it does not raise
        return JsonResponse({"status": "error", "database": str(exc)[:200]}, status=503)
    return JsonResponse({"status": "ok"})


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(
        request.POST or None,
        initial={"tenant": request.GET.get("tenant") or request.COOKIES.get("leadsea_last_tenant", "")},
    )
    error = None
    if request.method == "POST" and form.is_valid():
        user = authenticate(
            request, username=form.cleaned_data["username"], password=form.cleaned_data["password"]
        )
        tenant = tenant_by_slug(form.cleaned_data["tenant"])
        membership = membership_get(tenant=tenant, user=user) if tenant is not None else None
        if membership is None or tenant is None:
            error = _("Tenant, username or password is not correct.")
        else:
            login(request, user)
            request.session[SESSION_TENANT] = tenant.pk
            response = redirect(_safe_next(request, reverse("web:lead_list")))
            response.set_cookie("leadsea_last_tenant", tenant.slug, max_age=365 * 24 * 3600, samesite="Lax")
            return response
    return render(
        request, "web/login.html", {"form": form, "error": error, "next": request.GET.get("next", "")}
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:login")


@require_http_methods(["GET", "POST"])
def tenant_switch(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("web:login")
    memberships = memberships_of_user(request.user)
    if request.method == "POST":
        wanted = request.POST.get("tenant")
        for m in memberships:
            if m.tenant.slug == wanted:
                request.session[SESSION_TENANT] = m.tenant_id
                response = redirect("web:lead_list")
                response.set_cookie(
                    "leadsea_last_tenant", m.tenant.slug, max_age=365 * 24 * 3600, samesite="Lax"
                )
                return response
    return render(request, "web/tenant_switch.html", {"memberships": memberships})


def home(request: HttpRequest) -> HttpResponse:
    return redirect("web:lead_list")


def _ctx(request: HttpRequest) -> tuple[Any, Any]:
    return request.tenant, request.membership  # type: ignore[attr-defined]


class CappedPaginator(Paginator):
    """Django's paginator, counting as the API counts (leads_count_capped): no further than COUNT_CAP or
    one page past the page asked for, so a list over 1M leads never counts them all. Past the cap the count
    reads "10,000+" and the page total "400+"."""

    def __init__(self, object_list: QuerySet[Lead], per_page: int, *, page: Any) -> None:
        super().__init__(object_list, per_page)
        self.leads = object_list
        try:
            number = max(1, int(page))
        except (TypeError, ValueError):
            number = 1
        self.cap = max(COUNT_CAP, (number + 1) * per_page)  # a "next" link as long as there is more

    @cached_property
    def _counted(self) -> tuple[int, bool]:
        return leads_count_capped(self.leads, cap=self.cap)

    @cached_property
    def count(self) -> int:
        return self._counted[0]

    @property
    def count_exact(self) -> bool:
        return self._counted[1]

    @property
    def count_display(self) -> str:
        return f"{self.count:,}" if self.count_exact else f"{self.count:,}+"

    @property
    def num_pages_display(self) -> str:
        return f"{self.num_pages}" if self.count_exact else f"{self.num_pages}+"


@tenant_required
@require_GET
def lead_list(request: HttpRequest) -> HttpResponse:
    tenant, membership = _ctx(request)
    params = request.GET
    error = None
    try:
        qs = leads_search(
            tenant=tenant,
            membership=membership,
            q=params.get("q"),
            city=params.get("city"),
            tag=params.get("tag"),
            status=params.get("status"),
            owner=params.get("owner"),
            custom_filters={k[3:]: str(v) for k, v in params.items() if k.startswith("cf_") and v},
        )
    except DomainError as exc:
        error, qs = exc.message, Lead.objects.none()
    page = CappedPaginator(qs, PAGE_SIZE, page=params.get("page")).get_page(params.get("page"))
    query = params.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "error": error,
        "query": query.urlencode(),
        "filters": params,
        "cities": lead_cities(tenant=tenant),
        "statuses": Lead.Status.choices,
        "custom_filters": _choice_filters(tenant, params),
    }
    # htmx asks for the whole page when it restores history it had not cached; the two answers differ by
    # header, so caches (the back button's too) must keep them apart.
    partial = request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request")
    response = render(request, "leads/_results.html" if partial else "leads/list.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _choice_filters(tenant: Any, params: Any) -> list[dict[str, Any]]:
    """The filterable choice fields as select boxes: label and options in the page's language, the chosen
    option marked."""
    language = get_language()
    label_key = "label_en" if (language or "").startswith("en") else "label_zh"
    return [
        {
            "name": f"cf_{d.key}",
            "label": d.label(language),
            "options": [
                (
                    str(c["value"]),
                    c.get(label_key) or c.get("label_zh") or c["value"],
                    params.get(f"cf_{d.key}") == str(c["value"]),
                )
                for c in d.choices
            ],
        }
        for d in field_definitions(tenant=tenant)
        if d.filterable and d.field_type == "choice"
    ]


@tenant_required
@require_GET
def lead_detail(request: HttpRequest, lead_id: int) -> HttpResponse:
    tenant, membership = _ctx(request)
    try:
        lead = lead_get(tenant=tenant, membership=membership, lead_id=lead_id)
    except DomainError:
        return render(request, "web/not_found.html", status=404)
    language = get_language()
    custom = [
        (d.label(language), lead.custom_data.get(d.key), d)
        for d in field_definitions(tenant=tenant)
        if d.key in lead.custom_data
    ]
    return render(
        request,
        "leads/detail.html",
        {
            "lead": lead,
            "tags": [t.tag for t in lead.tag_rows.all()],
            "custom": custom,
            "changes": changes_for(tenant=tenant, object_type="lead", object_id=lead.pk),
            "can_edit": can_edit(membership=membership, lead=lead),
            "m": merchant_360(tenant=tenant, membership=membership, lead=lead),
        },
    )


@tenant_required
@require_POST
def lead_stage(request: HttpRequest, lead_id: int) -> HttpResponse:
    """Move the lead's opportunity to a stage (won signs it; lost needs a reason)."""
    tenant, membership = _ctx(request)
    try:
        lead_stage_set(
            tenant=tenant,
            actor=membership,
            lead_id=lead_id,
            stage_key=request.POST.get("stage", ""),
            lost_reason=request.POST.get("lost_reason") or None,
            note=request.POST.get("note", ""),
        )
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Stage updated."))
    return redirect("web:lead_detail", lead_id=lead_id)


def _form_with_service_error(form: LeadForm, exc: DomainError) -> None:
    field = (exc.field or "").replace("custom_fields.", "cf_")
    if field == "phone":
        field = "phones"
    form.add_error(field if field in form.fields else None, str(exc.message))


@tenant_required
@require_http_methods(["GET", "POST"])
def lead_create_view(request: HttpRequest) -> HttpResponse:
    tenant, membership = _ctx(request)
    form = LeadForm(
        request.POST or None, definitions=field_definitions(tenant=tenant), language=get_language()
    )
    if request.method == "POST" and form.is_valid():
        try:
            lead = lead_create(
                tenant=tenant, actor=membership, data={**form.to_service_data(), "source_channel": "web"}
            )
        except DomainError as exc:
            _form_with_service_error(form, exc)
        else:
            return redirect("web:lead_detail", lead_id=lead.pk)
    return render(request, "leads/form.html", {"form": form, "lead": None})


@tenant_required
@require_http_methods(["GET", "POST"])
def lead_edit_view(request: HttpRequest, lead_id: int) -> HttpResponse:
    tenant, membership = _ctx(request)
    try:
        lead = lead_get(tenant=tenant, membership=membership, lead_id=lead_id)
    except DomainError:
        return render(request, "web/not_found.html", status=404)
    definitions = field_definitions(tenant=tenant)
    initial = LeadForm.initial_for(lead, [t.tag for t in lead.tag_rows.all()])
    form = LeadForm(request.POST or None, initial=initial, definitions=definitions, language=get_language())
    if request.method == "POST" and form.is_valid():
        try:
            lead_update(tenant=tenant, actor=membership, lead=lead, data=form.to_service_data())
        except DomainError as exc:
            _form_with_service_error(form, exc)
        else:
            return redirect("web:lead_detail", lead_id=lead.pk)
    return render(request, "leads/form.html", {"form": form, "lead": lead})
