"""The mobile web app (/m/) end to end in headless Chromium (Debian's package, driven by Playwright's sync
API), at a phone viewport with a faked geolocation: nearby list, merchant 360, check-in, the no-visit clock,
the map, the manual position fallback, the offline shell, and no horizontal scroll at 360 px.

Launched as tests/test_browser.py does; screenshots go to /tmp/leadsea-mobile-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, expect

from browsing import OVERFLOW_JS, SCREENSHOT_DIR, TIMEOUT_MS
from conftest import PASSWORD, Org
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_create
from leadsea.pools import services as pools
from leadsea.tasks.services import task_create
from leadsea.visits.models import Visit

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 780}
STORE = (39.9087, 116.4605)  # 国贸
HERE = (39.90906, 116.4605)  # ~40 m north of the store: inside the 300 m check-in radius


class Phone:
    """A phone-sized browser context on the live server; collects uncaught page errors."""

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
        page.goto(self.url("/m/"))
        expect(page).to_have_url(re.compile(r"/login/\?next=/m/$"))
        form = page.locator("main form")
        form.locator("input[name=tenant]").fill(tenant)
        form.locator("input[name=username]").fill(username)
        form.locator("input[name=password]").fill(PASSWORD)
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/m/$"))
        return page


@pytest.fixture
def phone(browser: Browser, live_server: Any) -> Iterator[Any]:
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> Phone:
        settings: dict[str, Any] = {
            "locale": "zh-CN",
            "viewport": PHONE,
            "device_scale_factor": 2,
            "is_mobile": True,
            "has_touch": True,
            **options,
        }
        context = browser.new_context(**settings)
        contexts.append(context)
        return Phone(context, live_server.url)

    yield make
    for context in contexts:
        context.close()


def at(lat: float, lng: float) -> dict[str, Any]:
    return {
        "geolocation": {"latitude": lat, "longitude": lng, "accuracy": 15},
        "permissions": ["geolocation"],
    }


def seed(org: Org) -> dict[str, Lead]:
    """A store the BD holds (claimed 5 days ago, never visited), a public one, another BD's, a far one."""
    now = timezone.now()

    def store(name: str, dlat: float, dlng: float, **data: Any) -> Lead:
        return lead_create(
            tenant=org.tenant,
            actor=org.admin,
            data={
                "name": name,
                "lat": STORE[0] + dlat,
                "lng": STORE[1] + dlng,
                "city": "北京市",
                "district": "朝阳区",
                **data,
            },
            now=now - timedelta(days=6),
        )

    mine = store(
        "海底捞火锅",
        0,
        0,
        branch_name="国贸店",
        category="火锅",
        address="建国路87号新光天地B1层东侧电梯旁",
        phones=["010-6588 1234"],
        tags=["连锁", "top300", "夜宵"],
    )
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=mine.pk, now=now - timedelta(days=5))
    public = store("西贝莜面村", 0.002, 0.001, branch_name="国贸商城店", tags=["连锁"])
    taken = store("喜茶", -0.003, 0.002, branch_name="国贸三期店")
    pools.lead_claim(tenant=org.tenant, actor=org.bd2, lead_id=taken.pk, now=now - timedelta(days=1))
    far = store("很远的店", 0.03, 0)
    task_create(tenant=org.tenant, actor=org.lead_a, title="拍门头照", assignee_id=org.bd1.user_id)
    return {
        "mine": Lead.objects.get(tenant=org.tenant, pk=mine.pk),
        "public": public,
        "taken": taken,
        "far": far,
    }


def fits(page: Page, name: str) -> None:
    """No horizontal scroll at 360 px; a screenshot of the page at that width."""
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(150)  # let the layout (and Leaflet) settle at the new width
    path = SCREENSHOT_DIR / f"leadsea-mobile-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    m = page.evaluate(OVERFLOW_JS)
    page.set_viewport_size(PHONE)
    assert m["innerWidth"] == NARROW["width"], f"{name}: the viewport was zoomed out to fit wide content: {m}"
    assert m["scrollWidth"] <= m["innerWidth"], f"{name}: scrolls horizontally at 360 px: {m} (see {path})"


def test_bd_finds_a_nearby_store_checks_in_and_the_clock_resets(acme: Org, phone: Any) -> None:
    leads = seed(acme)
    mine, public, taken = leads["mine"], leads["public"], leads["taken"]
    due_before = mine.visit_due_at
    s = phone(**at(*HERE))
    page = s.login()

    # The nearby list, from the browser's position, nearest first, with the pool status of each store.
    items = page.locator("#nearby .m-item")
    expect(items).to_have_count(3)
    expect(page.locator("#position-status")).to_contain_text("当前位置（±15 米）")
    assert items.evaluate_all("els => els.map(e => +e.dataset.lead)") == [mine.pk, public.pk, taken.pk]
    first = items.nth(0)
    expect(first.locator(".m-item-name")).to_have_text("海底捞火锅（国贸店）")
    expect(first.locator(".m-status")).to_have_text("我的")
    expect(first.locator(".m-dist")).to_have_text("40 米")
    expect(first).to_contain_text("从未拜访")
    expect(first.locator(".tag")).to_have_text(["top300", "夜宵", "连锁"])  # sorted, as with_tags reads them
    expect(items.nth(1).locator(".m-status")).to_have_text("公海")
    expect(items.nth(1).locator("button", has_text="领取")).to_be_visible()
    expect(items.nth(2).locator(".m-status")).to_have_text("已被领取")
    expect(items.nth(2).locator("a")).to_have_count(0)  # no page to open, and no name of who holds it
    expect(items.nth(2)).not_to_contain_text("bd2")
    expect(page.locator(".m-tabs .m-badge")).to_have_text("1")  # the task
    page.screenshot(path=str(SCREENSHOT_DIR / "leadsea-mobile-nearby-390.png"), full_page=True)
    fits(page, "nearby")

    # The merchant page, with the no-visit clock in words.
    first.locator("a.m-item-name").click()
    expect(page).to_have_url(re.compile(rf"/m/leads/{mine.pk}/$"))
    words = page.locator("#drop-words")
    expect(words).to_contain_text("5 天未有效拜访")
    before = words.inner_text()
    assert re.search(r"(9|10) 天后掉入公海", before), before
    expect(page.locator("#contacts")).to_contain_text("暂无联系人")
    expect(page.locator("#basics a[href='tel:+861065881234']")).to_be_visible()
    fits(page, "lead-before")

    # Check in: the position comes from the browser; the BD adds the KP they met.
    page.locator(".m-actions a", has_text="签到").click()
    expect(page).to_have_url(re.compile(rf"/m/leads/{mine.pk}/checkin/$"))
    status = page.locator("#checkin-position")
    expect(status).to_contain_text("已定位（±15 米）")
    expect(status).to_contain_text("在 300 米签到范围内")
    assert page.locator("input[name=lat]").input_value().startswith("39.90906")
    expect(page.locator("#manual-position")).to_be_hidden()
    fits(page, "checkin")
    page.locator("select[name=contact]").select_option("new")
    expect(page.locator("#new-contact")).to_be_visible()
    page.locator("input[name=new_name]").fill("张店长")
    page.locator("input[name=new_role]").fill("店长")
    page.locator("input[name=new_phone]").fill("138 0013 8001")
    page.locator("select[name=purpose]").select_option("follow_up")
    page.locator("select[name=outcome]").select_option("interested")
    page.locator("textarea[name=notes]").fill("老板对团购有兴趣，下周带方案。")
    page.locator("input[name=next_step]").fill("带合同再访")
    page.locator("button.m-submit").click()

    # Back on the merchant page: verified, with its distance, and the clock restarted.
    expect(page).to_have_url(re.compile(rf"/m/leads/{mine.pk}/#visits$"))
    expect(page.locator(".messages li.success")).to_contain_text("签到成功，已核验：距门店 40 米")
    expect(page.locator("#visits .m-visit").first).to_contain_text("已核验")
    expect(page.locator("#visits .m-visit").first).to_contain_text("距门店 40 米")
    expect(page.locator("#contacts")).to_contain_text("张店长")
    expect(page.locator("#contacts a[href='tel:+8613800138001']")).to_be_visible()
    after = page.locator("#drop-words").inner_text()
    assert after != before, after
    assert "0 天未有效拜访" in after and re.search(r"1[45] 天后掉入公海", after), after
    fits(page, "lead-after")

    visit = Visit.objects.get(tenant=acme.tenant, lead_id=mine.pk)
    assert visit.verified and 35 < visit.distance_m < 45  # type: ignore[operator]
    assert visit.accuracy_m == 15 and visit.outcome == "interested" and visit.contact_id is not None
    lead = Lead.objects.get(tenant=acme.tenant, pk=mine.pk)
    assert lead.visit_due_at is not None and due_before is not None
    assert lead.visit_due_at - due_before > timedelta(days=4, hours=23)
    assert s.errors == []


def test_map_to_do_and_private_sea_fit_a_phone(acme: Org, phone: Any) -> None:
    leads = seed(acme)
    s = phone(**at(*HERE))
    page = s.login()
    expect(page.locator("#nearby .m-item")).to_have_count(3)

    page.locator(".m-tabs a[href='/m/map/']").click()
    expect(page).to_have_url(re.compile(r"/m/map/$"))
    expect(page.locator("#nearby .m-item")).to_have_count(3)
    markers = page.locator("#map path.m-marker")
    expect(markers).to_have_count(3)
    expect(page.locator("#map .leaflet-control-scale-line")).to_be_visible()
    expect(page.locator("#map .leaflet-tile-container canvas").first).to_be_attached()  # the plain grid
    markers_by_lead = page.locator(f"#map path.m-marker[data-lead='{leads['mine'].pk}']")
    markers_by_lead.click(force=True)  # the marker sits under the "you are here" dot
    popup = page.locator(".leaflet-popup-content")
    expect(popup.locator(f"a[href='/m/leads/{leads['mine'].pk}/']")).to_have_text("海底捞火锅（国贸店）")
    fits(page, "map")
    popup.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/m/leads/{leads['mine'].pk}/$"))

    page.locator(".m-tabs a[href='/m/todo/']").click()
    expect(page.locator("#todo-tasks")).to_contain_text("拍门头照")
    fits(page, "todo")
    page.locator("#todo-tasks button", has_text="完成").click()
    expect(page.locator(".messages li.success")).to_contain_text("已完成：拍门头照")
    expect(page.locator(".m-tabs .m-badge")).to_have_count(0)

    page.locator(".m-tabs a[href='/m/mine/']").click()
    expect(page.locator(".m-item")).to_have_count(1)
    expect(page.locator(".m-item .drop")).to_contain_text("天后掉入公海")
    fits(page, "mine")
    assert s.errors == []


def test_without_location_access_the_bd_sets_the_position_by_hand(acme: Org, phone: Any) -> None:
    leads = seed(acme)
    s = phone(permissions=[])  # no geolocation permission: getCurrentPosition fails
    page = s.login()
    expect(page.locator("#position-status")).to_contain_text("定位权限未开启")
    manual = page.locator("#manual")
    expect(manual).to_have_attribute("open", "")
    district = manual.locator("select[data-district]")
    expect(district.locator("option")).to_have_count(2)  # "pick a district" and 北京市 朝阳区
    district.select_option(index=1)
    assert manual.locator("input[name=lat]").input_value().startswith("39.9")
    manual.locator("input[name=lat]").fill(str(HERE[0]))
    manual.locator("input[name=lng]").fill(str(HERE[1]))
    manual.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/m/\?lat="))
    expect(page.locator("#nearby .m-item")).to_have_count(3)
    expect(page.locator("#position-status")).to_contain_text("手动设置的位置")

    # Claiming a public store comes back to the same list, now showing it as mine.
    item = page.locator(f"#nearby .m-item[data-lead='{leads['public'].pk}']")
    item.locator("button", has_text="领取").click()
    expect(page.locator(".messages li.success")).to_be_visible()
    expect(page.locator(f"#nearby .m-item[data-lead='{leads['public'].pk}'] .m-status")).to_have_text("我的")
    assert Lead.objects.get(tenant=acme.tenant, pk=leads["public"].pk).owner_id == acme.bd1.user_id

    # Filters reload the fragment through htmx.
    page.locator(".m-seg label", has_text="公海").click()
    expect(page.locator("#nearby .m-item")).to_have_count(0)
    page.locator("select[name=radius_m]").select_option("5000")
    expect(page.locator("#nearby .m-item")).to_have_count(1)  # the far store, 3.3 km away
    fits(page, "manual")
    assert s.errors == []


def test_the_app_shell_works_offline(acme: Org, phone: Any) -> None:
    seed(acme)
    s = phone(**at(*HERE))
    page = s.login()
    expect(page.locator("#nearby .m-item")).to_have_count(3)
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == s.url("/m/")
    page.reload()  # now the page is controlled by the worker
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    s.context.set_offline(True)
    try:
        page.goto(s.url("/m/todo/"))
        expect(page.locator("#offline")).to_be_visible()
        expect(page.locator("#offline h2")).to_have_text("网络已断开")
        # The shell came from the cache: the offline page is styled.
        assert page.evaluate("getComputedStyle(document.querySelector('.m-top')).position") == "sticky"
        fits(page, "offline")
    finally:
        s.context.set_offline(False)
    page.goto(s.url("/m/todo/"))
    expect(page.locator("#todo-tasks")).to_be_visible()


def test_a_refused_check_in_keeps_the_form_and_the_next_fix_clears_the_error(acme: Org, phone: Any) -> None:
    leads = seed(acme)
    s = phone(**at(*HERE))
    page = s.login()
    page.goto(s.url(f"/m/leads/{leads['mine'].pk}/checkin/"))
    expect(page.locator("#checkin-position")).to_contain_text("已定位")
    page.locator("textarea[name=notes]").fill("没带合同")
    # The BD turns location off and the fix is lost: the server refuses, keeps what was typed, and shows
    # the position fields by the error.
    s.context.clear_permissions()
    page.evaluate("document.querySelector('input[name=lat]').value = ''")
    page.locator("button.m-submit").click()
    expect(page.locator("[data-error-for=lat]")).to_contain_text("尚未获取位置")
    expect(page.locator("#checkin-position")).to_contain_text("定位权限未开启")
    expect(page.locator("#manual-position input[name=lat]")).to_be_visible()
    expect(page.locator("[data-error-for=lng]")).to_have_count(0)  # one message, not two
    expect(page.locator("textarea[name=notes]")).to_have_value("没带合同")
    assert not Visit.objects.filter(tenant=acme.tenant).exists()
    s.context.grant_permissions(["geolocation"])
    page.locator("[data-locate]").click()
    expect(page.locator("#checkin-position")).to_contain_text("已定位")
    expect(page.locator("#position-field .error")).to_have_count(0)
    fits(page, "checkin-after-error")
    page.locator("button.m-submit").click()
    expect(page.locator(".messages li.success")).to_contain_text("已核验")
    assert Visit.objects.get(tenant=acme.tenant).notes == "没带合同"
    assert s.errors == []
