"""The onboarding wizard in headless Chromium: an admin onboards a hotel business line with the hotel
template (adjusting it on the review step), then logs in as the new tenant's admin."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from browsing import SCREENSHOT_DIR, TIMEOUT_MS
from conftest import PASSWORD, Org
from leadsea.metadata.models import FieldDefinition
from leadsea.onboarding.selectors import page_settings_of
from leadsea.tenancy.models import Tenant

pytestmark = pytest.mark.browser
ORG_CSV = "path,kind\n华东,region\n华东/杭州,city\n华东/杭州/西湖组,team\n"
USERS_CSV = "username,name,role,org,password\nhz-bd,杭州 BD,bd,华东/杭州/西湖组,\n"


def test_wizard_with_the_hotel_template_then_log_in_as_the_new_admin(
    acme: Org, browser: Any, live_server: Any
):
    context = browser.new_context(locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(live_server.url + "/login/")
        form = page.locator("main form")
        form.locator("input[name=tenant]").fill("acme")
        form.locator("input[name=username]").fill("acme-admin")
        form.locator("input[name=password]").fill(PASSWORD)
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/leads/"))
        # The admin finds the wizard in the navigation.
        page.locator("nav.mainnav a[href='/onboarding/']").click()
        step1 = page.locator("#wizard-step1")
        step1.locator("input[name=slug]").fill("hotel-hz")
        step1.locator("input[name=name]").fill("酒店杭州")
        step1.locator("select[name=language]").select_option("zh-hans")
        step1.locator("input[name=template][value=hotel]").check()
        step1.locator("textarea[name=org_csv]").fill(ORG_CSV)
        step1.locator("textarea[name=users_csv]").fill(USERS_CSV)
        step1.locator("button[type=submit]").click()
        # Step 2 shows the template's content: room-night fields, star rating, the hotel stages.
        review = page.locator("#wizard-review")
        expect(review).to_be_visible()
        expect(review).to_contain_text("月间夜量")
        expect(review).to_contain_text("星级")
        expect(review).to_contain_text("酒店集团")
        expect(review.locator("textarea[name=stages]")).to_have_value(re.compile("site_inspection"))
        expect(review).to_contain_text("华东/杭州/西湖组")
        # Adjust: no OTA partners field, a wider visit radius, the intake module off.
        review.locator("input[name=lead_field][value=ota_partners]").uncheck()
        review.locator("input[name=visit_radius_m]").fill("800")
        review.locator("input[name=module][value=intake]").uncheck()
        review.locator("input[name=admin_username]").fill("hz-admin")
        review.locator("input[name=admin_password]").fill(PASSWORD)
        review.locator("input[name=admin_name]").fill("杭州管理员")
        page.locator("#wizard-apply").click()
        done = page.locator("#wizard-done")
        expect(done).to_contain_text("hotel-hz")
        expect(done).to_contain_text("hz-bd")
        page.screenshot(path=str(SCREENSHOT_DIR / "leadsea-onboarding-done.png"), full_page=True)
        # Log out, then in as the new admin through the link the result page offers.
        login_url = page.locator("#login-new-tenant").get_attribute("href")
        page.locator("header form button[type=submit]").filter(has_text=re.compile("退出|Log out")).click()
        page.goto(live_server.url + str(login_url))
        form = page.locator("main form")
        expect(form.locator("input[name=tenant]")).to_have_value("hotel-hz")
        form.locator("input[name=username]").fill("hz-admin")
        form.locator("input[name=password]").fill(PASSWORD)
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/leads/"))
        expect(page.locator("header .tenant")).to_have_text("酒店杭州")
        nav = page.locator("nav.mainnav")
        expect(nav.locator("a[href='/settings/modules/']")).to_be_visible()
        expect(nav.locator("a[href='/intake/review/']")).to_have_count(0)  # intake was turned off
        # The new lead form carries the hotel's fields.
        page.goto(live_server.url + "/leads/new/")
        expect(page.locator("main")).to_contain_text("星级")
        expect(page.locator("main")).not_to_contain_text("合作 OTA")
        assert not errors, errors
    finally:
        context.close()
    tenant = Tenant.objects.get(slug="hotel-hz")
    assert tenant.visit_radius_m == 800
    assert not FieldDefinition.objects.filter(tenant=tenant, key="ota_partners").exists()
    assert page_settings_of(tenant=tenant).modules["intake"] is False
