"""Pool pages: the public sea, my private sea by time to drop, the team's private seas with supervisor
actions, the pool policy editor; and the POST actions (claim, release, assign, transfer, extend, lock)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadsea.core import clock
from leadsea.core.errors import DomainError
from leadsea.leads.models import Lead
from leadsea.leads.selectors import leads_search, leads_visible, with_tags
from leadsea.pools import services
from leadsea.pools.models import POLICY_FIELDS
from leadsea.pools.selectors import live_q, pool_admin_ids_of, pool_get, pools_visible
from leadsea.pools.services import policy_of
from leadsea.tenancy.models import Membership
from leadsea.tenancy.selectors import members, subtree_user_ids
from leadsea.web.decorators import tenant_required

PAGE_SIZE = 25


def _ctx(request: HttpRequest) -> tuple[Any, Membership]:
    return request.tenant, request.membership  # type: ignore[attr-defined]


def _assignable(tenant: Any, membership: Membership) -> list[Membership]:
    """The people a supervisor may hand leads to: their org subtree (everyone, for hq and admin)."""
    if membership.role == Membership.Role.BD:
        return []
    qs = members(tenant=tenant).order_by("org_unit__path", "display_name")
    if not membership.sees_whole_tenant:
        qs = qs.filter(user_id__in=subtree_user_ids(tenant=tenant, org_unit=membership.org_unit))
    return list(qs)


@tenant_required
@require_GET
def public_sea(request: HttpRequest) -> HttpResponse:
    tenant, membership = _ctx(request)
    p = request.GET
    error = None
    try:
        qs = leads_search(
            tenant=tenant,
            membership=membership,
            sea="public",
            q=p.get("q"),
            city=p.get("city"),
            tag=p.get("tag"),
            pool=int(p["pool"]) if p.get("pool", "").isdigit() else None,
        )
    except DomainError as exc:
        error, qs = exc.message, Lead.objects.none()
    page = Paginator(qs, PAGE_SIZE).get_page(p.get("page"))
    query = p.copy()
    query.pop("page", None)
    return render(
        request,
        "pools/public.html",
        {
            "page": page,
            "error": error,
            "filters": p,
            "query": query.urlencode(),
            "pools": pools_visible(tenant=tenant, membership=membership),
            "assignable": _assignable(tenant, membership),
        },
    )


@tenant_required
@require_GET
def my_sea(request: HttpRequest) -> HttpResponse:
    tenant, membership = _ctx(request)
    qs = leads_search(
        tenant=tenant, membership=membership, sea="private", ordering="expires", q=request.GET.get("q")
    )
    # Leads with a deadline first, soonest first; locked and signed ones (no deadline) after them.
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "pools/mine.html", {"page": page, "filters": request.GET})


@tenant_required
@require_GET
def team_sea(request: HttpRequest) -> HttpResponse:
    tenant, membership = _ctx(request)
    if membership.role == Membership.Role.BD:
        raise Http404
    now = clock.now()
    people = _assignable(tenant, membership)
    qs = leads_visible(tenant=tenant, membership=membership, now=now).filter(live_q(now))
    qs = qs.filter(owner_id__in=[m.user_id for m in people])
    owner = request.GET.get("owner", "")
    if owner.isdigit():
        qs = qs.filter(owner_id=int(owner))
    if request.GET.get("expiring") == "1":
        qs = qs.filter(Q(expires_at__isnull=False))
    q = request.GET.get("q")
    if q:
        qs = qs.filter(pk__in=leads_search(tenant=tenant, membership=membership, q=q).values("pk"))
    qs = with_tags(qs.order_by("expires_at", "id"), tenant=tenant)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "pools/team.html",
        {
            "page": page,
            "people": people,
            "filters": request.GET,
            "query": query.urlencode(),
            "names": {m.user_id: m.name for m in people},
        },
    )


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect(default)


ACTIONS = {
    "claim": (
        lambda k, p: services.lead_claim(**k),
        gettext_lazy("Claimed: the lead is in your private sea."),
    ),
    "release": (
        lambda k, p: services.lead_release(**k, reason=p.get("reason", "")),
        gettext_lazy("Released to the public sea."),
    ),
    "assign": (
        lambda k, p: services.lead_assign(
            **k, user_id=int(p.get("user_id") or 0), reason=p.get("reason", "")
        ),
        gettext_lazy("Assigned."),
    ),
    "transfer": (
        lambda k, p: services.lead_transfer(
            **k, user_id=int(p.get("user_id") or 0), reason=p.get("reason", "")
        ),
        gettext_lazy("Transferred."),
    ),
    "extend": (
        lambda k, p: services.lead_extend(
            **k, days=int(p["days"]) if p.get("days", "").isdigit() else None, reason=p.get("reason", "")
        ),
        gettext_lazy("Extended."),
    ),
    "lock": (lambda k, p: services.lead_lock(**k, reason=p.get("reason", "")), gettext_lazy("Locked.")),
    "unlock": (lambda k, p: services.lead_unlock(**k, reason=p.get("reason", "")), gettext_lazy("Unlocked.")),
}


@tenant_required
@require_POST
def lead_action(request: HttpRequest, lead_id: int, action: str) -> HttpResponse:
    tenant, membership = _ctx(request)
    if action not in ACTIONS:
        raise Http404
    run, done = ACTIONS[action]
    try:
        run({"tenant": tenant, "actor": membership, "lead_id": lead_id}, request.POST)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, str(done))
    return _back(request, f"/leads/{lead_id}/")


@tenant_required
@require_POST
def bulk_assign(request: HttpRequest) -> HttpResponse:
    """Assign several public leads to one BD; each lead is its own transaction, failures are reported."""
    tenant, membership = _ctx(request)
    ids = [int(x) for x in request.POST.getlist("lead_ids") if x.isdigit()]
    user_id = int(request.POST.get("user_id") or 0)
    done, failed = 0, []
    for lead_id in ids:
        try:
            services.lead_assign(tenant=tenant, actor=membership, lead_id=lead_id, user_id=user_id)
            done += 1
        except DomainError as exc:
            failed.append(f"#{lead_id}: {exc.message}")
    if done:
        messages.success(request, _("%(n)d lead(s) assigned.") % {"n": done})
    for line in failed[:10]:
        messages.error(request, line)
    if not ids:
        messages.error(request, _("Select the leads to assign."))
    return _back(request, "/sea/public/")


@tenant_required
@require_http_methods(["GET", "POST"])
def pool_policy(request: HttpRequest, pool_id: int) -> HttpResponse:
    tenant, membership = _ctx(request)
    try:
        pool = pool_get(tenant=tenant, membership=membership, pool_id=pool_id)
    except DomainError:
        raise Http404
    can_edit = pool.pk in pool_admin_ids_of(tenant=tenant, membership=membership)
    values: dict[str, Any] = policy_of(pool)
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not can_edit:
            raise Http404
        policy: dict[str, Any] = {}
        for field in POLICY_FIELDS:
            if field == "assign_counts_toward_limit":
                policy[field] = request.POST.get(field) == "on"
            elif field == "claim_limit_by_role":
                by_role = {}
                for role in Membership.Role.values:
                    raw = request.POST.get(f"limit_{role}", "").strip()
                    if raw:
                        by_role[role] = int(raw) if raw.isdigit() else -1
                policy[field] = by_role
            else:
                raw = request.POST.get(field, "").strip()
                policy[field] = int(raw) if raw.lstrip("-").isdigit() else -1
        try:
            services.pool_policy_update(tenant=tenant, actor=membership, pool=pool, policy=policy)
        except DomainError as exc:
            errors[exc.field or ""] = str(exc.message)
            values = {**values, **policy}
        else:
            messages.success(request, _("Pool rules saved."))
            return redirect("pools:policy", pool_id=pool.pk)
    fields = [
        (f, values[f], errors.get(f))
        for f in POLICY_FIELDS
        if f not in ("assign_counts_toward_limit", "claim_limit_by_role")
    ]
    return render(
        request,
        "pools/policy.html",
        {
            "pool": pool,
            "fields": fields,
            "values": values,
            "errors": errors,
            "can_edit": can_edit,
            "roles": [
                (r, label, values["claim_limit_by_role"].get(r, "")) for r, label in Membership.Role.choices
            ],
            "pools": pools_visible(tenant=tenant, membership=membership),
        },
    )
