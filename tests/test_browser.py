"""End-to-end checks in headless Chromium (Debian's package, driven by Playwright's sync API).

The live server shares the transactional test database; Playwright's sync API keeps an event loop on the
main thread, so DJANGO_ALLOW_ASYNC_UNSAFE is set while this module runs. Screenshots go to /tmp.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from browsing import OVERFLOW_JS, SCREENSHOT_DIR, TIMEOUT_MS
from conftest import PASSWORD, Org
from leadsea.audit.models import ChangeLog
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_create

pytestmark = pytest.mark.browser

LEAD_LIST = re.compile(r"/leads/(\?.*)?$")
LEAD_DETAIL = re.compile(r"/leads/(\d+)/$")


class Session:
    """A browser context with the live server's base URL; collects uncaught page errors."""

    def __init__(self, context: BrowserContext, base_url: str):
        self.context = context
        self.base_url = base_url
        self.errors: list[str] = []
        context.set_default_timeout(TIMEOUT_MS)
        self.page = context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def url(self, path: str) -> str:
        return self.base_url + path

    def login(self, username: str = "acme-bd1", tenant: str = "acme") -> Page:
        page = self.page
        page.goto(self.url("/login/"))
        login_form = page.locator("main form")
        login_form.locator("input[name=tenant]").fill(tenant)
        login_form.locator("input[name=username]").fill(username)
        login_form.locator("input[name=password]").fill(PASSWORD)
        login_form.locator("button[type=submit]").click()
        expect(page).to_have_url(LEAD_LIST)
        expect(page.locator("#results")).to_be_visible()
        return page


@pytest.fixture
def session_factory(browser: Browser, live_server: Any) -> Iterator[Any]:
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> Session:
        context = browser.new_context(locale="zh-CN", **options)
        contexts.append(context)
        return Session(context, live_server.url)

    yield make
    for context in contexts:
        context.close()


def _seed_lead(org: Org, **overrides: Any) -> Lead:
    data = {
        "name": "海底捞火锅",
        "branch_name": "国贸店",
        "category": "火锅",
        "address": "北京市朝阳区建国路87号新光天地B1层东侧电梯旁",
        "province": "北京市",
        "city": "北京市",
        "district": "朝阳区",
        "phones": ["010-6588 1234", "138 0013 8001"],
        "lat": 39.9087,
        "lng": 116.4605,
        "tags": ["连锁", "top300", "夜宵"],
        **overrides,
    }
    return lead_create(tenant=org.tenant, actor=org.bd1, data=data)


def _assert_fits_phone(page: Page, name: str) -> None:
    path = SCREENSHOT_DIR / f"leadsea-browser-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    m = page.evaluate(OVERFLOW_JS)
    assert m["innerWidth"] <= 376, f"{name}: the phone viewport was zoomed out to fit wide content: {m}"
    assert m["scrollWidth"] <= m["innerWidth"] + 1, f"{name}: scrolls horizontally: {m} (see {path})"


def test_create_lead_then_find_it(acme: Org, session_factory: Any) -> None:
    other = _seed_lead(acme)  # a second lead, so the search has something to filter out
    s = session_factory(viewport={"width": 1280, "height": 800})
    page = s.login()

    page.locator("main a[href='/leads/new/']").click()
    expect(page).to_have_url(re.compile(r"/leads/new/$"))
    form = page.locator("main form.form-grid")
    form.locator("[name=name]").fill("喜茶")
    form.locator("[name=branch_name]").fill("三里屯店")
    form.locator("[name=phones]").fill("138 0013 8000")
    form.locator("[name=address]").fill("北京市朝阳区三里屯路19号太古里南区S8-30")
    form.locator("button[type=submit]").click()

    expect(page).to_have_url(LEAD_DETAIL)
    match = LEAD_DETAIL.search(page.url)
    assert match is not None
    lead_id = int(match.group(1))
    expect(page.locator("main h1")).to_contain_text("喜茶（三里屯店）")
    expect(page.locator("main a[href='tel:+8613800138000']")).to_have_text("+8613800138000")

    lead = Lead.objects.get(tenant=acme.tenant, pk=lead_id)
    assert (lead.name, lead.branch_name) == ("喜茶", "三里屯店")
    assert lead.phone == "+8613800138000" and lead.phones == ["+8613800138000"]
    assert lead.source_channel == "web"
    audit = ChangeLog.objects.filter(
        tenant=acme.tenant, action="lead.create", object_type="lead", object_id=lead_id
    )
    assert audit.count() == 1
    assert audit.get().actor_id == acme.bd1.user_id

    page.goto(s.url("/leads/"))
    results = page.locator("#results")
    expect(results.locator(f"a[href='/leads/{other.pk}/']")).to_be_visible()
    with page.expect_response(
        lambda r: "/leads/?" in r.url and "q=" in r.url and r.request.headers.get("hx-request") == "true"
    ) as response_info:
        page.locator("form.filters input[name=q]").fill("喜茶")
    assert response_info.value.ok
    # The swap replaces #results with the filtered fragment, and hx-push-url records the query.
    expect(results.locator(f"a[href='/leads/{lead_id}/']")).to_have_text("喜茶（三里屯店）")
    expect(results.locator(f"a[href='/leads/{other.pk}/']")).to_have_count(0)
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/leads/\?.*q=%E5%96%9C%E8%8C%B6"))
    expect(page.locator("main h1")).to_have_count(1)  # a fragment, not a whole page, was swapped in
    assert s.errors == []


def test_phone_layout_has_no_horizontal_scroll(acme: Org, session_factory: Any) -> None:
    lead = _seed_lead(acme)
    _seed_lead(acme, name="西贝莜面村", branch_name="朝阳大悦城店", phones=["010 8555 0000"], tags=["连锁"])
    s = session_factory(
        viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = s.login()
    expect(page.locator("#results tbody tr")).to_have_count(2)
    _assert_fits_phone(page, "list")

    page.locator(f"#results a[href='/leads/{lead.pk}/']").click()
    expect(page).to_have_url(re.compile(rf"/leads/{lead.pk}/$"))
    expect(page.locator("main h1")).to_contain_text("海底捞火锅（国贸店）")
    _assert_fits_phone(page, "detail")

    page.goto(s.url("/leads/new/"))
    expect(page.locator("main form.form-grid [name=name]")).to_be_visible()
    _assert_fits_phone(page, "form")

    page.goto(s.url(f"/leads/{lead.pk}/edit/"))
    expect(page.locator("main form.form-grid [name=name]")).to_have_value("海底捞火锅")
    _assert_fits_phone(page, "edit")
    assert s.errors == []


def test_language_switch(acme: Org, session_factory: Any) -> None:
    s = session_factory(viewport={"width": 1280, "height": 800})
    page = s.login()
    nav_leads = page.locator("nav.mainnav a[href='/leads/']")
    language = page.locator("header select[name=language]")
    expect(nav_leads).to_have_text("线索")  # the tenant's default language
    # By value: the option labels come from gettext, so "English" reads "英语" on a Chinese page.

    language.select_option(value="en")  # onchange submits the form; set_language redirects back
    expect(nav_leads).to_have_text("Leads")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(LEAD_LIST)

    language.select_option(value="zh-hans")
    expect(nav_leads).to_have_text("线索")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    assert s.errors == []
