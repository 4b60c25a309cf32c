"""Submission pages: the public merchant form /join/<tenant>/ (spam-guarded, with a reference code and a
status page) and the crowdsourcing page /crowd/ (a logged-in crowd member submits stores and follows them)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from leadsea.core.errors import DomainError
from leadsea.core.net import client_ip
from leadsea.intake.forms import JoinForm, StoreForm, form_token
from leadsea.intake.models import IntakeSource
from leadsea.intake.review import submission_status, submissions_of
from leadsea.intake.services import source_get_or_create
from leadsea.intake.submit import intake_submit_tagged
from leadsea.tenancy.models import Membership, Tenant
from leadsea.tenancy.selectors import tenant_by_slug
from leadsea.web.decorators import tenant_required

JOIN_SOURCE = ("join", IntakeSource.Channel.SELF_SUBMISSION, "Merchant self-submission (/join/)")
CROWD_SOURCE = ("crowd", IntakeSource.Channel.CROWD, "Crowdsourcing")
# Per client IP and tenant: at most N accepted posts per window (seconds), counted in the Django cache.
JOIN_RATE_LIMIT = int(getattr(settings, "LEADSEA_JOIN_RATE_LIMIT", 5))
JOIN_RATE_WINDOW = int(getattr(settings, "LEADSEA_JOIN_RATE_WINDOW", 600))
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone


def reference_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


def _rate_limited(tenant: Tenant, request: HttpRequest) -> bool:
    """Count this post; True when the IP is over the limit. add+incr is atomic on locmem and Redis alike."""
    key = f"leadsea:join:{tenant.pk}:{client_ip(request)}"
    cache.add(key, 0, timeout=JOIN_RATE_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=JOIN_RATE_WINDOW)
        count = 1
    return count > JOIN_RATE_LIMIT


def _join_tenant(request: HttpRequest, slug: str) -> Tenant:
    tenant = tenant_by_slug(slug)
    if tenant is None:
        raise Http404
    if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        translation.activate(tenant.default_language)
        request.LANGUAGE_CODE = translation.get_language()  # type: ignore[attr-defined]
    return tenant


def _submit(tenant: Tenant, form: StoreForm, source_spec: tuple[str, str, str], actor: Any) -> str:
    key, channel, name = source_spec
    source = source_get_or_create(
        tenant=tenant, key=key, channel=channel, name=name, trust=IntakeSource.DEFAULT_TRUST[channel]
    )
    code = reference_code()
    [result] = intake_submit_tagged(
        tenant=tenant, source=source, records=[form.to_record(external_id=code)], actor=actor
    )
    if result.errors:
        first = result.errors[0]
        raise DomainError(
            str(first.get("message", "")), code=str(first.get("code") or "invalid"), field=first.get("field")
        )
    return code


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = _join_tenant(request, tenant_slug)
    form = JoinForm(request.POST or None, tenant_slug=tenant.slug)
    status = 200
    if request.method == "POST":
        if form.is_spam():
            # Look like success to the bot; keep nothing.
            return redirect("intake:join_thanks", tenant_slug=tenant.slug)
        if _rate_limited(tenant, request):
            form.add_error(None, _("Too many submissions from your network; please try again later."))
            status = 429
        elif form.is_valid():
            try:
                code = _submit(tenant, form, JOIN_SOURCE, None)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
            else:
                request.session["leadsea_join_code"] = code
                return redirect(f"{reverse('intake:join_thanks', args=[tenant.slug])}?code={code}")
        if form.errors and status == 200:
            status = 400
    # Every render gets a fresh token: the clock starts when the person sees the form.
    context = {"form": form, "tenant": tenant, "token": form_token(tenant_slug=tenant.slug)}
    return render(request, "intake/join.html", context, status=status)


@require_GET
def join_thanks(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = _join_tenant(request, tenant_slug)
    code = request.GET.get("code", "")
    # Only the browser that submitted sees its code here; anyone else gets the plain thank-you.
    if code != request.session.get("leadsea_join_code"):
        code = ""
    return render(request, "intake/join_thanks.html", {"tenant": tenant, "code": code})


@require_GET
def join_status(request: HttpRequest, tenant_slug: str, code: str) -> HttpResponse:
    tenant = _join_tenant(request, tenant_slug)
    try:
        status = submission_status(tenant=tenant, code=code)
    except DomainError:
        return render(request, "intake/join_status.html", {"tenant": tenant, "status": None}, status=404)
    return render(request, "intake/join_status.html", {"tenant": tenant, "status": status})


@tenant_required
@require_http_methods(["GET", "POST"])
def crowd_submit(request: HttpRequest) -> HttpResponse:
    """The crowdsourcing page: submit a store, see your submissions. Open to crowd members (whose only page
    it is) and to anyone else of the tenant who wants to report a store this way."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    membership: Membership = request.membership  # type: ignore[attr-defined]
    form = StoreForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            code = _submit(tenant, form, CROWD_SOURCE, membership)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
        else:
            messages.success(request, _("Thank you! Reference code: %(code)s") % {"code": code})
            return redirect("intake:crowd")
    return render(
        request,
        "intake/join_crowd.html",
        {"form": form, "submissions": submissions_of(tenant=tenant, membership=membership)},
        status=400 if form.errors else 200,
    )
