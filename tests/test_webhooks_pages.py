"""The webhook settings pages: an admin creates a webhook (the secret shown once), edits it, reads its
delivery log and sends a delivery again; everyone else, and the other tenant, gets "not found"."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from conftest import PASSWORD
from leadsea.audit.models import ChangeLog
from leadsea.events.delivery import dispatch_once
from leadsea.events.models import TenantPlugin, WebhookDelivery, WebhookEndpoint
from leadsea.leads.services import lead_create
from test_webhooks import Receiver

pytestmark = pytest.mark.django_db


def login(member: Any, language: str = "en") -> Client:
    client = Client()
    client.cookies["leadsea_language"] = language
    r = client.post(
        "/login/", {"tenant": member.tenant.slug, "username": member.user.username, "password": PASSWORD}
    )
    assert r.status_code == 302
    return client


@pytest.fixture
def receiver(settings: Any):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    r = Receiver()
    yield r
    r.close()


def test_an_admin_manages_webhooks_and_reads_the_delivery_log(org, receiver):
    web = login(org.admin)
    assert web.get("/settings/webhooks/").status_code == 200
    r = web.post(
        "/settings/webhooks/",
        {"url": receiver.url, "event_types": ["lead.created"], "description": "ERP", "is_active": "on"},
    )
    assert r.status_code == 200
    endpoint = WebhookEndpoint.objects.get(tenant=org.tenant)
    assert endpoint.secret in r.content.decode()  # shown once, on creation
    assert endpoint.event_types == ["lead.created"] and endpoint.is_active
    assert endpoint.secret not in web.get("/settings/webhooks/").content.decode()
    receiver.statuses = [500]
    lead_create(tenant=org.tenant, actor=org.admin, data={"name": "海底捞火锅"})
    dispatch_once()
    page = web.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert "lead.created" in page and "HTTP 500" in page and "收到 500" in page
    delivery = WebhookDelivery.objects.get(tenant=org.tenant)
    r = web.post(f"/settings/webhooks/{endpoint.pk}/", {"action": "retry", "delivery_id": delivery.pk})
    assert r.status_code == 302
    dispatch_once()
    assert WebhookDelivery.objects.get(tenant=org.tenant).status == "succeeded"
    assert (
        "Succeeded" in web.get(f"/settings/webhooks/{endpoint.pk}/", {"status": "succeeded"}).content.decode()
    )
    r = web.post(
        f"/settings/webhooks/{endpoint.pk}/",
        {"action": "update", "url": receiver.url, "event_types": ["lead.signed"], "description": "ERP"},
    )
    assert r.status_code == 302
    endpoint = WebhookEndpoint.objects.get(tenant=org.tenant)
    assert endpoint.event_types == ["lead.signed"] and not endpoint.is_active
    r = web.post(f"/settings/webhooks/{endpoint.pk}/", {"action": "rotate"})
    new_secret = WebhookEndpoint.objects.get(tenant=org.tenant).secret
    assert new_secret != endpoint.secret and new_secret in r.content.decode()
    r = web.post(f"/settings/webhooks/{endpoint.pk}/", {"action": "update", "url": "ftp://x"})
    assert r.status_code == 200 and "http or https" in r.content.decode()
    assert web.post(f"/settings/webhooks/{endpoint.pk}/", {"action": "delete"}).status_code == 302
    assert not WebhookEndpoint.objects.filter(tenant=org.tenant).exists()
    actions = list(
        ChangeLog.objects.filter(tenant=org.tenant, object_type="webhookendpoint")
        .values_list("action", flat=True)
        .order_by("id")
    )
    assert actions == ["webhook.create", "webhook.update", "webhook.rotate_secret", "webhook.delete"]


def test_the_pages_are_for_the_tenants_admins_only(org, other_org, receiver):
    theirs = login(other_org.admin)
    theirs.post("/settings/webhooks/", {"url": receiver.url, "description": "乙方机密"})
    their_endpoint = WebhookEndpoint.objects.get(tenant=other_org.tenant)
    for member in (org.bd1, org.manager, org.hq):
        web = login(member)
        assert web.get("/settings/webhooks/").status_code == 404
        assert web.post("/settings/webhooks/", {"url": receiver.url}).status_code == 404
    web = login(org.admin)
    assert web.get(f"/settings/webhooks/{their_endpoint.pk}/").status_code == 404
    r = web.post(f"/settings/webhooks/{their_endpoint.pk}/", {"action": "delete"})
    assert r.status_code == 404
    assert "乙方机密" not in web.get("/settings/webhooks/").content.decode()
    assert WebhookEndpoint.objects.filter(tenant=other_org.tenant).count() == 1


def test_an_admin_turns_a_plugin_on_and_off_in_chinese(org):
    web = login(org.admin, language="zh-hans")
    page = web.get("/settings/webhooks/").content.decode()
    assert "example" in page
    assert (
        web.post("/settings/webhooks/", {"action": "plugin", "name": "example", "enabled": "on"}).status_code
        == 302
    )
    assert TenantPlugin.objects.get(tenant=org.tenant, name="example").enabled
    web.post("/settings/webhooks/", {"action": "plugin", "name": "example"})
    assert not TenantPlugin.objects.get(tenant=org.tenant, name="example").enabled
    assert re.search(r"<html lang=\"zh-hans\"", page)
