"""The public /join/ form (spam guards, reference code, status page) and the crowdsourcing role's fence."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from conftest import PASSWORD, ApiClient
from leadsea.intake.forms import JOIN_MAX_SECONDS, form_token
from leadsea.intake.models import IntakeRecord, IntakeSource
from leadsea.intake.services import review_decide
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_create
from leadsea.tenancy.services import user_create

STORE = {
    "name": "老王烧烤（望京店）",
    "contact_name": "王师傅",
    "phone": "138 0013 8000",
    "category": "烧烤",
    "address": "北京市朝阳区望京西路 48 号",
    "city": "北京",
    "lat": "39.99612",
    "lng": "116.47088",
}


@pytest.fixture(autouse=True)
def _clear_rate_limits() -> None:
    cache.clear()


def _post(client: Client, slug: str = "acme", age: float = 10.0, **overrides: Any) -> Any:
    data = {**STORE, "token": form_token(tenant_slug=slug, issued_at=time.time() - age), **overrides}
    return client.post(f"/join/{slug}/", data, REMOTE_ADDR=overrides.pop("ip", "10.0.0.1"))


def test_join_form_renders_in_the_tenant_language_with_a_token_and_a_honeypot(org):
    page = Client().get("/join/acme/")
    body = page.content.decode()
    assert page.status_code == 200
    assert 'name="token"' in body and 'name="website"' in body
    assert "id_lat" in body and "use-location" in body
    assert Client().get("/join/nope/").status_code == 404
    english = Client()
    english.cookies["leadsea_language"] = "en"
    assert "List your store" in english.get("/join/acme/").content.decode()


def test_join_creates_a_record_through_intake_and_gives_a_status_page(org):
    client = Client()
    r = _post(client)
    assert r.status_code == 302, r.content.decode()[:800]
    code = re.search(r"code=([A-Z0-9]+)", r["Location"]).group(1)
    record = IntakeRecord.objects.select_related("source").get(tenant=org.tenant, external_id=code)
    assert record.source.channel == IntakeSource.Channel.SELF_SUBMISSION
    assert record.raw["phone"] == "+8613800138000" and record.submitted_by is None
    assert record.status == "created" and record.lead_id
    thanks = client.get(r["Location"]).content.decode()
    assert code in thanks
    # another browser cannot read the code off the thank-you URL
    assert 'id="reference-code"' not in Client().get(r["Location"]).content.decode()
    status = client.get(f"/join/acme/status/{code}/")
    body = status.content.decode()
    assert status.status_code == 200 and 'data-state="accepted"' in body
    assert "老王烧烤" in body and "+8613800138000" not in body and f"/leads/{record.lead_id}" not in body
    assert Client().get("/join/acme/status/NOPE123456/").status_code == 404
    assert Client().get(f"/join/rival/status/{code}/").status_code == 404  # tenant-bound


def test_join_status_says_under_review_then_accepted(org):
    # an existing store with the same phone and name makes the submission a review item or a merge
    lead_create(
        tenant=org.tenant,
        actor=org.admin,
        data={
            "name": "老王烧烤",
            "branch_name": "望京店",
            "phones": ["13800138000"],
            "address": "望京西路48号",
        },
    )
    r = _post(Client())
    code = re.search(r"code=([A-Z0-9]+)", r["Location"]).group(1)
    record = IntakeRecord.objects.get(tenant=org.tenant, external_id=code)
    state = re.search(r'data-state="(\w+)"', Client().get(f"/join/acme/status/{code}/").content.decode())
    if record.status == "review":
        assert state.group(1) == "review"
        item = record.review_items.get()
        review_decide(tenant=org.tenant, item=item, decision="merge", actor=org.admin)
        state = re.search(r'data-state="(\w+)"', Client().get(f"/join/acme/status/{code}/").content.decode())
    assert state.group(1) == "accepted"


@pytest.mark.parametrize(
    ("age", "overrides", "message"),
    [
        (0.5, {}, "too fast"),
        (JOIN_MAX_SECONDS + 60, {}, "expired"),
        (10, {"token": "forged"}, "could not be verified"),
        (10, {"phone": "12345"}, "phone"),
        (10, {"name": ""}, "required"),
        (10, {"lat": "39.9", "lng": ""}, "go together"),
    ],
)
def test_join_rejects_bad_posts_and_keeps_nothing(org, age, overrides, message):
    client = Client()
    client.cookies["leadsea_language"] = "en"
    r = _post(client, age=age, **overrides)
    assert r.status_code == 400
    assert message in r.content.decode().lower() or message in r.content.decode()
    assert not IntakeRecord.objects.filter(tenant=org.tenant).exists()


def test_join_token_of_another_tenant_is_refused(org, other_org):
    data = {**STORE, "token": form_token(tenant_slug="rival", issued_at=time.time() - 10)}
    assert Client().post("/join/acme/", data).status_code == 400
    assert not IntakeRecord.objects.filter(tenant=org.tenant).exists()


def test_join_honeypot_looks_like_success_but_keeps_nothing(org):
    r = _post(Client(), website="http://spam.example")
    assert r.status_code == 302 and "thanks" in r["Location"]
    assert not IntakeRecord.objects.filter(tenant=org.tenant).exists()
    assert not Lead.objects.filter(tenant=org.tenant).exists()


def test_join_rate_limit_per_ip(org, settings):
    from leadsea.intake import join_views

    limit = join_views.JOIN_RATE_LIMIT
    for i in range(limit):
        r = _post(Client(), phone=f"1380013{8100 + i}", ip="10.0.0.7")
        assert r.status_code == 302, i
    assert _post(Client(), phone="13800139999", ip="10.0.0.7").status_code == 429
    assert _post(Client(), phone="13800139999", ip="10.0.0.8").status_code == 302  # another client
    assert IntakeRecord.objects.filter(tenant=org.tenant).count() == limit + 1


def test_behind_a_trusted_proxy_the_limit_counts_the_forwarded_client(org, settings):
    """With LEADSEA_TRUSTED_PROXIES the client is the nearest X-Forwarded-For hop that is not a proxy; a
    header from anyone else, or hops a client prepended, count for nothing."""
    import ipaddress

    from leadsea.intake import join_views

    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.9.0.0/16")]
    limit = join_views.JOIN_RATE_LIMIT

    def post(i: int, forwarded: str, peer: str = "10.9.0.2") -> int:
        data = {**STORE, "token": form_token(tenant_slug="acme", issued_at=time.time() - 10)}
        data["phone"] = f"1390013{8100 + i}"
        r = Client().post("/join/acme/", data, REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)
        return int(r.status_code)

    # One client behind two proxies; it rotates a spoofed left-most hop, which changes nothing.
    for i in range(limit):
        assert post(i, f"6.6.6.{i}, 203.0.113.7, 10.9.0.9") == 302, i
    assert post(50, "6.6.6.99, 203.0.113.7, 10.9.0.9") == 429
    assert post(51, "203.0.113.8, 10.9.0.9") == 302  # another client behind the same proxies
    # A peer that is not a trusted proxy: its header is ignored, the peer is the client.
    for i in range(limit):
        assert post(60 + i, "203.0.113.7", peer="198.51.100.1") == 302
    assert post(70, "203.0.113.99", peer="198.51.100.1") == 429


def test_client_ip_walks_forwarded_hops_from_the_right(rf, settings):
    import ipaddress

    from leadsea.core.net import client_ip

    def ip(peer: str, forwarded: str | None = None) -> str:
        meta = {"REMOTE_ADDR": peer}
        if forwarded is not None:
            meta["HTTP_X_FORWARDED_FOR"] = forwarded
        return client_ip(rf.get("/", **meta))

    settings.TRUSTED_PROXIES = []
    assert ip("10.0.0.5", "1.2.3.4") == "10.0.0.5"  # no trusted proxies: the header is never read
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]
    assert ip("10.0.0.5", "1.2.3.4") == "1.2.3.4"
    assert ip("10.0.0.5", "9.9.9.9, 1.2.3.4, 10.1.1.1") == "1.2.3.4"
    assert ip("fd00::1", "2001:db8::7") == "2001:db8::7"
    assert ip("10.0.0.5", "10.0.0.6") == "10.0.0.6"  # only proxies: the farthest one
    assert ip("10.0.0.5", "1.2.3.4, not-an-ip") == "10.0.0.5"  # a malformed hop ends the walk
    assert ip("10.0.0.5") == "10.0.0.5"
    assert ip("") == "unknown"


# --- the crowdsourcing role --------------------------------------------------------------------------------


@pytest.fixture
def crowd(org):
    return user_create(tenant=org.tenant, username="acme-crowd", password=PASSWORD, role="crowd")


def _login(membership: Any) -> Client:
    client = Client()
    r = client.post(
        "/login/",
        {"tenant": membership.tenant.slug, "username": membership.user.username, "password": PASSWORD},
    )
    assert r.status_code == 302
    return client


def test_crowd_member_submits_and_sees_only_its_own_submissions(org, crowd):
    client = _login(crowd)
    landing = client.get("/leads/")
    assert landing.status_code == 302 and landing["Location"] == "/crowd/"
    page = client.get("/crowd/")
    assert (page.status_code == 200 and "Submit" in page.content.decode()) or "提交" in page.content.decode()
    r = client.post("/crowd/", {**STORE, "lat": "", "lng": ""})
    assert r.status_code == 302
    record = IntakeRecord.objects.get(tenant=org.tenant, source__channel="crowd")
    assert record.submitted_by_id == crowd.user_id and record.status == "created"
    body = client.get("/crowd/").content.decode()
    assert record.external_id in body and "老王烧烤" in body
    # nobody else's submissions
    other = user_create(tenant=org.tenant, username="acme-crowd2", password=PASSWORD, role="crowd")
    assert record.external_id not in _login(other).get("/crowd/").content.decode()


def _concrete(route: str, lead_id: int) -> str:
    """A URL pattern with its converters filled in with real-looking values."""
    path = re.sub(r"<int:[^>]+>", str(lead_id), route)
    path = re.sub(r"<slug:[^>]+>", "acme", path)
    path = re.sub(r"<(str:|path:)?[^>]+>", "x", path)
    return "/" + path.lstrip("^").rstrip("$")


def _routes(resolver: URLResolver, prefix: str = "") -> list[str]:
    out = []
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            out += _routes(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            out.append(prefix + str(p.pattern))
    return out


ALLOWED = ("crowd/", "login/", "logout/", "tenants/", "i18n/", "join/", "healthz", "admin/", "api/v1/")


def test_crowd_member_reaches_no_other_page(org, crowd):
    lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "海底捞", "phones": ["13800138001"]})
    client = _login(crowd)
    walked = 0
    for route in _routes(get_resolver()):
        if route.startswith(ALLOWED) or route in ("", "^", "leads/"):
            continue  # "" and leads/ (where a login lands) redirect to /crowd/
        url = _concrete(route, lead.pk)
        for method in ("get", "post"):
            r = getattr(client, method)(url)
            assert r.status_code in (403, 404, 405), f"{method.upper()} {url} -> {r.status_code}"
            assert "海底捞" not in r.content.decode(), url
        walked += 1
    assert walked >= 20  # leads, seas, pools, mobile, review, tags, ...


def test_crowd_member_has_no_api(org, crowd):
    lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "海底捞", "phones": ["13800138001"]})
    api = ApiClient(crowd)
    for path in ("/api/v1/me", "/api/v1/leads", f"/api/v1/leads/{lead.pk}", "/api/v1/intake/review"):
        r = api.get(path)
        assert r.status_code in (403, 404), path
        assert "海底捞" not in r.content.decode()
    r = api.get("/api/v1/me")
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"
    r = api.post("/api/v1/leads", {"name": "偷偷建的店"})
    assert r.status_code == 403 and not Lead.objects.filter(tenant=org.tenant, name="偷偷建的店").exists()
