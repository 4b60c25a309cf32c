"""The desktop merchant 360 page: pool status, opportunity stage form, contacts, visits, related stores."""

from __future__ import annotations

import pytest
from django.test import Client

from conftest import PASSWORD
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_create
from leadsea.pools import services as pools
from leadsea.visits.services import contact_create, visit_record

pytestmark = pytest.mark.django_db


def login(member) -> Client:
    client = Client()
    client.cookies["leadsea_language"] = "en"
    client.post(
        "/login/", {"tenant": member.tenant.slug, "username": member.user.username, "password": PASSWORD}
    )
    return client


def test_merchant_360_sections_and_stage(org):
    lead = lead_create(
        tenant=org.tenant,
        actor=org.admin,
        data={"name": "海底捞火锅", "branch_name": "国贸店", "lat": 39.9087, "lng": 116.4605},
    )
    sister = lead_create(
        tenant=org.tenant, actor=org.admin, data={"name": "海底捞火锅", "branch_name": "望京店"}
    )
    other_private = lead_create(
        tenant=org.tenant, actor=org.admin, data={"name": "海底捞火锅", "branch_name": "西单店"}
    )
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk)
    pools.lead_claim(tenant=org.tenant, actor=org.bd2, lead_id=other_private.pk)
    contact_create(
        tenant=org.tenant,
        actor=org.bd1,
        lead_id=lead.pk,
        data={"name": "王店长", "role": "店长", "phones": ["13800138000"], "is_key_person": True},
    )
    visit_record(
        tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, lat=39.9087, lng=116.4605, notes="见到店长"
    )
    client = login(org.bd1)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "王店长" in page and "tel:+8613800138000" in page
    assert "见到店长" in page and "verified" in page
    assert "望京店" in page and "西单店" not in page  # bd2's private store is not bd1's to see
    assert "Our deals and sales" in page and "No data yet." in page
    r = client.post(f"/leads/{lead.pk}/stage/", {"stage": "negotiation"})
    assert r.status_code == 302
    assert Lead.objects.select_related("stage").get(tenant=org.tenant, pk=lead.pk).stage.key == "negotiation"
    page = client.get(f"/leads/{lead.pk}/", follow=True).content.decode()
    assert "Stage updated." in page or "商务谈判" in page
    client.post(f"/leads/{lead.pk}/stage/", {"stage": "lost"})
    assert "A lost stage needs a lost reason." in client.get(f"/leads/{lead.pk}/").content.decode()
    assert sister.pk


def test_history_of_a_change_made_by_the_system_renders(org):
    """Bulk loads (the demo, imports) write change rows without an actor: the page names the system."""
    from leadsea.audit.models import ChangeLog

    lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "系统导入店"})
    ChangeLog.objects.filter(tenant=org.tenant, object_type="lead", object_id=lead.pk).update(actor=None)
    r = login(org.bd1).get(f"/leads/{lead.pk}/")
    assert r.status_code == 200 and "system" in r.content.decode()
