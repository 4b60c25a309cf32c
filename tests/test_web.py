"""The web workbench through Django's test client: login, lead list/detail/create/edit, language, tenants."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from leadsea.audit.models import ChangeLog
from leadsea.leads.models import Lead, LeadTag
from leadsea.metadata.services import field_definition_create
from leadsea.tenancy.services import tenant_create, user_create

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-9"  # conftest's


def login(membership: Any, password: str = PASSWORD, client: Client | None = None) -> Client:
    client = client or Client()
    r = client.post(
        "/login/",
        {"tenant": membership.tenant.slug, "username": membership.user.username, "password": password},
    )
    assert r.status_code == 302, r.content.decode()[:500]
    return client


def html(response: Any) -> str:
    return response.content.decode()


def label_block(page: str, field: str) -> str:
    """The <label> ... </label> that holds the input named `field` (the form puts errors inside it)."""
    for block in re.findall(r"<label\b.*?</label>", page, flags=re.S):
        if f'name="{field}"' in block:
            return block
    raise AssertionError(f"no label for {field}")


@pytest.fixture
def fields(org: Any) -> None:
    field_definition_create(
        tenant=org.tenant,
        key="level",
        label_zh="商户等级",
        label_en="Merchant level",
        field_type="choice",
        choices=[{"value": "A", "label_zh": "A 类"}, {"value": "B", "label_zh": "B 类"}],
    )
    field_definition_create(
        tenant=org.tenant, key="seats", label_zh="座位数", label_en="Seats", field_type="number", min_value=0
    )


@pytest.fixture
def stores(org: Any, api_as: Any) -> dict[str, int]:
    api = api_as(org.admin)
    specs = {
        "海底捞火锅": {"city": "北京市", "phone": "010-6588 1234", "tags": ["连锁"]},
        "喜茶": {"city": "上海市", "status": "following", "owner": org.bd1.user_id},
        "蜜雪冰城": {"city": "北京市", "status": "following", "owner": org.bd3.user_id},
        "沙县小吃": {"city": "北京市", "status": "invalid"},
    }
    made = {}
    for name, spec in specs.items():
        r = api.post("/api/v1/leads", {"name": name, **spec})
        assert r.status_code == 201, r.content
        made[name] = r.json()["id"]
    return made


FORM = {
    "name": "新开的店",
    "branch_name": "望京店",
    "kind": "poi",
    "category": "咖啡",
    "status": "new",
    "phones": "138 0013 8000",
    "address": "望京街10号",
    "province": "北京市",
    "city": "北京市",
    "district": "朝阳区",
    "lat": "39.99",
    "lng": "116.47",
    "tags": "连锁，咖啡",
    "cf_level": "A",
    "cf_seats": "12",
}


# --- login, logout ---------------------------------------------------------------------------------


def test_login_and_logout(org):
    client = Client()
    assert client.get("/leads/").status_code == 302  # to the login page
    page = client.get("/login/")
    assert page.status_code == 200 and 'name="password"' in html(page)
    r = client.post(
        "/login/",
        {"tenant": "acme", "username": org.bd1.user.username, "password": PASSWORD, "next": "/leads/"},
    )
    assert r.status_code == 302 and r["Location"] == "/leads/"
    assert client.get("/leads/").status_code == 200
    assert client.get("/logout/").status_code == 405  # logging out is a POST
    r = client.post("/logout/")
    assert r.status_code == 302 and r["Location"] == "/login/"
    assert "_auth_user_id" not in client.session
    assert client.get("/leads/")["Location"].startswith("/login/")


@pytest.mark.parametrize(
    "credentials",
    [
        {"tenant": "acme", "username": "acme-bd1", "password": "wrong-password"},
        {"tenant": "acme", "username": "rival-bd1", "password": PASSWORD},  # a user of tenant B into A
        {"tenant": "nope", "username": "acme-bd1", "password": PASSWORD},
        {"tenant": "acme", "username": "nobody", "password": PASSWORD},
    ],
)
def test_failed_login_shows_an_error_and_logs_nobody_in(org, other_org, credentials):
    client = Client()
    r = client.post("/login/", credentials)
    assert r.status_code == 200
    assert 'role="alert"' in html(r)
    assert "_auth_user_id" not in client.session
    assert client.get("/leads/").status_code == 302


def test_login_does_not_redirect_off_site(org):
    client = Client()
    r = client.post(
        "/login/?next=https://evil.example/",
        {"tenant": "acme", "username": "acme-bd1", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert r.status_code == 302 and r["Location"] == "/leads/"


# --- list ------------------------------------------------------------------------------------------


def test_list_renders_and_filters(org, stores):
    client = login(org.admin)

    def names(**params: str) -> set[str]:
        r = client.get("/leads/", params)
        assert r.status_code == 200
        return {name for name in stores if name in html(r)}

    assert names() == {"海底捞火锅", "喜茶", "蜜雪冰城", "沙县小吃"}
    assert names(q="海底") == {"海底捞火锅"}
    assert names(q="6588") == {"海底捞火锅"}
    assert names(city="上海市") == {"喜茶"}
    assert names(status="invalid") == {"沙县小吃"}
    assert names(status="following") == {"喜茶", "蜜雪冰城"}
    assert names(owner=str(org.bd3.user_id)) == {"蜜雪冰城"}
    assert names(owner="none") == {"海底捞火锅", "沙县小吃"}
    assert names(city="北京市", status="new") == {"海底捞火锅"}
    assert names(status="bogus") == set()  # an invalid filter shows an error, not everything
    r = client.get("/leads/", {"status": "bogus"})
    assert r.status_code == 200 and 'role="alert"' in html(r)


def test_list_respects_the_bds_scope(org, stores):
    page = html(login(org.bd1).get("/leads/"))
    assert "喜茶" in page and "海底捞火锅" in page and "沙县小吃" in page and "蜜雪冰城" not in page


def test_custom_field_filter_keeps_its_selection(org, fields, api_as):
    api_as(org.admin).post("/api/v1/leads", {"name": "甲级店", "custom_fields": {"level": "A"}})
    page = html(login(org.admin).get("/leads/", {"cf_level": "A"}))
    assert "甲级店" in page
    select = re.search(r'<select name="cf_level".*?</select>', page, flags=re.S)
    assert select is not None
    assert re.search(r'<option value="A"\s+selected', select.group(0)), select.group(0)


def test_forms_carry_csrf_tokens(org):
    client = Client(enforce_csrf_checks=True)
    credentials = {"tenant": "acme", "username": org.bd1.user.username, "password": PASSWORD}
    assert client.post("/login/", credentials).status_code == 403
    page = html(client.get("/login/"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    r = client.post("/login/", {**credentials, "csrfmiddlewaretoken": token})
    assert r.status_code == 302
    page = html(client.get("/leads/"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert f'"X-CSRFToken": "{token}"' in page  # htmx requests send it too
    assert client.post("/logout/").status_code == 403
    assert client.post("/logout/", {"csrfmiddlewaretoken": token}).status_code == 302


def test_htmx_request_returns_only_the_results_fragment(org, stores):
    client = login(org.admin)
    full = html(client.get("/leads/", {"q": "喜茶"}))
    assert "<html" in full and 'id="results"' in full
    r = client.get("/leads/", {"q": "喜茶"}, headers={"HX-Request": "true"})
    fragment = html(r)
    assert r.status_code == 200
    assert "<html" not in fragment and "<form" not in fragment and 'id="results"' not in fragment
    assert '<table class="leads">' in fragment
    assert "喜茶" in fragment and "海底捞火锅" not in fragment


def test_htmx_history_restore_gets_the_whole_page_and_caches_keep_the_two_apart(org, stores):
    client = login(org.admin)
    r = client.get(
        "/leads/", {"q": "喜茶"}, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in html(r) and "喜茶" in html(r)
    for headers in ({}, {"HX-Request": "true"}):
        vary = client.get("/leads/", headers=headers).get("Vary", "")
        assert "hx-request" in vary.lower(), vary


def test_list_query_count_is_bounded(org, api_as, django_assert_max_num_queries):
    api = api_as(org.admin)
    client = login(org.admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            r = client.get("/leads/")
        assert r.status_code == 200
        return len(ctx.captured_queries)

    for i in range(26):
        api.post(
            "/api/v1/leads",
            {"name": f"店{i}", "tags": ["甲", "乙"], "owner": org.bd1.user_id, "city": f"城{i}"},
        )
    small = queries()
    with django_assert_max_num_queries(12):
        r = client.get("/leads/")
    assert "店25" in html(r) and "店0" not in html(r)  # a full page of 25, newest first
    for i in range(26, 60):
        api.post("/api/v1/leads", {"name": f"店{i}", "tags": ["丙"], "owner": org.bd2.user_id})
    assert queries() == small  # no query per row


def test_list_counts_no_further_than_the_cap(org, monkeypatch):
    """Counting stops at the cap as in the API ("10,000+"): a list over 1M leads never counts them all."""
    from leadsea.leads.services import lead_create
    from leadsea.web import views

    monkeypatch.setattr(views, "COUNT_CAP", 5)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for i in range(12):
        lead_create(tenant=org.tenant, actor=org.admin, data={"name": f"店{i:02d}"})
    client = login(org.admin)
    client.post("/i18n/setlang/", {"language": "en", "next": "/leads/"})

    def page(**params: str) -> tuple[str, list[str]]:
        with CaptureQueriesContext(connection) as ctx:
            r = client.get("/leads/", params, headers={"HX-Request": "true"})
        assert r.status_code == 200
        counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
        return " ".join(html(r).split()), counts

    text, counts = page()
    assert "5+ leads" in text and "Page 1 of 3+" in text and "店11" in text
    (count_sql,) = counts
    assert re.search(r"LIMIT 6\b", count_sql), count_sql  # cap + 1 rows read, not the tenant
    # Deeper pages count one page further, so "Next" stays as long as there is more.
    text, _ = page(page="4")
    assert "10+ leads" in text and "Page 4 of 5+" in text and "page=5" in text
    text, counts = page(page="6")
    assert "12 leads" in text and "Page 6 of 6<" in text and "page=7" not in text
    assert re.search(r"LIMIT 15\b", counts[0]), counts
    # A search under the cap is counted exactly.
    text, _ = page(q="店01")
    assert ">1 lead<" in text and "+ lead" not in text and "店01" in text


# --- detail ----------------------------------------------------------------------------------------


def test_detail_shows_fields_tags_custom_fields_and_history(org, api_as, fields):
    api = api_as(org.bd1)
    lead = api.post(
        "/api/v1/leads",
        {
            "name": "海底捞火锅",
            "branch_name": "国贸店",
            "category": "火锅",
            "address": "建国路87号",
            "phone": "010-6588 1234",
            "tags": ["连锁", "top300"],
            "custom_fields": {"level": "A", "seats": 120},
        },
    ).json()
    api.patch(f"/api/v1/leads/{lead['id']}", {"category": "川味火锅"})
    page = html(login(org.bd1).get(f"/leads/{lead['id']}/"))
    for text in ("海底捞火锅", "国贸店", "川味火锅", "建国路87号", "+861065881234", "连锁", "top300"):
        assert text in page, text
    assert "商户等级" in page and "座位数" in page and "120" in page
    # The history in words, in the tenant's language (zh-hans), newest first; never the raw action codes.
    assert "新建了线索" in page and "编辑了线索" in page and "lead.create" not in page
    assert page.index("编辑了线索") < page.index("新建了线索")
    assert f"/leads/{lead['id']}/edit/" in page  # the owner may edit


# --- create ----------------------------------------------------------------------------------------


def test_create_form_with_custom_fields(org, fields):
    client = login(org.bd1)
    page = html(client.get("/leads/new/"))
    assert 'name="cf_level"' in page and 'name="cf_seats"' in page and "商户等级" in page
    r = client.post("/leads/new/", FORM)
    assert r.status_code == 302, html(r)[:2000]
    lead = Lead.objects.get(tenant=org.tenant, name="新开的店")
    assert r["Location"] == f"/leads/{lead.pk}/"
    assert lead.custom_data == {"level": "A", "seats": 12}
    assert lead.phones == ["+8613800138000"] and lead.branch_name == "望京店"
    assert lead.lat == pytest.approx(39.99) and lead.source_channel == "web"
    tags = LeadTag.objects.filter(tenant=org.tenant, lead=lead).values_list("tag", flat=True)
    assert sorted(tags) == ["咖啡", "连锁"]
    row = ChangeLog.objects.get(tenant=org.tenant, object_type="lead", object_id=lead.pk)
    assert row.action == "lead.create" and row.actor_id == org.bd1.user_id and row.request_id


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phones": "12345"}, "phones"),
        ({"cf_seats": "-1"}, "cf_seats"),
        ({"cf_seats": "many"}, "cf_seats"),
        ({"cf_seats": "1e5000"}, "cf_seats"),  # too large for JSON: once a 500 on saving
        ({"cf_level": "Z"}, "cf_level"),
        ({"lat": "95"}, "lat"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_create_shows_the_error_at_the_field_and_writes_nothing(org, fields, change, field):
    client = login(org.bd1)
    counts = (
        Lead.objects.filter(tenant=org.tenant).count(),
        ChangeLog.objects.filter(tenant=org.tenant).count(),
    )
    r = client.post("/leads/new/", {**FORM, **change})
    assert r.status_code == 200
    page = html(r)
    block = label_block(page, field)
    assert "has-error" in block and '<span class="error">' in block, block
    for other in ("branch_name", "address"):  # the other fields are clean and keep what was typed
        assert "has-error" not in label_block(page, other)
    assert 'value="望京店"' in page
    after = (
        Lead.objects.filter(tenant=org.tenant).count(),
        ChangeLog.objects.filter(tenant=org.tenant).count(),
    )
    assert after == counts


# --- edit ------------------------------------------------------------------------------------------


def test_edit_form_updates_and_audits(org, fields):
    client = login(org.bd1)
    client.post("/leads/new/", FORM)
    lead = Lead.objects.get(tenant=org.tenant, name="新开的店")
    page = html(client.get(f"/leads/{lead.pk}/edit/"))
    assert 'value="新开的店"' in page and 'value="12"' in page
    r = client.post(
        f"/leads/{lead.pk}/edit/", {**FORM, "name": "改名的店", "status": "following", "cf_seats": "30"}
    )
    assert r.status_code == 302 and r["Location"] == f"/leads/{lead.pk}/"
    lead = Lead.objects.get(tenant=org.tenant, pk=lead.pk)  # refresh_from_db() would be unscoped
    assert lead.name == "改名的店" and lead.status == "following"
    assert lead.custom_data == {"level": "A", "seats": 30}
    row = ChangeLog.objects.filter(tenant=org.tenant, object_id=lead.pk, action="lead.update").get()
    assert row.before["name"] == "新开的店" and row.after["name"] == "改名的店"
    assert row.before["custom_fields"]["seats"] == 12 and row.after["custom_fields"]["seats"] == 30
    assert row.actor_id == org.bd1.user_id
    # An invalid edit re-renders with the error and changes nothing.
    r = client.post(f"/leads/{lead.pk}/edit/", {**FORM, "name": "又改", "cf_seats": "-5"})
    assert r.status_code == 200 and "has-error" in label_block(html(r), "cf_seats")
    assert Lead.objects.get(tenant=org.tenant, pk=lead.pk).name == "改名的店"
    assert ChangeLog.objects.filter(tenant=org.tenant, object_id=lead.pk, action="lead.update").count() == 1


def test_another_tenants_or_out_of_scope_lead_is_404(org, other_org, api_as, stores):
    theirs = api_as(other_org.admin).post("/api/v1/leads", {"name": "乙方的店"}).json()["id"]
    client = login(org.admin)
    for url in (f"/leads/{theirs}/", f"/leads/{theirs}/edit/"):
        r = client.get(url)
        assert r.status_code == 404 and "乙方的店" not in html(r)
    r = client.post(f"/leads/{theirs}/edit/", {**FORM, "name": "篡改"})
    assert r.status_code == 404
    assert Lead.objects.get(tenant=other_org.tenant, pk=theirs).name == "乙方的店"
    assert ChangeLog.objects.filter(tenant=other_org.tenant, action="lead.update").count() == 0
    # Within the tenant, a BD gets the same 404 for another BD's lead.
    bd1 = login(org.bd1)
    assert bd1.get(f"/leads/{stores['蜜雪冰城']}/").status_code == 404
    assert bd1.post(f"/leads/{stores['蜜雪冰城']}/edit/", {**FORM, "name": "篡改"}).status_code == 404
    assert Lead.objects.get(tenant=org.tenant, pk=stores["蜜雪冰城"]).name == "蜜雪冰城"


# --- language --------------------------------------------------------------------------------------


def test_tenant_default_language_applies(org):
    english = tenant_create(slug="enco", name="English Co", default_language="en")
    member = user_create(tenant=english, username="en-admin", password=PASSWORD, role="admin")
    page = html(login(member).get("/leads/"))
    assert '<html lang="en">' in page and "<h1>Leads</h1>" in page
    page = html(login(org.admin).get("/leads/"))
    assert '<html lang="zh-hans">' in page and "<h1>线索</h1>" in page


def test_language_switch_names_each_language_in_itself(org):
    page = html(login(org.admin).get("/leads/"))
    options = dict(re.findall(r'<option value="(zh-hans|en)"[^>]*>([^<]+)</option>', page))
    assert options == {"zh-hans": "简体中文", "en": "English"}  # not "英语": a reader of English must find it


def test_times_show_in_the_tenants_time_zone(org, api_as, time_machine):
    time_machine.move_to("2026-03-01T23:30:00+00:00", tick=False)
    lead = api_as(org.admin).post("/api/v1/leads", {"name": "夜里建的店"}).json()
    assert lead["created_at"].startswith("2026-03-01T23:30")  # UTC in storage and in the API
    page = html(login(org.admin).get(f"/leads/{lead['id']}/"))
    assert "2026-03-02 07:30" in page and "2026-03-01 23:30" not in page  # Asia/Shanghai on screen


def test_setlang_switches_the_language(org):
    client = login(org.admin)
    assert "<h1>线索</h1>" in html(client.get("/leads/"))
    r = client.post("/i18n/setlang/", {"language": "en", "next": "/leads/"})
    assert r.status_code == 302 and r["Location"] == "/leads/"
    page = html(client.get("/leads/"))
    assert "<h1>Leads</h1>" in page and '<html lang="en">' in page
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/leads/"})
    assert "<h1>线索</h1>" in html(client.get("/leads/"))


# --- tenant switch ---------------------------------------------------------------------------------


def test_tenant_switch(org, other_org, api_as):
    mine = api_as(org.admin).post("/api/v1/leads", {"name": "甲方的店"}).json()["id"]
    theirs = api_as(other_org.admin).post("/api/v1/leads", {"name": "乙方的店"}).json()["id"]
    user_create(
        tenant=other_org.tenant,
        username=org.bd1.user.username,
        password=None,
        role="bd",
        org_unit=other_org.team_a,
    )
    lonely = tenant_create(slug="lonely", name="无关租户")
    client = login(org.bd1)
    page = html(client.get("/leads/"))
    assert "甲方的店" in page and "乙方的店" not in page
    switch = html(client.get("/tenants/"))
    assert org.tenant.name in switch and other_org.tenant.name in switch and lonely.name not in switch
    r = client.post("/tenants/", {"tenant": other_org.tenant.slug})
    assert r.status_code == 302 and r["Location"] == "/leads/"
    page = html(client.get("/leads/"))
    assert "乙方的店" in page and "甲方的店" not in page and other_org.tenant.name in page
    assert client.get(f"/leads/{mine}/").status_code == 404  # the session's tenant decides
    assert client.get(f"/leads/{theirs}/").status_code == 200
    # A tenant the person does not belong to: nothing changes.
    r = client.post("/tenants/", {"tenant": lonely.slug})
    assert r.status_code == 200
    assert "乙方的店" in html(client.get("/leads/"))
    r = client.post("/tenants/", {"tenant": org.tenant.slug})
    assert "甲方的店" in html(client.get("/leads/"))


def test_the_city_filter_lists_the_tenants_cities_once_each_sorted(org, other_org):
    """lead_cities skips through the (tenant, city) index; it answers what a DISTINCT over the leads does."""
    from leadsea.leads.selectors import lead_cities
    from leadsea.leads.services import lead_create

    for name, city in [
        ("甲", "北京"),
        ("乙", "上海"),
        ("丙", "北京"),
        ("丁", ""),
        ("戊", "Shenzhen"),
        ("己", "上海"),
    ]:
        lead_create(tenant=org.tenant, actor=org.admin, data={"name": name, "city": city})
    lead_create(tenant=other_org.tenant, actor=other_org.admin, data={"name": "别家", "city": "杭州"})
    want = list(
        Lead.objects.filter(tenant=org.tenant)
        .exclude(city="")
        .values_list("city", flat=True)
        .distinct()
        .order_by("city")
    )
    assert lead_cities(tenant=org.tenant) == want
    assert set(want) == {"北京", "上海", "Shenzhen"} and "杭州" not in lead_cities(tenant=org.tenant)
