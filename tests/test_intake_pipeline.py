"""The intake pipeline: normalization, decisions at the tenant thresholds, idempotency, survivorship."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from leadsea.audit.models import ChangeLog
from leadsea.core import clock
from leadsea.intake import matching, pipeline
from leadsea.intake.models import FieldProvenance, IntakeRecord, IntakeSource, LeadKey, ReviewItem
from leadsea.intake.pipeline import normalize
from leadsea.intake.services import _lead_values, intake_settings_update, intake_submit, source_get_or_create
from leadsea.leads.models import Lead, LeadTag

HAIDILAO = {
    "external_id": "a-1",
    "name": "海底捞火锅（国贸店）",
    "address": "北京市朝阳区建国门外大街1号国贸商城B1层",
    "phone": "010-6505 1234",
    "lat": 39.9087,
    "lng": 116.4605,
    "category": "火锅",
    "tags": ["连锁"],
}


def _source(org: Any, key: str = "crawl", channel: str = "import", trust: int | None = None) -> IntakeSource:
    return source_get_or_create(tenant=org.tenant, key=key, channel=channel, name=key, trust=trust)


def test_normalize_folds_width_splits_branch_and_converts_coordinates() -> None:
    n = normalize(
        {
            "name": "ＫＦＣ肯德基（王府井店）",
            "address": "北京市东城区王府井大街１３８号",
            "phone": "13800138000; 010-65881234",
            "lat": "39.915",
            "lng": "116.41",
            "coord_sys": "gcj02",
        }
    )
    assert n["name"] == "KFC肯德基"
    assert n["branch_name"] == "王府井店"
    assert n["address"] == "北京市东城区王府井大街138号"
    assert (n["province"], n["city"], n["district"]) == ("北京市", "北京市", "东城区")
    assert n["phones"] == ["+8613800138000", "+861065881234"]
    # GCJ-02 is offset by a few hundred metres from WGS-84 in Beijing
    assert n["lat"] != 39.915 and abs(n["lat"] - 39.915) < 0.01


def test_first_record_creates_a_lead_with_provenance_keys_and_audit(org: Any) -> None:
    src = _source(org)
    [res] = intake_submit(tenant=org.tenant, source=src, records=[HAIDILAO])
    assert res.status == "created" and res.errors == []
    lead = Lead.objects.get(tenant=org.tenant, pk=res.lead_id)
    assert (lead.name, lead.branch_name, lead.phone, lead.source_channel) == (
        "海底捞火锅",
        "国贸店",
        "+861065051234",
        "import",
    )
    assert lead.geo_cell is not None
    assert set(LeadTag.objects.filter(tenant=org.tenant, lead=lead).values_list("tag", flat=True)) == {"连锁"}
    assert LeadKey.objects.filter(tenant=org.tenant, lead=lead).count() >= 4
    [given] = FieldProvenance.objects.filter(tenant=org.tenant, lead=lead).values_list("given", flat=True)
    assert {"name", "branch_name", "address", "phones", "position"} <= set(given)  # one row for the record
    assert given["branch_name"] == "国贸店" and given["phones"] == ["+861065051234"]
    assert ChangeLog.objects.filter(tenant=org.tenant, action="lead.create", object_id=lead.pk).exists()


def test_decisions_follow_the_tenant_thresholds(org: Any) -> None:
    src = _source(org)
    [first] = intake_submit(tenant=org.tenant, source=src, records=[HAIDILAO])
    # The same store written differently: merged into the lead
    same = {**HAIDILAO, "external_id": "a-2", "name": "海底捞(国贸店)", "phone": "+86 10 6505 1234"}
    [merged] = intake_submit(tenant=org.tenant, source=src, records=[same])
    assert merged.status == "merged" and merged.lead_id == first.lead_id
    assert merged.score is not None and merged.score >= 0.98
    # Only the brand and the position agree (another branch nearby, no phone): a person decides
    near = {"external_id": "a-3", "name": "海底捞", "lat": 39.9110, "lng": 116.4620}
    [maybe] = intake_submit(tenant=org.tenant, source=src, records=[near])
    assert maybe.status == "review", maybe
    item = ReviewItem.objects.get(tenant=org.tenant, pk=maybe.review_item_id)
    assert item.candidate_id == first.lead_id and item.status == "open"
    assert "name" in item.explanation and "score" in item.explanation
    # Something else entirely: a new lead
    other = {
        "external_id": "a-4",
        "name": "庆丰包子铺",
        "address": "北京市西城区月坛南街2号",
        "lat": 39.91,
        "lng": 116.34,
    }
    [created] = intake_submit(tenant=org.tenant, source=src, records=[other])
    assert created.status == "created" and created.lead_id != first.lead_id
    # Raising the auto-merge threshold above every score sends the same store to review instead
    intake_settings_update(tenant=org.tenant, actor=org.admin, auto_merge_at=1.0)
    again = {**same, "external_id": "a-5"}
    [reviewed] = intake_submit(tenant=org.tenant, source=src, records=[again])
    assert reviewed.status == "review"
    assert ChangeLog.objects.filter(tenant=org.tenant, action="intake.settings").count() == 1


def test_duplicates_within_one_batch_become_one_lead(org: Any) -> None:
    src = _source(org)
    twin = {**HAIDILAO, "external_id": "b-2", "phone": "01065051234", "name": "海底捞火锅(国贸店)"}
    results = intake_submit(tenant=org.tenant, source=src, records=[{**HAIDILAO, "external_id": "b-1"}, twin])
    assert [r.status for r in results] == ["created", "merged"]
    assert results[0].lead_id == results[1].lead_id
    assert Lead.objects.filter(tenant=org.tenant).count() == 1


def test_resubmitting_the_same_payload_writes_nothing(org: Any) -> None:
    src = _source(org)
    [first] = intake_submit(tenant=org.tenant, source=src, records=[HAIDILAO])
    counts = (
        IntakeRecord.objects.filter(tenant=org.tenant).count(),
        FieldProvenance.objects.filter(tenant=org.tenant).count(),
        ChangeLog.objects.filter(tenant=org.tenant).count(),
    )
    [again] = intake_submit(tenant=org.tenant, source=src, records=[dict(HAIDILAO)])
    assert again.duplicate and again.record_id == first.record_id and again.lead_id == first.lead_id
    assert again.status == "created"
    assert counts == (
        IntakeRecord.objects.filter(tenant=org.tenant).count(),
        FieldProvenance.objects.filter(tenant=org.tenant).count(),
        ChangeLog.objects.filter(tenant=org.tenant).count(),
    )


def test_an_updated_payload_updates_the_lead_by_survivorship(org: Any) -> None:
    low = _source(org, "crowd", "crowd")
    high = _source(org, "partner", "push")
    [first] = intake_submit(tenant=org.tenant, source=high, records=[HAIDILAO])
    later = clock.now() + timedelta(hours=1)
    # a less trusted source's different address loses, even though it is more recent
    crowd = {**HAIDILAO, "external_id": "c-1", "address": "北京市朝阳区建国门外大街1号"}
    [merged] = intake_submit(tenant=org.tenant, source=low, records=[crowd], now=later)
    assert merged.status == "merged"
    lead = Lead.objects.get(tenant=org.tenant, pk=first.lead_id)
    assert lead.address == HAIDILAO["address"]
    # the same trusted source updates its own record: the newer value wins
    fixed = {**HAIDILAO, "phone": "010-6505 9999"}
    [updated] = intake_submit(tenant=org.tenant, source=high, records=[fixed], now=later + timedelta(hours=1))
    assert not updated.duplicate and updated.record_id == first.record_id and updated.status == "created"
    lead = Lead.objects.get(tenant=org.tenant, pk=first.lead_id)
    assert lead.phone == "+861065059999"
    assert IntakeRecord.objects.filter(tenant=org.tenant, source=high).count() == 1


def test_a_changed_lead_rewrites_only_the_keys_that_changed(org: Any) -> None:
    src = _source(org, "partner", "push")
    [first] = intake_submit(tenant=org.tenant, source=src, records=[HAIDILAO])

    def keys() -> dict[int, int]:
        rows = LeadKey.objects.filter(tenant=org.tenant, lead_id=first.lead_id).values_list("key", "pk")
        assert len(rows) == len(set(k for k, _pk in rows))  # no key twice
        return dict(rows)

    before = keys()
    fixed = {**HAIDILAO, "phone": "010-6505 9999"}  # the source corrects its phone: one key changes
    intake_submit(tenant=org.tenant, source=src, records=[fixed], now=clock.now() + timedelta(hours=1))
    after = keys()
    lead = Lead.objects.get(tenant=org.tenant, pk=first.lead_id)
    assert lead.phone == "+861065059999"
    rebuilt = matching.prepare([pipeline.raw_record("x", _lead_values(lead))])[0]
    assert set(after) == set(pipeline.lead_keys(rebuilt))  # what a rebuild writes
    gone, new = set(before) - set(after), set(after) - set(before)
    assert len(gone) == 1 and len(new) == 1  # the old phone's key out, the new one's in
    assert all(after[k] == before[k] for k in set(before) & set(after))  # the other rows untouched


def test_a_bd_verified_value_wins_over_a_more_trusted_source(org: Any) -> None:
    bd = _source(org, "field", "bd")
    feed = _source(org, "partner", "push", trust=100)
    [first] = intake_submit(tenant=org.tenant, source=bd, records=[HAIDILAO], actor=org.bd1)
    update = {**HAIDILAO, "external_id": "p-1", "address": "北京市朝阳区建国门外大街1号国贸商城"}
    intake_submit(tenant=org.tenant, source=feed, records=[update])
    lead = Lead.objects.get(tenant=org.tenant, pk=first.lead_id)
    assert lead.address == HAIDILAO["address"]
    assert FieldProvenance.objects.filter(tenant=org.tenant, lead=lead, verified_by_bd=True).exists()


def test_bad_records_are_reported_and_the_rest_goes_on(org: Any) -> None:
    src = _source(org)
    results = intake_submit(
        tenant=org.tenant,
        source=src,
        records=[
            {"external_id": "x-1", "name": ""},
            {"external_id": "x-2", "name": "某店", "phone": "12"},
            {"external_id": "x-3", "name": "某店", "lat": 100, "lng": 116},
            {"external_id": "x-4", "name": "某店", "lat": 39.9},
            HAIDILAO,
        ],
    )
    assert [r.status for r in results] == ["error", "error", "error", "error", "created"]
    assert [r.errors[0]["field"] for r in results[:4]] == ["name", "phone", "lat", "lng"]
    assert results[1].errors[0]["code"] == "invalid_phone"
    assert Lead.objects.filter(tenant=org.tenant).count() == 1
    assert IntakeRecord.objects.filter(tenant=org.tenant, status="error").count() == 4


def test_sources_are_per_tenant_and_keep_their_channel(org: Any, other_org: Any) -> None:
    src = _source(org)
    assert _source(org).pk == src.pk
    assert src.trust == IntakeSource.DEFAULT_TRUST["import"]
    theirs = _source(other_org)
    assert theirs.pk != src.pk
    from leadsea.core.errors import DomainError

    with pytest.raises(DomainError) as exc:
        _source(org, "crawl", "push")
    assert exc.value.code == "source_channel_mismatch"
    with pytest.raises(DomainError) as exc:
        intake_submit(tenant=org.tenant, source=theirs, records=[HAIDILAO])
    assert exc.value.code == "source_not_found"


def test_a_lead_made_by_a_bd_is_found_by_intake_and_its_values_win(org: Any) -> None:
    from leadsea.leads.services import lead_create, lead_update

    lead = lead_create(
        tenant=org.tenant,
        actor=org.bd1,
        data={
            "name": "海底捞火锅",
            "branch_name": "国贸店",
            "phone": "010-6505 1234",
            "lat": 39.9087,
            "lng": 116.4605,
        },
    )
    assert FieldProvenance.objects.filter(tenant=org.tenant, lead=lead, verified_by_bd=True).exists()
    lead = lead_update(
        tenant=org.tenant, actor=org.bd1, lead=lead, data={"address": "北京市朝阳区建国门外大街1号"}
    )
    feed = _source(org, "partner", "push", trust=100)
    [res] = intake_submit(
        tenant=org.tenant, source=feed, records=[{**HAIDILAO, "address": "建国门外大街一号"}]
    )
    assert res.status == "merged" and res.lead_id == lead.pk
    assert Lead.objects.get(tenant=org.tenant, pk=lead.pk).address == "北京市朝阳区建国门外大街1号"


def test_leads_loaded_outside_intake_are_found_after_a_key_rebuild(org: Any) -> None:
    import io

    from django.core.management import call_command

    from leadsea.pools.selectors import default_pool

    now = clock.now()
    lead = Lead.objects.create(
        tenant=org.tenant,
        pool=default_pool(tenant=org.tenant),
        name="海底捞火锅",
        branch_name="国贸店",
        phone="+861065051234",
        phones=["+861065051234"],
        lat=39.9087,
        lng=116.4605,
        created_at=now,
        updated_at=now,
    )
    src = _source(org)
    out = io.StringIO()
    call_command("intake_keys", "--tenant", org.tenant.slug, stdout=out)
    assert "indexed 1 leads" in out.getvalue()
    [res] = intake_submit(tenant=org.tenant, source=src, records=[HAIDILAO])
    assert res.status == "merged" and res.lead_id == lead.pk


def test_cached_preparation_and_search_forms_equal_the_uncached_ones() -> None:
    from dataclasses import asdict

    from leadsea.intake import matching, pipeline
    from leadsea.leads.normalize import phone_search_forms

    raws = [
        matching.RawRecord(id="a", name="海底捞火锅(国贸店)", address="北京市朝阳区建国路87号", city="北京"),
        matching.RawRecord(
            id="b", name="海底捞国贸店", address="建国路87号", city="北京市", phone="010-65881234"
        ),
        matching.RawRecord(id="c", name="Joe's Pizza - Downtown", address="7 Carmine St", city="NYC"),
    ]
    plain = [asdict(r) for r in matching.prepare(raws)]
    assert [asdict(r) for r in matching.prepare(raws, cache=True)] == plain
    # a second time from the cache: fresh Rec objects, the input-wide steps applied again
    again = matching.prepare(raws, cache=True)
    assert [asdict(r) for r in again] == plain
    assert again[1].branch == "国贸"  # the inline branch split, which needs the other record, still happens
    # keyed only (no statistics): the same keys, the same split
    keyed = matching.prepare(raws, cache=True, statistics=False)
    assert [pipeline.lead_keys(r) for r in keyed] == [pipeline.lead_keys(r) for r in again]
    assert [pipeline.query_keys(r) for r in keyed] == [pipeline.query_keys(r) for r in again]
    assert keyed[1].branch == "国贸" and keyed[1].weights == () and again[2].weights != ()
    for phone in ("138 0013 8000", "010-6588 1234", "+1 650 253 0000", "+39 06 1234 5678"):
        e164 = pipeline.normalize({"name": "x", "phone": phone})["phones"][0]
        assert pipeline.search_text("x", "", "", [e164]) == f"x   {phone_search_forms(e164)}"


@pytest.mark.postgres_only
def test_a_batch_finds_its_earlier_records_through_the_external_id_index(org: Any) -> None:
    """A batch's look-up of its external ids uses the partial unique index even with 500 of them (PostgreSQL
    proves a partial index's condition from an IN list of at most 100 values): it reads the batch's ids, not
    every record of the tenant."""
    from django.db import connection

    from leadsea.intake.services import records_by_external_id

    source = _source(org)
    intake_submit(tenant=org.tenant, source=source, records=[{**HAIDILAO, "external_id": "x-7"}])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a table this small would be read whole anyway
    qs = records_by_external_id(org.tenant, source, [f"x-{i}" for i in range(500)])
    assert "intakerecord_external_uniq" in qs.select_for_update().explain()
    assert [r.external_id for r in qs] == ["x-7"]


def test_lock_names_meet_for_one_place_and_part_for_far_cities() -> None:
    from leadsea.intake.pipeline import LOCK_CELL_DEG, lock_names

    edge = 4 * LOCK_CELL_DEG  # a cell boundary: positions 2 km apart on either side of it
    west = lock_names({"city": "", "lat": 39.9, "lng": edge - 0.01})
    east = lock_names({"city": "", "lat": 39.9, "lng": edge + 0.01})
    assert set(west) & set(east)
    assert all(name.startswith("cell|") for name in west + east)  # placed, no city: its cells
    far = lock_names({"city": "", "lat": 31.23, "lng": 121.47})
    assert not set(west) & set(far)
    # naming a city: its lock only, wherever the record is placed
    assert lock_names({"city": "北京市", "lat": 31.23, "lng": 121.47}) == ["city|beijing"]
    assert lock_names({"city": "上海"}) == ["city|shanghai"]  # no position: the city's lock only
    assert lock_names({"city": ""}) == ["city|"]  # neither: the empty city's
