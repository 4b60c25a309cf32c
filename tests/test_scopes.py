"""Data scopes: who sees and edits which leads, through the selectors and through the API."""

from __future__ import annotations

from typing import Any

import pytest

from leadsea.audit.models import ChangeLog
from leadsea.leads.models import Lead
from leadsea.leads.selectors import lead_get, leads_search, leads_visible

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads(org: Any, api_as: Any) -> dict[str, int]:
    """One lead per owner (bd1, bd2, bd3, lead_a, manager, hq, ops) and two unowned ones, by the admin."""
    admin = api_as(org.admin)
    made: dict[str, int] = {}
    owners = ("bd1", "bd2", "bd3", "lead_a", "manager", "hq", "ops")
    for key in (*owners, "none", "none2"):
        owner = getattr(org, key).user_id if key in owners else None
        r = admin.post("/api/v1/leads", {"name": f"店-{key}", "owner": owner, "city": "北京市"})
        assert r.status_code == 201, r.content
        assert r.json()["owner"] == owner
        made[key] = r.json()["id"]
    return made


def _expected(leads: dict[str, int], *keys: str) -> set[int]:
    return {leads[k] for k in (*keys, "none", "none2")}


def _api_ids(api: Any) -> set[int]:
    r = api.get("/api/v1/leads", {"page_size": 200})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["count"] == len(body["items"])
    return {x["id"] for x in body["items"]}


SCOPES = {
    # role fixture -> the owners whose leads it sees besides the unowned ones
    "bd1": ("bd1",),
    "bd3": ("bd3",),
    "lead_a": ("bd1", "bd2", "lead_a"),  # manager of team A: team A only
    "manager": ("bd1", "bd2", "bd3", "lead_a", "manager", "ops"),  # city manager: both teams and the city
    "ops": ("bd1", "bd2", "bd3", "lead_a", "manager", "ops"),  # ops at the city: like a manager of it
    "hq": ("bd1", "bd2", "bd3", "lead_a", "manager", "hq", "ops"),
    "admin": ("bd1", "bd2", "bd3", "lead_a", "manager", "hq", "ops"),
}


@pytest.mark.parametrize("who", sorted(SCOPES))
def test_scope_through_selectors_and_api(org, other_org, api_as, leads, who):
    membership = getattr(org, who)
    expected = _expected(leads, *SCOPES[who])
    assert (
        set(leads_visible(tenant=org.tenant, membership=membership).values_list("id", flat=True)) == expected
    )
    assert {x.pk for x in leads_search(tenant=org.tenant, membership=membership)} == expected
    assert _api_ids(api_as(membership)) == expected
    # The other tenant's members with the same role see none of these leads.
    other = getattr(other_org, who)
    assert not set(
        leads_visible(tenant=other_org.tenant, membership=other).values_list("id", flat=True)
    ) & set(leads.values())


def test_bd_never_sees_another_bds_lead_even_when_filtering_for_it(org, api_as, leads):
    api = api_as(org.bd1)
    for params in ({"owner": str(org.bd2.user_id)}, {"q": "店-bd2"}, {"owner": str(org.bd3.user_id)}):
        r = api.get("/api/v1/leads", params)
        assert r.status_code == 200 and r.json()["items"] == [] and r.json()["count"] == 0, params
    assert [x["id"] for x in api.get("/api/v1/leads", {"owner": "me"}).json()["items"]] == [leads["bd1"]]
    assert {x["id"] for x in api.get("/api/v1/leads", {"owner": "none"}).json()["items"]} == {
        leads["none"],
        leads["none2"],
    }


def test_out_of_scope_lead_is_404_and_leaks_nothing(org, api_as, leads):
    api = api_as(org.bd1)
    hidden = api.get(f"/api/v1/leads/{leads['bd2']}")
    missing = api.get("/api/v1/leads/987654321")
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == missing.json()["error"]["code"]
    assert hidden.content == missing.content  # indistinguishable from an id that does not exist
    assert "店-bd2" not in hidden.content.decode()
    # The team manager of A cannot read team B's lead either; the city manager can.
    assert api_as(org.lead_a).get(f"/api/v1/leads/{leads['bd3']}").status_code == 404
    assert api_as(org.manager).get(f"/api/v1/leads/{leads['bd3']}").status_code == 200
    # The selector itself raises the not-found error, not a permission error.
    from leadsea.core.errors import NotFound

    with pytest.raises(NotFound):
        lead_get(tenant=org.tenant, membership=org.bd1, lead_id=leads["bd2"])
    assert lead_get(tenant=org.tenant, membership=org.bd1, lead_id=leads["bd1"]).pk == leads["bd1"]


def test_bd_creates_for_self_only(org, api_as):
    api = api_as(org.bd1)
    r = api.post("/api/v1/leads", {"name": "自己的店", "owner": org.bd1.user_id})
    assert r.status_code == 201, r.content
    assert r.json()["owner"] == org.bd1.user_id
    before = Lead.objects.filter(tenant=org.tenant).count()
    for other in (org.bd2, org.bd3, org.manager):
        r = api.post("/api/v1/leads", {"name": "别人的店", "owner": other.user_id})
        assert r.status_code == 403, r.content
        assert r.json()["error"]["code"] == "forbidden" and r.json()["error"]["field"] == "owner"
    assert Lead.objects.filter(tenant=org.tenant).count() == before


def test_team_manager_assigns_within_team_only(org, other_org, api_as):
    api = api_as(org.lead_a)
    r = api.post("/api/v1/leads", {"name": "一组的店", "owner": org.bd1.user_id})
    assert r.status_code == 201 and r.json()["owner"] == org.bd1.user_id
    before = Lead.objects.filter(tenant=org.tenant).count()
    # A BD of another team, a member above the team, and a user of the other tenant are all invalid owners.
    for owner in (org.bd3.user_id, org.manager.user_id, other_org.bd1.user_id):
        r = api.post("/api/v1/leads", {"name": "二组的店", "owner": owner})
        assert r.status_code == 422, r.content
        assert r.json()["error"]["code"] == "invalid_owner" and r.json()["error"]["field"] == "owner"
    assert Lead.objects.filter(tenant=org.tenant).count() == before
    # The city manager may assign to both teams.
    r = api_as(org.manager).post("/api/v1/leads", {"name": "二组的店", "owner": org.bd3.user_id})
    assert r.status_code == 201 and r.json()["owner"] == org.bd3.user_id


def test_edit_rights(org, api_as, leads):
    bd1 = api_as(org.bd1)
    updates = ChangeLog.objects.filter(tenant=org.tenant, action="lead.update")
    r = bd1.patch(f"/api/v1/leads/{leads['bd2']}", {"name": "抢来的"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "lead_not_found"
    assert Lead.objects.get(tenant=org.tenant, pk=leads["bd2"]).name == "店-bd2"
    assert updates.count() == 0
    # A BD edits their own lead and an unowned one.
    assert bd1.patch(f"/api/v1/leads/{leads['bd1']}", {"category": "火锅"}).status_code == 200
    assert bd1.patch(f"/api/v1/leads/{leads['none']}", {"category": "火锅"}).status_code == 200
    # The manager of team A edits a lead of the team, not one of team B.
    lead_a = api_as(org.lead_a)
    r = lead_a.patch(f"/api/v1/leads/{leads['bd2']}", {"status": "following"})
    assert r.status_code == 200 and r.json()["status"] == "following"
    assert lead_a.patch(f"/api/v1/leads/{leads['bd3']}", {"status": "following"}).status_code == 404
    assert Lead.objects.get(tenant=org.tenant, pk=leads["bd3"]).status == "new"
    assert updates.count() == 3
    assert updates.order_by("-id").first().actor_id == org.lead_a.user_id
