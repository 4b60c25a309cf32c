"""Per-tenant modules and lead-page sections: configured by admins (page and API), audited; a module that
is off leaves the navigation (web and mobile) and its pages and API routes answer 404; sections hide."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from leadsea.audit.models import ChangeLog
from leadsea.onboarding.modules import MODULES, module_of_api_path, module_of_view
from leadsea.onboarding.selectors import page_settings_of
from leadsea.onboarding.services import page_config_update
from leadsea.pools.models import Pool
from leadsea.visits.services import visit_record

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-9"


def _web(membership: Any) -> Client:
    c = Client()
    r = c.post(
        "/login/",
        {"tenant": membership.tenant.slug, "username": membership.user.username, "password": PASSWORD},
    )
    assert r.status_code == 302
    return c


def _lead(org: Any, api_as: Any) -> int:
    r = api_as(org.admin).post(
        "/api/v1/leads", {"name": "模块测试店", "city": "北京", "lat": 39.9, "lng": 116.4}
    )
    assert r.status_code == 201, r.content
    return int(r.json()["id"])


def test_everything_is_on_by_default(org, api_as):
    settings = page_settings_of(tenant=org.tenant)
    assert all(settings.modules.values()) and all(settings.sections.values())
    r = api_as(org.bd1).get("/api/v1/settings/modules")
    assert r.status_code == 200 and r.json()["modules"]["pool"] is True
    assert {m["key"] for m in r.json()["module_list"]} == {"pool", "visits", "operations", "tasks", "intake"}


def test_api_patch_changes_only_the_keys_given_and_is_audited(org, other_org, api_as):
    r = api_as(org.admin).patch(
        "/api/v1/settings/modules", {"modules": {"intake": False}, "lead_sections": {"ledger": False}}
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["modules"]["intake"] is False and body["modules"]["pool"] is True
    assert body["lead_sections"]["ledger"] is False and body["shown_sections"]["ledger"] is False
    row = ChangeLog.objects.get(tenant=org.tenant, action="page_config.update")
    assert row.actor == org.admin.user
    assert row.before == {"lead_sections.ledger": True, "modules.intake": True}
    assert row.after == {"lead_sections.ledger": False, "modules.intake": False}
    # The same again changes nothing and writes no second row.
    api_as(org.admin).patch("/api/v1/settings/modules", {"modules": {"intake": False}})
    assert ChangeLog.objects.filter(tenant=org.tenant, action="page_config.update").count() == 1
    # Another tenant is untouched.
    assert all(page_settings_of(tenant=other_org.tenant).modules.values())
    assert not ChangeLog.objects.filter(tenant=other_org.tenant, action="page_config.update").exists()


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"modules": {"crm": False}}, 422, "unknown_module", "modules.crm"),
        ({"lead_sections": {"footer": False}}, 422, "unknown_section", "lead_sections.footer"),
        ({"modules": {"pool": "off"}}, 422, "invalid", "modules.pool"),
        ({"modules": ["pool"]}, 422, "invalid", "modules"),
    ],
)
def test_api_patch_rejects_bad_input(org, api_as, body, status, code, field):
    r = api_as(org.admin).patch("/api/v1/settings/modules", body)
    assert r.status_code == status, r.content
    assert (r.json()["error"]["code"], r.json()["error"]["field"]) == (code, field)
    assert not ChangeLog.objects.filter(tenant=org.tenant, action="page_config.update").exists()


def test_only_admins_change_the_configuration(org, api_as):
    for member in (org.hq, org.manager, org.bd1):
        r = api_as(member).patch("/api/v1/settings/modules", {"modules": {"pool": False}})
        assert r.status_code == 403 and r.json()["error"]["code"] == "admin_only"
        assert _web(member).get("/settings/modules/").status_code == 403
    assert page_settings_of(tenant=org.tenant).modules["pool"] is True


def test_pool_module_off_hides_nav_and_answers_404_on_pages_and_api(org, other_org, api_as):
    lead_id = _lead(org, api_as)
    pool_id = Pool.objects.get(tenant=org.tenant, is_default=True).pk
    bd = _web(org.bd1)
    before = bd.get("/leads/").content.decode()
    assert "/sea/public/" in before and "/sea/mine/" in before
    assert bd.get("/sea/public/").status_code == 200
    assert api_as(org.bd1).post(f"/api/v1/leads/{lead_id}/claim").status_code == 200
    page_config_update(tenant=org.tenant, actor=org.admin, modules={"pool": False})
    after = bd.get("/leads/").content.decode()
    assert "/sea/public/" not in after and "/sea/mine/" not in after and "/sea/team/" not in after
    for url in ("/sea/public/", "/sea/mine/", "/sea/team/", f"/pools/{pool_id}/policy/", "/m/mine/"):
        assert bd.get(url).status_code == 404, url
    assert f"/pools/{pool_id}/policy/" not in _web(org.admin).get("/leads/").content.decode()
    assert 'href="/m/mine/"' not in bd.get("/m/").content.decode()
    api = api_as(org.bd1)
    for method, url in (
        ("get", "/api/v1/pools"),
        ("get", f"/api/v1/pools/{pool_id}/policy"),
        ("post", f"/api/v1/leads/{lead_id}/release"),
        ("post", f"/api/v1/leads/{lead_id}/claim"),
        ("get", f"/api/v1/leads/{lead_id}/ledger"),
        ("get", "/api/v1/me/expiring"),
    ):
        r = getattr(api, method)(url)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (url, r.content)
    # The rest of the tenant works; the other tenant keeps its pools.
    assert api.get(f"/api/v1/leads/{lead_id}").status_code == 200
    assert bd.get(f"/leads/{lead_id}/").status_code == 200
    assert api_as(other_org.bd1).get("/api/v1/pools").status_code == 200
    assert _web(other_org.bd1).get("/sea/public/").status_code == 200


def test_tasks_visits_and_intake_modules_off(org, api_as):
    lead_id = _lead(org, api_as)
    visit = visit_record(tenant=org.tenant, actor=org.bd1, lead_id=lead_id, lat=39.9, lng=116.4)
    page_config_update(
        tenant=org.tenant, actor=org.admin, modules={"tasks": False, "visits": False, "intake": False}
    )
    manager = _web(org.manager)
    nav = manager.get("/leads/").content.decode()
    assert "/todo/" not in nav and "/intake/review/" not in nav
    for url in (
        "/todo/",
        "/m/todo/",
        "/intake/review/",
        f"/m/leads/{lead_id}/checkin/",
        f"/visits/{visit.pk}/photo/",
    ):
        assert manager.get(url).status_code == 404, url
    assert 'href="/m/todo/"' not in manager.get("/m/").content.decode()
    mobile_lead = manager.get(f"/m/leads/{lead_id}/")
    assert (
        mobile_lead.status_code == 200 and f"/m/leads/{lead_id}/checkin/" not in mobile_lead.content.decode()
    )
    # The public join form names its tenant in the URL: it is closed too.
    assert Client().get(f"/join/{org.tenant.slug}/").status_code == 404
    api = api_as(org.manager)
    for method, url in (
        ("get", "/api/v1/me/todo"),
        ("post", "/api/v1/visits"),
        ("get", f"/api/v1/leads/{lead_id}/visits"),
        ("get", "/api/v1/intake/review"),
        ("get", "/api/v1/intake/sources"),
    ):
        r = (
            getattr(api, method)(url)
            if method == "get"
            else api.post(url, {"lead_id": lead_id, "lat": 39.9, "lng": 116.4})
        )
        assert r.status_code == 404, (url, r.content)
    page_config_update(
        tenant=org.tenant, actor=org.admin, modules={"tasks": True, "visits": True, "intake": True}
    )
    assert manager.get("/todo/").status_code == 200
    assert f"/m/leads/{lead_id}/checkin/" in manager.get(f"/m/leads/{lead_id}/").content.decode()
    assert api.get(f"/api/v1/leads/{lead_id}/visits").status_code == 200
    assert Client().get(f"/join/{org.tenant.slug}/").status_code == 200


def test_lead_page_shows_only_the_configured_sections(org, api_as):
    lead_id = _lead(org, api_as)
    visit_record(
        tenant=org.tenant, actor=org.admin, lead_id=lead_id, lat=39.9, lng=116.4, notes="门口拜访记录"
    )
    admin = _web(org.admin)
    page = admin.get(f"/leads/{lead_id}/").content.decode()
    assert "门口拜访记录" in page and "<h3>" in page and 'id="pool"' in page  # visits, ledger, pool status
    assert "/objects/related/lead/" in page
    r = admin.post(
        "/settings/modules/",
        {"module": [m.key for m in MODULES], "section": ["basics", "pool_status", "history"]},
    )
    assert r.status_code == 302
    page = admin.get(f"/leads/{lead_id}/").content.decode()
    assert "门口拜访记录" not in page  # visits hidden
    assert 'id="pool"' in page and "<h3>" not in page  # status kept, ledger hidden
    assert "/objects/related/lead/" not in page  # custom objects hidden
    assert f"/leads/{lead_id}/stage/" not in page  # opportunities hidden
    row = ChangeLog.objects.get(tenant=org.tenant, action="page_config.update")
    assert row.after["lead_sections.visits"] is False and "modules.pool" not in row.after
    # A section of a module that is off is hidden even when chosen.
    page_config_update(
        tenant=org.tenant, actor=org.admin, lead_sections={"visits": True}, modules={"visits": False}
    )
    assert "门口拜访记录" not in admin.get(f"/leads/{lead_id}/").content.decode()
    page_config_update(tenant=org.tenant, actor=org.admin, modules={"visits": True})
    assert "门口拜访记录" in admin.get(f"/leads/{lead_id}/").content.decode()


def test_settings_page_renders_for_admins(org):
    r = _web(org.admin).get("/settings/modules/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'name="module" value="intake"' in html and 'name="section" value="ledger"' in html


def test_the_module_table_maps_views_and_api_paths():
    assert module_of_view("pools:public") == "pool"
    assert module_of_view("mobile:mine") == "pool" and module_of_view("mobile:nearby") is None
    assert module_of_view("web:lead_detail") is None and module_of_view(None) is None
    assert module_of_api_path("/api/v1/leads/12/claim") == "pool"
    assert module_of_api_path("/api/v1/leads/12") is None
    assert module_of_api_path("/api/v1/leads/12/visits") == "visits"
    assert module_of_api_path("/api/v1/intake/records") == "intake"
    assert module_of_api_path("/api/v1/me/todo") == "tasks" and module_of_api_path("/api/v1/me") is None
