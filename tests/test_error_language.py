"""Domain error messages speak the request's language: Chinese for zh-hans, English for en, with the same
stable `code` and `field` either way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.utils import translation

from conftest import PASSWORD
from leadsea.leads.services import lead_create
from leadsea.pools import services as pools
from leadsea.pools.selectors import default_pool

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _language_reset() -> Iterator[None]:
    # A request activates its language for the thread; leave later tests the default, as they found it.
    yield
    translation.deactivate()


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def no_claims(org) -> None:
    pools.pool_policy_update(
        tenant=org.tenant,
        actor=org.admin,
        pool=default_pool(tenant=org.tenant),
        policy={"claim_limit": 0},
        now=T0,
    )


def send(api, method: str, path: str, language: str, data: dict | None = None):
    headers = {**api._headers(), "Accept-Language": language}
    if method == "post":
        return api.client.post(path, json.dumps(data or {}), content_type="application/json", headers=headers)
    return api.client.get(path, data or {}, headers=headers)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("zh-hans", "您在“默认公海”中已持有 0 条私海线索，已达上限。"),
        ("en", "You hold 0 private leads in 默认公海, the limit."),
    ],
)
def test_claim_limit_refusal_in_the_request_language(org, api_as, frozen, language, expected):
    no_claims(org)
    lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "喜茶"}, now=T0)
    r = send(api_as(org.bd1), "post", f"/api/v1/leads/{lead.pk}/claim", language)
    assert r.status_code == 409, r.content
    assert r.json()["error"] == {"code": "claim_limit_reached", "message": expected, "field": None}


@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh-hans", "lat 必须在 -90 到 90 之间。"), ("en", "lat must lie between -90 and 90.")],
)
def test_field_error_in_the_request_language(org, api_as, language, expected):
    r = send(api_as(org.admin), "post", "/api/v1/leads", language, {"name": "店", "lat": 95, "lng": 116})
    assert r.status_code == 422, r.content
    assert r.json()["error"] == {"code": "invalid", "message": expected, "field": "lat"}


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("zh-hans", "sea 必须是 public（公海）、private（私海）或 all（全部）。"),
        ("en", "sea must be public, private or all."),
    ],
)
def test_selector_error_in_the_request_language(org, api_as, language, expected):
    r = send(api_as(org.bd1), "get", "/api/v1/leads", language, {"sea": "ocean"})
    assert r.status_code == 422, r.content
    assert r.json()["error"] == {"code": "invalid", "message": expected, "field": "sea"}


@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh-hans", "该线索已在他人的私海中。"), ("en", "This lead is in someone else's private sea.")],
)
def test_default_message_follows_the_language_of_each_request(org, api_as, frozen, language, expected):
    lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "喜茶"}, now=T0)
    pools.lead_claim(tenant=org.tenant, actor=org.bd2, lead_id=lead.pk, now=T0)
    api = api_as(org.bd1)
    other = "en" if language == "zh-hans" else "zh-hans"
    send(
        api, "post", f"/api/v1/leads/{lead.pk}/claim", other
    )  # the lazy default is not frozen by a first use
    r = send(api, "post", f"/api/v1/leads/{lead.pk}/claim", language)
    assert r.status_code == 409, r.content
    assert r.json()["error"] == {"code": "lead_not_available", "message": expected, "field": None}


def login(member, language: str) -> Client:
    client = Client()
    client.cookies["leadsea_language"] = language
    r = client.post(
        "/login/", {"tenant": member.tenant.slug, "username": member.user.username, "password": PASSWORD}
    )
    assert r.status_code == 302
    return client


@pytest.mark.parametrize(
    ("language", "limit", "reason"),
    [
        ("zh-hans", "您在“默认公海”中已持有 0 条私海线索，已达上限。", "请填写原因。"),
        ("en", "You hold 0 private leads in 默认公海, the limit.", "A reason is required."),
    ],
)
def test_pages_show_service_errors_in_the_cookie_language(org, frozen, language, limit, reason):
    lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "喜茶"}, now=T0)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, now=T0)
    client = login(org.bd1, language)
    r = client.post(f"/sea/leads/{lead.pk}/release/", {"reason": "", "next": "/sea/mine/"}, follow=True)
    assert reason in r.content.decode()
    no_claims(org)
    other = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "奈雪的茶"}, now=T0)
    r = client.post(f"/sea/leads/{other.pk}/claim/", {"next": "/sea/public/"}, follow=True)
    assert limit in r.content.decode()
