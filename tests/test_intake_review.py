"""The review queue page: scope, side-by-side comparison with the score explained, single and bulk decisions,
and the keyboard in headless Chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Browser, expect

from browsing import TIMEOUT_MS
from conftest import PASSWORD, Org
from leadsea.intake.models import ReviewItem
from leadsea.intake.services import intake_settings_update, intake_submit, source_get_or_create
from leadsea.leads.models import Lead

STORES = [
    ("海底捞火锅", "国贸店", "13800138001", "北京市朝阳区建国路87号", 39.9087, 116.4605),
    ("西贝莜面村", "望京店", "13800138002", "北京市朝阳区望京街9号", 39.9961, 116.4709),
    ("喜茶", "三里屯店", "13800138003", "北京市朝阳区三里屯路19号", 39.9332, 116.4540),
]


def make_review_items(org: Org) -> list[ReviewItem]:
    """Existing stores, then near-duplicates of them; thresholds set so that every match goes to review."""
    known = source_get_or_create(tenant=org.tenant, key="partner", channel="push", name="Partner")
    created = intake_submit(
        tenant=org.tenant,
        source=known,
        records=[
            {"external_id": name, "name": name, "branch_name": branch, "phone": phone, "address": address}
            | {"lat": lat, "lng": lng}
            for name, branch, phone, address, lat, lng in STORES
        ],
    )
    assert [r.status for r in created] == ["created"] * len(STORES)
    intake_settings_update(tenant=org.tenant, actor=org.admin, auto_merge_at=1.0, review_at=0.0001)
    source = source_get_or_create(tenant=org.tenant, key="crawl", channel="import", name="Crawl")
    records = [
        {
            "external_id": f"c{i}",
            "name": f"{name}（{branch}）",
            "phone": phone,
            "address": address.replace("北京市", "") + "一层",
            "lat": lat + 0.0004,
            "lng": lng,
        }
        for i, (name, branch, phone, address, lat, lng) in enumerate(STORES)
    ]
    results = intake_submit(tenant=org.tenant, source=source, records=records)
    assert [r.status for r in results] == ["review"] * len(STORES), [r.as_dict() for r in results]
    return list(ReviewItem.objects.filter(tenant=org.tenant).order_by("id"))


def login(membership: Any) -> Client:
    client = Client()
    r = client.post(
        "/login/",
        {"tenant": membership.tenant.slug, "username": membership.user.username, "password": PASSWORD},
    )
    assert r.status_code == 302
    return client


def test_queue_shows_both_sides_and_the_score_per_field(org):
    items = make_review_items(org)
    page = login(org.manager).get("/intake/review/")
    body = page.content.decode()
    assert page.status_code == 200
    for item in items:
        assert f'id="item-{item.pk}"' in body
    first = body.split('id="item-')[1]
    assert "海底捞火锅" in first or "西贝" in first or "喜茶" in first
    # every compared field is a row; the address differs and is highlighted; weights are shown
    assert first.count("<tr class=") >= 7
    assert re.search(r'<tr class="differs [a-z]+">\s*<th scope="row">(地址|Address)', first)
    assert re.search(r'class="weight">-?\d+\.\d', first)
    assert 'accesskey="m"' in body and body.count('accesskey="m"') == 1  # only the highlighted item
    assert "<kbd>j</kbd>" in body  # the keys are documented on the page


@pytest.mark.parametrize("role", ["bd1", "ops"])
def test_queue_is_for_reviewers_only(org, role):
    items = make_review_items(org)
    client = login(getattr(org, role))
    assert client.get("/intake/review/").status_code == 403
    r = client.post("/intake/review/decide/", {"ids": [items[0].pk], "decision": "merge"})
    assert r.status_code == 403
    assert ReviewItem.objects.get(tenant=org.tenant, pk=items[0].pk).status == "open"


def test_decide_one_merges_into_the_candidate(org):
    items = make_review_items(org)
    leads_before = Lead.objects.filter(tenant=org.tenant).count()
    client = login(org.admin)
    r = client.post(
        "/intake/review/decide/", {"ids": [items[0].pk], "decision": "merge", "next_at": items[1].pk}
    )
    assert r.status_code == 302 and r["Location"].endswith(f"?at={items[1].pk}")
    item = ReviewItem.objects.select_related("record").get(tenant=org.tenant, pk=items[0].pk)
    assert item.status == "merged" and item.decided_by_id == org.admin.user_id
    assert item.record.status == "merged" and item.record.lead_id == item.candidate_id
    assert Lead.objects.filter(tenant=org.tenant).count() == leads_before
    # decided items leave the open queue
    assert f'id="item-{item.pk}"' not in client.get("/intake/review/").content.decode()
    assert f'id="item-{item.pk}"' in client.get("/intake/review/?status=merged").content.decode()


def test_bulk_decision_on_selected_items(org):
    items = make_review_items(org)
    client = login(org.hq)
    r = client.post(
        "/intake/review/decide/", {"ids": [items[0].pk, items[2].pk], "decision": "not_duplicate"}
    )
    assert r.status_code == 302
    statuses = dict(ReviewItem.objects.filter(tenant=org.tenant).values_list("id", "status"))
    assert statuses == {items[0].pk: "not_duplicate", items[1].pk: "open", items[2].pk: "not_duplicate"}
    # not a duplicate: each record became a lead of its own
    assert Lead.objects.filter(tenant=org.tenant).count() == len(STORES) + 2
    # deciding again is refused per item, the rest goes on
    r = client.post(
        "/intake/review/decide/", {"ids": [items[0].pk, items[1].pk], "decision": "create"}, follow=True
    )
    assert ReviewItem.objects.get(tenant=org.tenant, pk=items[1].pk).status == "created"
    assert f"#{items[0].pk}" in r.content.decode()


def test_other_tenants_items_are_not_found(org, other_org):
    items = make_review_items(org)
    client = login(other_org.admin)
    client.post("/intake/review/decide/", {"ids": [items[0].pk], "decision": "merge"})
    assert ReviewItem.objects.get(tenant=org.tenant, pk=items[0].pk).status == "open"
    assert f'id="item-{items[0].pk}"' not in client.get("/intake/review/").content.decode()


def test_a_team_manager_sees_only_items_of_leads_in_scope(org):
    items = make_review_items(org)
    # the candidate of the first item goes to the private sea of a BD of team B: team A's manager loses it
    from leadsea.pools.services import lead_claim

    lead = Lead.objects.get(tenant=org.tenant, pk=items[0].candidate_id)
    lead_claim(tenant=org.tenant, actor=org.bd3, lead_id=lead.pk)
    body = login(org.lead_a).get("/intake/review/").content.decode()
    assert f'id="item-{items[0].pk}"' not in body and f'id="item-{items[1].pk}"' in body
    assert f'id="item-{items[0].pk}"' in login(org.manager).get("/intake/review/").content.decode()


# --- the keyboard, in headless Chromium --------------------------------------------------------------


@pytest.mark.browser
def test_keyboard_moves_selects_and_decides(browser: Browser, live_server: Any, acme: Org) -> None:
    items = make_review_items(acme)
    context = browser.new_context(locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(live_server.url + "/login/")
        form = page.locator("main form")
        form.locator("input[name=tenant]").fill("acme")
        form.locator("input[name=username]").fill(acme.manager.user.username)
        form.locator("input[name=password]").fill(PASSWORD)
        form.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/leads/"))
        page.goto(live_server.url + "/intake/review/")
        cards = page.locator(".review-item[data-id]")
        expect(cards).to_have_count(len(items))
        first_id, second_id = cards.nth(0).get_attribute("data-id"), cards.nth(1).get_attribute("data-id")
        expect(cards.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
        page.keyboard.press("j")
        expect(cards.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
        expect(cards.nth(1).locator("table.compare")).to_be_visible()
        expect(cards.nth(0).locator("table.compare")).to_be_hidden()
        page.keyboard.press("k")
        page.keyboard.press("j")
        # n: the highlighted (second) item is not a duplicate
        page.keyboard.press("n")
        page.wait_for_load_state("load")
        expect(page.locator(f"#item-{second_id}")).to_have_count(0)
        assert ReviewItem.objects.get(tenant=acme.tenant, pk=second_id).status == "not_duplicate"
        # x selects the highlighted item, then m merges the selection
        expect(page.locator(".review-item[data-id]")).to_have_count(len(items) - 1)
        page.keyboard.press("x")
        expect(page.locator("#selected-count")).to_have_text("1")
        current = page.locator(".review-item.current").get_attribute("data-id")
        page.keyboard.press("m")
        page.wait_for_load_state("load")
        expect(page.locator(f"#item-{current}")).to_have_count(0)
        assert ReviewItem.objects.get(tenant=acme.tenant, pk=current).status == "merged"
        assert first_id != second_id
        assert not errors, errors
    finally:
        context.close()
