"""A lead's aggregated history: past deals, sales the sources reported, which sources reported the store,
merges, owners, visits, the brand's other stores; in a fixed number of queries, inside the viewer's scope,
on the web and mobile lead pages (when the tenant shows the section) and through the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from conftest import PASSWORD
from leadsea.core.errors import NotFound
from leadsea.intake.services import intake_submit, lead_merge, lead_unmerge, source_get_or_create
from leadsea.intake.submit import intake_submit_tagged
from leadsea.leads.history import lead_history, sales_amount
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_create
from leadsea.onboarding.services import page_config_update
from leadsea.pipeline.services import lead_stage_set
from leadsea.pools import services as pools
from leadsea.visits.services import visit_record

pytestmark = pytest.mark.django_db

STORE = {
    "name": "海底捞火锅（国贸店）",
    "address": "北京市朝阳区建国门外大街1号国贸商城B1层",
    "lat": 39.9087,
    "lng": 116.4605,
    "category": "火锅",
}


@dataclass
class Story:
    lead: Lead
    merged: Lead  # merged into the lead (still merged)
    undone: Lead  # merged and given back, then claimed by bd2
    merge: Any
    undone_merge: Any
    sister: Lead  # another public branch of the brand
    hidden_sister: Lead  # another branch, private to bd2


def _web(member: Any) -> Client:
    client = Client()
    client.cookies["leadsea_language"] = "en"
    client.post(
        "/login/", {"tenant": member.tenant.slug, "username": member.user.username, "password": PASSWORD}
    )
    return client


def _get(org: Any, lead: Lead) -> Lead:
    return Lead.objects.get(tenant=org.tenant, pk=lead.pk)


def _story(org: Any) -> Story:
    crawl = source_get_or_create(tenant=org.tenant, key="crawl", channel="import", name="美食榜爬虫")
    # The partner is trusted above the workbench (80), so merged leads do not change the store's values.
    partner = source_get_or_create(
        tenant=org.tenant, key="partner", channel="push", name="合作伙伴", trust=90
    )
    [made] = intake_submit_tagged(
        tenant=org.tenant, source=crawl, records=[{**STORE, "external_id": "c1", "monthly_sales": "12.5万"}]
    )
    [joined] = intake_submit_tagged(
        tenant=org.tenant,
        source=partner,
        records=[
            {
                **STORE,
                "external_id": "p1",
                "phone": "010-6505 1234",
                "custom_fields": {"sales": {"amount": 150000, "currency": "CNY"}},
            }
        ],
    )
    assert made.status == "created" and joined.status == "merged" and joined.lead_id == made.lead_id
    lead = Lead.objects.get(tenant=org.tenant, pk=made.lead_id)
    pools.lead_claim(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk)
    lead_stage_set(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="negotiation")
    lead_stage_set(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="lost", lost_reason="price")
    lead_stage_set(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="contact")
    lead_stage_set(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, stage_key="won")
    visit_record(tenant=org.tenant, actor=org.bd1, lead_id=lead.pk, lat=39.9087, lng=116.4605)
    merged = lead_create(
        tenant=org.tenant, actor=org.admin, data={"name": "海底捞火锅", "branch_name": "国贸商城店"}
    )
    merge = lead_merge(tenant=org.tenant, survivor=lead, merged=merged, actor=org.manager)
    undone = lead_create(
        tenant=org.tenant, actor=org.admin, data={"name": "海底捞火锅", "branch_name": "三里屯店"}
    )
    undone_merge = lead_merge(tenant=org.tenant, survivor=_get(org, lead), merged=undone, actor=org.manager)
    lead_unmerge(tenant=org.tenant, merge=undone_merge, actor=org.manager)
    pools.lead_claim(tenant=org.tenant, actor=org.bd2, lead_id=undone.pk)
    sister = lead_create(
        tenant=org.tenant, actor=org.admin, data={"name": "海底捞火锅", "branch_name": "望京店"}
    )
    hidden = lead_create(
        tenant=org.tenant, actor=org.admin, data={"name": "海底捞火锅", "branch_name": "西单店"}
    )
    pools.lead_claim(tenant=org.tenant, actor=org.bd2, lead_id=hidden.pk)
    return Story(_get(org, lead), merged, undone, merge, undone_merge, sister, hidden)


def test_the_selector_aggregates_the_store_history(org):
    s = _story(org)
    h = lead_history(tenant=org.tenant, membership=org.bd1, lead_id=s.lead.pk)
    # Deals: one lost (with its reason), one won; the lead is signed.
    assert h.signed_at is not None and (h.won, h.lost) == (1, 1)
    assert [(o.kind, o.stage.key, o.lost_reason) for o in h.opportunities] == [
        ("won", "won", ""),
        ("lost", "lost", "price"),
    ]
    assert h.opportunities[1].closed_at is not None and h.opportunities[0].owner.user_id == org.bd1.user_id
    # Sales, newest first, from the record's custom_fields and from its top level ("万" read as 10,000).
    assert [(f.source_key, f.amount, f.currency, f.key) for f in h.sales] == [
        ("partner", 150000.0, "CNY", "sales"),
        ("crawl", 125000.0, "", "monthly_sales"),
    ]
    # Sources: the crawl first seen first, then the partner; the merged lead's workbench values come along.
    by_key = {r.key: r for r in h.sources}
    assert [r.key for r in h.sources][:2] == ["crawl", "partner"]
    assert set(by_key) == {"crawl", "partner", ""}
    assert by_key["crawl"].records == 1 and by_key["partner"].records == 1
    assert by_key["partner"].name == "合作伙伴" and by_key["partner"].trust == 90
    partner_values = {v.field: v for v in by_key["partner"].values}
    assert partner_values["phones"].value == ["+861065051234"] and partner_values["phones"].current
    assert partner_values["branch_name"].value == "国贸店" and partner_values["branch_name"].current
    workbench = {v.field: v for v in by_key[""].values}
    assert workbench["branch_name"].value == "国贸商城店" and not workbench["branch_name"].current
    # Merges, newest first: the undone one names a lead now in bd2's private sea, so bd1 is not told which.
    assert [(g.id, g.direction, g.other_id, g.other_name, g.undone_at is not None) for g in h.merges] == [
        (s.undone_merge.pk, "into", None, "", True),
        (s.merge.pk, "into", s.merged.pk, "海底捞火锅（国贸商城店）", False),
    ]
    assert h.merges[0].by.user_id == org.manager.user_id and h.merges[0].undone_by is not None
    # Owners: bd1 since the claim (signing keeps the owner).
    assert [(p.owner.user_id, p.started_by, p.end) for p in h.ownership] == [(org.bd1.user_id, "claim", None)]
    assert (h.visits.count, h.visits.verified) == (1, 1) and h.visits.last_by.user_id == org.bd1.user_id
    # The brand: bd1 sees the public sister store only.
    assert (h.brand.total, h.brand.signed) == (1, 0)
    assert [r.lead.pk for r in h.brand.stores] == [s.sister.pk]


def test_supervisors_see_what_their_scope_holds(org):
    s = _story(org)
    h = lead_history(tenant=org.tenant, membership=org.admin, lead_id=s.lead.pk)
    assert h.merges[0].other_id == s.undone.pk and h.merges[0].other_name == "海底捞火锅（三里屯店）"
    assert h.brand.total == 3 and {r.lead.pk for r in h.brand.stores} == {
        s.sister.pk,
        s.hidden_sister.pk,
        s.undone.pk,
    }
    # The restored lead tells its side: it was merged away and is back, now in bd2's private sea.
    back = lead_history(tenant=org.tenant, membership=org.admin, lead_id=s.undone.pk)
    assert [(g.direction, g.other_id) for g in back.merges] == [("away", s.lead.pk)]
    assert [(p.owner.user_id, p.end) for p in back.ownership] == [(org.bd2.user_id, None)]


def test_the_restored_lead_does_not_name_a_survivor_outside_the_viewer_scope(org):
    s = _story(org)
    # bd2 owns the restored lead; the survivor is bd1's private lead: bd2 is not told which lead it was.
    back = lead_history(tenant=org.tenant, membership=org.bd2, lead_id=s.undone.pk)
    assert [(g.direction, g.other_id, g.other_name) for g in back.merges] == [("away", None, "")]
    assert back.merges[0].undone_at is not None


def test_a_fixed_number_of_queries_whatever_the_history_holds(org):
    s = _story(org)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            lead_history(tenant=org.tenant, membership=org.bd1, lead_id=s.lead.pk)
        return len(ctx.captured_queries)

    before = count()
    assert before <= 15
    # More of everything: records from more sources, visits, merges, another brand store.
    for i in range(3):
        src = source_get_or_create(tenant=org.tenant, key=f"feed{i}", channel="queue")
        intake_submit(
            tenant=org.tenant, source=src, records=[{**STORE, "external_id": f"f{i}", "monthly_sales": i + 1}]
        )
        visit_record(tenant=org.tenant, actor=org.bd1, lead_id=s.lead.pk, lat=39.9087, lng=116.4605)
        extra = lead_create(
            tenant=org.tenant, actor=org.admin, data={"name": "海底捞火锅", "branch_name": f"{i}"}
        )
        lead_merge(tenant=org.tenant, survivor=_get(org, s.lead), merged=extra, actor=org.manager)
        lead_create(
            tenant=org.tenant, actor=org.admin, data={"name": "海底捞火锅", "branch_name": f"新{i}店"}
        )
    h = lead_history(tenant=org.tenant, membership=org.bd1, lead_id=s.lead.pk)
    assert len(h.sales) == 5 and h.visits.count == 4 and len(h.merges) == 5 and h.brand.total == 4
    assert count() == before


def test_sales_figures_convention():
    assert sales_amount(128000) == (128000.0, "")
    assert sales_amount("12,800") == (12800.0, "")
    assert sales_amount("¥1.5万") == (15000.0, "CNY")
    assert sales_amount("12800元") == (12800.0, "CNY") and sales_amount("$900") == (900.0, "USD")
    assert sales_amount({"amount": "3000", "currency": "CNY"}) == (3000.0, "CNY")
    for bad in ("很多", "-5", True, None, "", [1], "1e400"):
        assert sales_amount(bad) is None, bad


def test_isolation_another_tenant_and_another_bds_private_lead(org, other_org, api_as):
    s = _story(org)
    with pytest.raises(NotFound):
        lead_history(tenant=other_org.tenant, membership=other_org.admin, lead_id=s.lead.pk)
    # bd3 (another team) may not see bd1's private lead, nor bd1 bd2's: 404, not its history.
    for member, lead in ((org.bd3, s.lead), (org.bd1, s.undone), (org.bd1, s.hidden_sister)):
        with pytest.raises(NotFound):
            lead_history(tenant=org.tenant, membership=member, lead_id=lead.pk)
        r = api_as(member).get(f"/api/v1/leads/{lead.pk}/history")
        assert r.status_code == 404 and r.json()["error"]["code"] == "lead_not_found"
        page = _web(member).get(f"/leads/{lead.pk}/")
        assert page.status_code == 404 and "Store history" not in page.content.decode()
    r = api_as(other_org.admin).get(f"/api/v1/leads/{s.lead.pk}/history")
    assert r.status_code == 404
    # A merged lead lives on in its survivor: its own history is not found.
    with pytest.raises(NotFound):
        lead_history(tenant=org.tenant, membership=org.admin, lead_id=s.merged.pk)


def test_the_api(org, api_as):
    s = _story(org)
    r = api_as(org.bd1).get(f"/api/v1/leads/{s.lead.pk}/history")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["lead_id"] == s.lead.pk and (body["won"], body["lost"]) == (1, 1)
    assert [o["stage"] for o in body["opportunities"]] == ["won", "lost"]
    assert body["opportunities"][1]["lost_reason"] == "price"
    assert [(f["source"], f["amount"]) for f in body["sales"]] == [("partner", 150000.0), ("crawl", 125000.0)]
    keys = [src["key"] for src in body["sources"]]
    assert keys[:2] == ["crawl", "partner"] and None in keys
    assert body["merges"][0]["other_lead_id"] is None and body["merges"][0]["other_name"] is None
    assert body["merges"][0]["undone_at"] is not None and body["merges"][1]["other_lead_id"] == s.merged.pk
    assert body["ownership"] == [
        {
            "owner": org.bd1.user_id,
            "start": body["ownership"][0]["start"],
            "started_by": "claim",
            "end": None,
            "ended_by": "",
        }
    ]
    assert body["visits"]["count"] == 1 and body["visits"]["last_by"] == org.bd1.user_id
    assert body["brand"]["total"] == 1 and body["brand"]["stores"][0]["id"] == s.sister.pk
    # Modules turned off take their part out.
    page_config_update(tenant=org.tenant, actor=org.admin, modules={"pool": False, "visits": False})
    body = api_as(org.bd1).get(f"/api/v1/leads/{s.lead.pk}/history").json()
    assert body["ownership"] is None and body["visits"] is None and body["won"] == 1


def test_the_web_lead_page_shows_the_section_when_the_tenant_does(org):
    s = _story(org)
    bd1 = _web(org.bd1)
    page = bd1.get(f"/leads/{s.lead.pk}/").content.decode()
    assert "Store history" in page and 'id="store-history"' in page
    assert "150,000" in page and "125,000" in page  # sales
    assert "美食榜爬虫" in page and "合作伙伴" in page  # sources
    assert "海底捞火锅（国贸商城店） was merged into this lead" in page
    assert "A lead outside your scope was merged into this lead" in page
    assert "三里屯店" not in page and "西单店" not in page  # bd2's private stores
    assert "1 won, 1 lost" in page and "1 visit, 1 verified" in page
    assert "三里屯店" in _web(org.admin).get(f"/leads/{s.lead.pk}/").content.decode()
    # Modules off: their parts go; the section off: it goes.
    page_config_update(tenant=org.tenant, actor=org.admin, modules={"visits": False})
    page = bd1.get(f"/leads/{s.lead.pk}/").content.decode()
    assert "Store history" in page and "1 visit, 1 verified" not in page
    page_config_update(tenant=org.tenant, actor=org.admin, lead_sections={"store_history": False})
    page = bd1.get(f"/leads/{s.lead.pk}/").content.decode()
    assert "Store history" not in page and "150,000" not in page


def test_the_mobile_merchant_page_shows_it_too(org):
    s = _story(org)
    bd1 = _web(org.bd1)
    page = bd1.get(f"/m/leads/{s.lead.pk}/").content.decode()
    assert 'id="store-history"' in page and "150,000" in page and "1 won, 1 lost" in page
    assert "三里屯店" not in page
    page_config_update(tenant=org.tenant, actor=org.admin, lead_sections={"store_history": False})
    assert 'id="store-history"' not in bd1.get(f"/m/leads/{s.lead.pk}/").content.decode()


def test_a_lead_with_no_history(org):
    lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "无名小店"})
    h = lead_history(tenant=org.tenant, membership=org.bd1, lead_id=lead.pk)
    assert (h.opportunities, h.sales, h.merges, h.ownership) == ([], [], [], [])
    assert [r.key for r in h.sources] == [""]  # what the admin typed in the workbench
    assert h.visits.count == 0 and h.visits.last_at is None and h.brand.total == 0
    page = _web(org.bd1).get(f"/leads/{lead.pk}/").content.decode()
    assert "No source has reported sales for this store." in page and "Never in a private sea." in page


def test_a_sales_column_of_an_imported_file_reaches_the_history(org, tmp_path):
    from leadsea.intake.importing import import_job_create, import_job_run

    source = source_get_or_create(tenant=org.tenant, key="list", channel="import", name="商户名单")
    f = tmp_path / "list.csv"
    f.write_text('编号,店名,月销售额\nr1,喜茶（三里屯店）,"86,000"\nr2,小馆子,不详\n', encoding="utf-8")
    job = import_job_create(tenant=org.tenant, source=source, path=f, file_name=f.name)
    assert import_job_run(tenant=org.tenant, job=job).counts == {"created": 2}
    by_name = {lead.name: lead for lead in Lead.objects.filter(tenant=org.tenant)}
    h = lead_history(tenant=org.tenant, membership=org.admin, lead_id=by_name["喜茶"].pk)
    assert [(f.source_name, f.amount, f.key) for f in h.sales] == [("商户名单", 86000.0, "monthly_sales")]
    assert lead_history(tenant=org.tenant, membership=org.admin, lead_id=by_name["小馆子"].pk).sales == []
