"""Concurrent submissions of the same source + external_id: real threads on PostgreSQL, one record."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from conftest import build_org
from leadsea.intake.models import FieldProvenance, IntakeRecord
from leadsea.intake.services import intake_settings_get, intake_submit, source_get_or_create
from leadsea.leads.models import Lead

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

STORE = {
    "external_id": "same-1",
    "name": "并发小馆(国贸店)",
    "phone": "010-6505 7777",
    "lat": 39.9087,
    "lng": 116.4605,
}


def _race(n: int, fn: Any) -> list[Any]:
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return fn(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_the_same_external_id_from_many_threads_makes_one_record_and_one_lead() -> None:
    org = build_org("race", "并发")
    source = source_get_or_create(tenant=org.tenant, key="push", channel="push")
    results = _race(8, lambda i: intake_submit(tenant=org.tenant, source=source, records=[dict(STORE)])[0])
    assert IntakeRecord.objects.filter(tenant=org.tenant).count() == 1
    assert Lead.objects.filter(tenant=org.tenant).count() == 1
    record = IntakeRecord.objects.get(tenant=org.tenant)
    assert {r.record_id for r in results} == {record.pk}
    assert sum(1 for r in results if not r.duplicate) == 1
    assert {r.status for r in results} == {"created"}
    assert {r.lead_id for r in results} == {record.lead_id}
    assert FieldProvenance.objects.filter(tenant=org.tenant).count() == 1


def test_changed_payloads_of_one_external_id_in_parallel_keep_one_record() -> None:
    org = build_org("race2", "并发2")
    source = source_get_or_create(tenant=org.tenant, key="push", channel="push")
    phones = ["010-6505 7777", "010-6505 8888", "010-6505 9999", "010-6505 6666"]
    results = _race(
        4,
        lambda i: intake_submit(tenant=org.tenant, source=source, records=[{**STORE, "phone": phones[i]}])[0],
    )
    assert IntakeRecord.objects.filter(tenant=org.tenant).count() == 1
    assert Lead.objects.filter(tenant=org.tenant).count() == 1
    assert all(r.errors == [] for r in results)
    lead = Lead.objects.get(tenant=org.tenant)
    # one source, so the most recently received value wins, whichever transaction committed last
    latest = FieldProvenance.objects.filter(tenant=org.tenant, lead=lead).order_by("-at", "-id")[0]
    assert lead.phones == latest.given["phones"]
    assert lead.phone in {"+86106505" + p[-4:] for p in phones}


def test_one_store_sent_by_many_sources_at_once_becomes_one_lead() -> None:
    """Different external ids, sources and spellings of one store, submitted in parallel: the city's lock
    makes the batches match one after the other, so the first creates the lead and the others merge."""
    org = build_org("race3", "并发3")
    sources = [source_get_or_create(tenant=org.tenant, key=f"push-{i}", channel="push") for i in range(6)]
    intake_settings_get(tenant=org.tenant)  # made by the first call otherwise, which would order the batches
    spellings = [
        "并发小馆(国贸店)",
        "并发小馆（国贸店）",
        "并发小馆 国贸店",
        "并发小馆(国贸)",
        "并发小馆(国贸店)",
        "并发小馆",
    ]

    def submit(i: int) -> Any:
        record = {**STORE, "external_id": f"s{i}", "name": spellings[i], "city": "北京"}
        other = {
            "external_id": f"o{i}",
            "name": f"别的店{i}",
            "city": "上海",
            "lat": 31.2,
            "lng": 121.4 + i / 100,
        }
        return intake_submit(tenant=org.tenant, source=sources[i], records=[other, record])

    results = _race(6, submit)
    statuses = sorted(r[1].status for r in results)
    assert statuses == ["created"] + ["merged"] * 5, statuses
    assert Lead.objects.filter(tenant=org.tenant, city="北京", merged_into__isnull=True).count() == 1
    assert {r[1].lead_id for r in results} == {Lead.objects.get(tenant=org.tenant, city="北京").pk}
    assert Lead.objects.filter(tenant=org.tenant, city="上海").count() == 6


def test_the_same_external_id_in_two_cities_at_once_keeps_one_record() -> None:
    """Batches of different cities do not wait for each other, and a record is inserted with its decision at
    the end of its pass: the loser of the external id's unique index runs its pass again and updates the
    winner's record instead of failing."""
    org = build_org("race4", "并发4")
    source = source_get_or_create(tenant=org.tenant, key="push", channel="push")
    intake_settings_get(tenant=org.tenant)
    cities = [("北京", 39.9087, 116.4605), ("上海", 31.2304, 121.4737)]
    for _round in range(3):  # the order of the two commits varies: a few rounds
        eid = f"moving-{_round}"

        def submit(i: int, eid: str = eid) -> Any:
            city, lat, lng = cities[i]
            return intake_submit(
                tenant=org.tenant,
                source=source,
                records=[{**STORE, "external_id": eid, "city": city, "lat": lat, "lng": lng}],
            )[0]

        results = _race(2, submit)
        assert IntakeRecord.objects.filter(tenant=org.tenant, external_id=eid).count() == 1
        record = IntakeRecord.objects.get(tenant=org.tenant, external_id=eid)
        assert {r.record_id for r in results} == {record.pk}
        assert all(r.errors == [] for r in results)


def test_one_store_with_and_without_its_city_at_once_becomes_one_lead() -> None:
    """Some sources name the store's city, some name none: a batch with a record naming no city also takes
    the locks of the cities of the tenant's leads around it, so the batches match one after the other."""
    org = build_org("race5", "并发5")
    sources = [source_get_or_create(tenant=org.tenant, key=f"push-{i}", channel="push") for i in range(6)]
    intake_settings_get(tenant=org.tenant)
    neighbour = {"name": "隔壁书店", "city": "北京", "lat": 39.9101, "lng": 116.4622}  # a lead ~200 m away
    intake_submit(tenant=org.tenant, source=sources[0], records=[{**neighbour, "external_id": "n"}])
    cities = ["北京", "", "", "北京", "", "北京"]

    def submit(i: int) -> Any:
        record = {**STORE, "external_id": f"s{i}", "city": cities[i], "lat": 39.9087 + i / 20000}
        return intake_submit(tenant=org.tenant, source=sources[i], records=[record])[0]

    results = _race(6, submit)
    assert sorted(r.status for r in results) == ["created"] + ["merged"] * 5
    live = Lead.objects.filter(tenant=org.tenant, merged_into__isnull=True)
    assert live.exclude(name="隔壁书店").count() == 1


def test_a_record_naming_no_city_locks_the_city_most_leads_around_it_name() -> None:
    from leadsea.intake.services import _cities_around

    org = build_org("around", "周边")
    source = source_get_or_create(tenant=org.tenant, key="push", channel="push")
    around = [
        ("北京", 39.9101, 116.4622),
        ("北京市", 39.9080, 116.4590),
        ("上海", 39.9095, 116.4610),  # one lead placed in the wrong city
        ("广州", 23.1291, 113.2644),  # far away
    ]
    records = [
        {"external_id": f"x{i}", "name": f"店{i}", "city": c, "lat": a, "lng": b}
        for i, (c, a, b) in enumerate(around)
    ]
    intake_submit(tenant=org.tenant, source=source, records=records)
    assert _cities_around(org.tenant, [{"lat": 39.9087, "lng": 116.4605}]) == {"beijing"}
    assert _cities_around(org.tenant, [{"lat": 23.1290, "lng": 113.2640}]) == {"guangzhou"}
    assert _cities_around(org.tenant, [{"lat": 30.0, "lng": 100.0}]) == set()  # no lead around
