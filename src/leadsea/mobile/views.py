"""Mobile pages for BDs (/m/) and the desktop to-do page: thin views that parse, call a selector or service,
and render. Every page is session-authenticated and scoped to request.tenant / request.membership."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadsea.core import clock, geo
from leadsea.core.errors import DomainError, NotFound
from leadsea.leads.merchant import opportunities_of, related_stores
from leadsea.leads.models import Lead
from leadsea.leads.nearby import LastVisit, Nearby, NearbyLead, leads_nearby
from leadsea.leads.selectors import lead_get, leads_search
from leadsea.mobile.forms import COORD_SYSTEMS, RADII, SEAS, CheckinForm, PositionForm
from leadsea.mobile.selectors import district_centres
from leadsea.mobile.services import checkin_record
from leadsea.pools.rules import is_private
from leadsea.pools.words import drop_in_words, urgency
from leadsea.tasks.selectors import todo_for
from leadsea.tasks.services import task_complete
from leadsea.tenancy.models import Membership, Tenant
from leadsea.tenancy.selectors import members, subtree_user_ids
from leadsea.visits.models import Visit
from leadsea.visits.selectors import contacts_of, visit_photo_file, visits_of
from leadsea.web.decorators import tenant_required

# The app shell the service worker caches (static paths); the offline page is added by URL.
SHELL_STATIC = [
    "leadsea/app.css",
    "mobile/mobile.css",
    "mobile/mobile.js",
    "vendor/htmx/htmx.min.js",
    "vendor/leaflet/leaflet.css",
    "vendor/leaflet/leaflet.js",
    "leadsea/icons/icon-192.png",
]
THEME_COLOUR = "#102a43"


def _ctx(request: HttpRequest) -> tuple[Tenant, Membership]:
    return request.tenant, request.membership  # type: ignore[attr-defined]


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "mobile/not_found.html", {"tab": ""}, status=404)


def _lead(request: HttpRequest, lead_id: int) -> Lead | None:
    tenant, membership = _ctx(request)
    try:
        return lead_get(tenant=tenant, membership=membership, lead_id=lead_id)
    except NotFound:
        return None


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


def _name(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


# ------------------------------------------------------------------------------------------ map settings


def map_settings() -> dict[str, str]:
    """Tiles are optional (default none: markers on a plain grid with a scale). LEADSEA_MAP_COORD_SYS names
    the datum of the tiles (gcj02 for Amap or Tencent tiles) so that markers land on the right street."""
    read = lambda name: str(getattr(settings, name, os.environ.get(name, "")) or "")  # noqa: E731
    coord_sys = read("LEADSEA_MAP_COORD_SYS") or "wgs84"
    return {
        "tile_url": read("LEADSEA_MAP_TILE_URL"),
        "tile_attribution": read("LEADSEA_MAP_TILE_ATTRIBUTION"),
        "coord_sys": coord_sys if coord_sys in geo.COORD_SYSTEMS else "wgs84",
    }


# ------------------------------------------------------------------------------------------------ nearby


@dataclass
class NearbyItem:
    lead: NearbyLead
    distance_m: float
    status: str  # public, mine, taken
    last_visit: LastVisit | None
    last_visit_mine: bool
    tags: list[str]
    owner_name: str  # for supervisors only; a BD learns that a lead is taken, never by whom
    can_open: bool
    map_lat: float
    map_lng: float


def _nearby_items(
    membership: Membership, tenant: Tenant, found: list[Nearby], coord_sys: str
) -> list[NearbyItem]:
    bd = membership.role == Membership.Role.BD
    team: set[int] | None = None
    if not bd and not membership.sees_whole_tenant and any(n.pool_status == "taken" for n in found):
        team = {row["user_id"] for row in subtree_user_ids(tenant=tenant, org_unit=membership.org_unit)}
    owners: dict[int, str] = {}
    if not bd:
        taken_by = {n.lead.owner_id for n in found if n.pool_status == "taken"}
        owners = (
            {u.pk: _name(u) for u in get_user_model().objects.filter(pk__in=taken_by)} if taken_by else {}
        )
    items = []
    for n in found:
        lead = n.lead
        taken = n.pool_status == "taken"
        can_open = not taken or membership.sees_whole_tenant or (team is not None and lead.owner_id in team)
        map_lat, map_lng = geo.from_wgs84(lead.lat, lead.lng, coord_sys)  # type: ignore[arg-type]
        items.append(
            NearbyItem(
                lead=lead,
                distance_m=n.distance_m,
                status=n.pool_status,
                last_visit=n.last_visit,
                last_visit_mine=n.last_visit is not None and n.last_visit.user_id == membership.user_id,
                tags=n.tags,
                owner_name=owners.get(lead.owner_id or 0, "") if taken else "",
                can_open=can_open,
                map_lat=map_lat,
                map_lng=map_lng,
            )
        )
    return items


def _nearby_context(request: HttpRequest, back: str) -> dict[str, Any]:
    """Parse ?lat=&lng=&radius_m=&sea=&coord_sys=, run leads_nearby, and build what _nearby.html shows."""
    tenant, membership = _ctx(request)
    form = PositionForm(request.GET)
    ctx: dict[str, Any] = {"items": None, "error": None, "query": None}
    if not form.is_valid():
        if "lat" in form.errors or "lng" in form.errors:
            ctx["error"] = _("Set your position first: allow location access, or enter it by hand.")
        else:
            ctx["error"] = _("Check the radius and the filter.")
        return ctx
    query = form.query()
    try:
        found = leads_nearby(tenant=tenant, membership=membership, now=clock.now(), limit=50, **query)
    except DomainError as exc:
        ctx["error"] = str(exc.message)
        return ctx
    coord_sys = map_settings()["coord_sys"]
    lat_w, lng_w = geo.to_wgs84(query["lat"], query["lng"], query["coord_sys"])
    centre = geo.from_wgs84(lat_w, lng_w, coord_sys)
    ctx.update(
        items=_nearby_items(membership, tenant, found, coord_sys),
        query=query,
        centre={"lat": lat_w, "lng": lng_w, "map_lat": centre[0], "map_lng": centre[1]},
        # After a claim the pools view sends the BD back here, to the same position and filters.
        back_url=f"{back}?{urlencode(query)}",
    )
    return ctx


def _position_context(request: HttpRequest) -> dict[str, Any]:
    g = request.GET
    return {
        "seas": SEAS,
        "radii": RADII,
        "coord_systems": COORD_SYSTEMS,
        "sea": g.get("sea") or "all",
        "radius": g.get("radius_m") or "1000",
        "lat": g.get("lat", ""),
        "lng": g.get("lng", ""),
        "coord_sys": g.get("coord_sys") or "wgs84",
    }


@tenant_required
@require_GET
def nearby_page(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"tab": "nearby", **_position_context(request)}
    if request.GET.get("lat"):  # a manual position, or back from a claim: render the list on the server
        context.update(_nearby_context(request, reverse("mobile:nearby")))
        context["rendered"] = True
    return render(request, "mobile/nearby.html", context)


@tenant_required
@require_GET
def nearby_fragment(request: HttpRequest) -> HttpResponse:
    back = reverse("mobile:map") if request.GET.get("view") == "map" else reverse("mobile:nearby")
    return render(request, "mobile/_nearby.html", _nearby_context(request, back))


@tenant_required
@require_GET
def districts_fragment(request: HttpRequest) -> HttpResponse:
    tenant, membership = _ctx(request)
    return render(
        request, "mobile/_districts.html", {"centres": district_centres(tenant=tenant, membership=membership)}
    )


@tenant_required
@require_GET
def map_page(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"tab": "map", "map": map_settings(), **_position_context(request)}
    if request.GET.get("lat"):
        context.update(_nearby_context(request, reverse("mobile:map")))
        context["rendered"] = True
    return render(request, "mobile/map.html", context)


# ------------------------------------------------------------------------------------------- merchant 360


@tenant_required
@require_GET
def lead_page(request: HttpRequest, lead_id: int) -> HttpResponse:
    tenant, membership = _ctx(request)
    lead = _lead(request, lead_id)
    if lead is None:
        return _not_found(request)
    now = clock.now()
    private = is_private(lead, now)
    mine = private and lead.owner_id == membership.user_id
    visits = list(visits_of(tenant=tenant, lead=lead, limit=50))
    user_ids = {v.user_id for v in visits}
    names = (
        {m.user_id: m.name for m in members(tenant=tenant).filter(user_id__in=user_ids)} if user_ids else {}
    )
    context = {
        "tab": "",
        "lead": lead,
        "tags": [t.tag for t in lead.tag_rows.all()],
        "contacts": list(contacts_of(tenant=tenant, lead=lead)),
        "visits": [(v, names.get(v.user_id, _name(v.user))) for v in visits],
        "opportunities": list(opportunities_of(tenant=tenant, lead=lead)),
        "related": related_stores(tenant=tenant, membership=membership, lead=lead, now=now),
        "status": "public" if not private else ("mine" if mine else "taken"),
        "owner_name": _name(lead.owner)
        if private and not mine and membership.role != Membership.Role.BD
        else "",
        "drop_words": drop_in_words(lead, now) if private else "",
        "urgency": urgency(lead, now) if mine else "",
        "can_claim": not private,
        "can_release": mine and lead.signed_at is None,
        "can_extend": mine
        and lead.expires_at is not None
        and lead.self_extensions_used < lead.pool.max_self_extensions,
        "here": request.get_full_path(),
    }
    return render(request, "mobile/lead.html", context)


@tenant_required
@require_GET
def visit_photo(request: HttpRequest, visit_id: int) -> HttpResponse:
    """A visit's photo, to those who may see its lead (photos are not public media)."""
    tenant, membership = _ctx(request)
    try:
        handle, content_type = visit_photo_file(tenant=tenant, membership=membership, visit_id=visit_id)
    except DomainError:
        return _not_found(request)
    response: Any = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


# ----------------------------------------------------------------------------------------------- check-in


def _checkin_message(visit: Visit) -> tuple[int, str]:
    from leadsea.mobile.templatetags.mobile import distance

    radius = distance(visit.radius_m)
    if visit.verified:
        return messages.SUCCESS, _("Checked in and verified: %(d)s from the store.") % {
            "d": distance(visit.distance_m)
        }
    if visit.distance_m is None:
        return messages.WARNING, _("Checked in, not verified: the store has no position on record.")
    if visit.position_source != "gps":
        return messages.WARNING, _(
            "Checked in, not verified: a position entered by hand does not verify a visit."
        )
    if visit.distance_m <= visit.radius_m:
        return messages.WARNING, _(
            "Checked in, not verified: the position was only accurate to ±%(a)s (it must be within %(r)s)."
        ) % {"a": distance(visit.accuracy_m), "r": radius}
    return messages.WARNING, _(
        "Checked in, not verified: %(d)s from the store (a verified visit is within %(r)s)."
    ) % {"d": distance(visit.distance_m), "r": radius}


@tenant_required
@require_http_methods(["GET", "POST"])
def checkin(request: HttpRequest, lead_id: int) -> HttpResponse:
    tenant, membership = _ctx(request)
    lead = _lead(request, lead_id)
    if lead is None:
        return _not_found(request)
    contacts = list(contacts_of(tenant=tenant, lead=lead))
    form = CheckinForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        contacts=contacts,
        time_zone=tenant.time_zone,
        initial={"contact": str(contacts[0].pk) if contacts and contacts[0].is_key_person else ""},
    )
    if request.method == "POST" and form.is_valid():
        try:
            visit = checkin_record(
                tenant=tenant,
                actor=membership,
                lead_id=lead.pk,
                visit=form.visit_kwargs(),
                new_contact=form.new_contact(),
            )
        except NotFound:
            return _not_found(request)
        except DomainError as exc:
            form.add_service_error(exc.field, str(exc.message))
        else:
            level, text = _checkin_message(visit)
            messages.add_message(request, level, text)
            return redirect(f"{reverse('mobile:lead', args=[lead.pk])}#visits")
    position_error = bool(form.errors.get("lat") or form.errors.get("lng"))
    return render(
        request,
        "mobile/checkin.html",
        {
            "tab": "",
            "lead": lead,
            "form": form,
            "position_error": position_error,
            "radius": tenant.visit_radius_m,
        },
        status=422 if form.errors else 200,
    )


# --------------------------------------------------------------------------------------------- to-do, mine


def _todo_context(request: HttpRequest) -> dict[str, Any]:
    tenant, membership = _ctx(request)
    now = clock.now()
    todo = todo_for(tenant=tenant, user_id=membership.user_id, now=now)
    request._leadsea_todo_total = todo.counts["total"]  # type: ignore[attr-defined]  # the badge agrees
    return {
        "counts": todo.counts,
        "expiring": [(lead, drop_in_words(lead, now), urgency(lead, now)) for lead in todo.expiring],
        "planned": [(v, v.next_visit_at is not None and v.next_visit_at < now) for v in todo.planned_visits],
        "tasks": [(t, t.due_at is not None and t.due_at < now) for t in todo.tasks],
    }


@tenant_required
@require_GET
def todo_page(request: HttpRequest) -> HttpResponse:
    return render(request, "mobile/todo.html", {"tab": "todo", **_todo_context(request)})


@tenant_required
@require_GET
def todo_desktop(request: HttpRequest) -> HttpResponse:
    return render(request, "mobile/todo_desktop.html", _todo_context(request))


@tenant_required
@require_POST
def task_done(request: HttpRequest, task_id: int) -> HttpResponse:
    tenant, membership = _ctx(request)
    try:
        task = task_complete(
            tenant=tenant, actor=membership, task_id=task_id, result=request.POST.get("result", "")
        )
    except NotFound:
        return _not_found(request)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Done: %(title)s") % {"title": task.title})
    return redirect(_safe_next(request, reverse("mobile:todo")))


@tenant_required
@require_GET
def mine_page(request: HttpRequest) -> HttpResponse:
    tenant, membership = _ctx(request)
    qs = leads_search(tenant=tenant, membership=membership, sea="private", ordering="expires")
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    now = clock.now()
    rows = [(lead, drop_in_words(lead, now), urgency(lead, now)) for lead in page.object_list]
    return render(request, "mobile/mine.html", {"tab": "mine", "page": page, "rows": rows})


# ------------------------------------------------------------------------------------------------- PWA


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    """The web app manifest. Public: browsers fetch it without cookies."""
    data = {
        "name": "leadsea",
        "short_name": "leadsea",
        "description": _("Nearby merchants, visits and to-dos for field sales."),
        "start_url": reverse("mobile:nearby"),
        "scope": reverse("mobile:nearby"),
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOUR,
        "background_color": "#f5f6f8",
        "icons": [
            {
                "src": static(f"leadsea/icons/icon-{n}.png"),
                "sizes": f"{n}x{n}",
                "type": "image/png",
                "purpose": p,
            }
            for n in (192, 512)
            for p in ("any", "maskable")
        ],
    }
    return JsonResponse(
        data, content_type="application/manifest+json", json_dumps_params={"ensure_ascii": False}
    )


@lru_cache(maxsize=4)
def _shell_version(debug_token: float) -> str:
    """A hash of the shell's files and of the worker itself: a new release installs a fresh cache."""
    digest = hashlib.sha256()
    for path in SHELL_STATIC:
        found = finders.find(path)
        if isinstance(found, str):
            digest.update(Path(found).read_bytes())
    for name in ("sw.js", "offline.html"):
        digest.update((Path(__file__).parent / "templates" / "mobile" / name).read_bytes())
    return digest.hexdigest()[:12]


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served from /m/ so that its scope is the mobile app."""
    shell = [reverse("mobile:offline"), *(static(p) for p in SHELL_STATIC)]
    version = _shell_version(clock.now().timestamp() // 5 if settings.DEBUG else 0)
    response = render(
        request,
        "mobile/sw.js",
        {"version": version, "shell_json": json.dumps(shell), "offline_url": json.dumps(shell[0])},
        content_type="text/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = reverse("mobile:nearby")
    return response


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    return render(request, "mobile/offline.html")
