"""The benchmark commands run end to end on small sizes (their figures are printed, never asserted on
time): the intake bench loads, submits, keeps its tenant and measures again on it with fresh records; the
nearby bench answers exactly and cleans up."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError
from django.db import connection

from leadsea.bench import intake, nearby
from leadsea.core.tenancy_guard import unscoped
from leadsea.intake.models import IntakeRecord, IntakeSource
from leadsea.leads.models import Lead
from leadsea.tenancy.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)


def _intake_options(**more: Any) -> dict[str, Any]:
    return {
        "existing": 400,
        "records": 60,
        "batch_size": 25,
        "dedup_records": 0,
        "seed": 7,
        "workers": 2,
        "keep": False,
        "tenant": None,
        **more,
    }


def test_bench_intake_measures_again_on_a_kept_tenant_with_new_records():
    lines: list[str] = []
    first = intake.run(_intake_options(keep=True), lines.append)
    slug = next(t.slug for t in Tenant.objects.filter(slug__startswith="bench-intake"))
    assert first["records"] == 60 and first["existing"] > 300 and first["records_per_s"] > 0
    assert sum(first["statuses"].values()) == 60
    assert first["workers"] == (2 if connection.vendor == "postgresql" else 1)
    # the decisions against the generated world's true stores: every merge, creation and review counted
    quality = first["quality"]
    decided = [
        "merged_right",
        "merged_wrong",
        "created_right",
        "created_duplicate",
        "review_right",
        "review_wrong",
    ]
    assert sum(quality.get(k, 0) for k in decided) == 60 - first["statuses"].get("error", 0)
    assert quality["duplicates"] > 0 and quality["merged_right"] > 0 and quality["merge_precision"] > 0.8
    second = intake.run(_intake_options(tenant=slug, workers=1), lines.append)
    assert second["existing"] == first["existing"]  # the leads loaded, not the ones the runs made
    tenant = Tenant.objects.get(slug=slug)
    with unscoped():
        assert IntakeSource.objects.filter(tenant=tenant).count() == 2
        assert IntakeRecord.objects.filter(tenant=tenant).count() == 120  # no replays: new records
        external = set(IntakeRecord.objects.filter(tenant=tenant).values_list("external_id", flat=True))
    assert len(external) == 120
    assert sum(second["statuses"].values()) == 60
    # --cpu: the next run's records, rolled back: figures per record, nothing kept, the run not used up
    profile = intake.run(_intake_options(tenant=slug, cpu=True), lines.append)
    assert profile["mode"] == "cpu" and sum(profile["statuses"].values()) == 60
    assert profile["client_cpu_ms_per_record"] > 0 and profile["statements"]
    assert profile["quality"]["duplicates"] > 0 and profile["quality"]["merge_recall"] > 0.5
    if connection.vendor == "sqlite":
        assert profile["server_cpu_ms_per_record"] is None
    with unscoped():
        assert IntakeSource.objects.filter(tenant=tenant).count() == 2
        assert IntakeRecord.objects.filter(tenant=tenant).count() == 120
    with pytest.raises(CommandError):
        intake.run(_intake_options(cpu=True), lines.append)  # only on a kept tenant
    from leadsea.bench.common import drop_tenant

    with connection.cursor() as cursor:  # the leads the committed runs created are known stores too
        cursor.execute(f"SELECT count(*) FROM {intake.TRUTH_TABLE} WHERE tenant_id = %s", [tenant.pk])
        known = cursor.fetchone()[0]
    assert known == first["existing"] + first["statuses"]["created"] + second["statuses"]["created"]
    drop_tenant(tenant, lines.append)
    assert not Tenant.objects.filter(slug=slug).exists()
    with connection.cursor() as cursor:  # the bench's own table loses the tenant's rows with it
        cursor.execute(f"SELECT count(*) FROM {intake.TRUTH_TABLE} WHERE tenant_id = %s", [tenant.pk])
        assert cursor.fetchone()[0] == 0


def test_split_by_city_keeps_each_city_in_one_part():
    beijing = {"lat": 39.91, "lng": 116.46}
    records = (
        [{"name": f"店{i}", "city": "北京", **beijing} for i in range(5)]
        + [{"name": f"店{i}", "city": "北京市"} for i in range(2)]  # the same city, spelled otherwise
        + [{"name": f"店{i}", "city": "", **beijing} for i in range(2)]  # no city, placed in Beijing
        + [{"name": f"店{i}", "city": "上海"} for i in range(4)]
        + [{"name": f"店{i}", "city": "广州"} for i in range(3)]
        + [{"name": "", "city": "深圳"}]  # does not normalize: with the empty city
        + [{"name": "无城市", "city": ""}]  # neither city nor position: with the empty city
    )
    parts = intake.split_by_city(records, 2)
    assert sorted(len(p) for p in parts) == [9, 9]
    beijing_part = next(p for p in parts if records[0] in p)
    assert all(r in beijing_part for r in records[:9])
    cities = [{r["city"].removesuffix("市") for r in part if r["city"]} for part in parts]
    assert not cities[0] & cities[1]
    assert intake.split_by_city(records, 1) == [records]


def test_bench_nearby_is_exact_and_cleans_up():
    options = {
        "points": 3000,
        "queries": 30,
        "warmup": 5,
        "exact": 6,
        "radius": 1000.0,
        "limit": 50,
        "sigma_km": 10.0,
        "bds": 2,
        "seed": 42,
        "profile": 0,
        "keep": False,
        "tenant": None,
    }
    figures = nearby.run(options, lambda line: None)
    assert figures["exactness_errors"] == 0 and figures["exactness_queries"] == 6
    assert figures["service_p50_ms"] > 0 and figures["raw_p50_ms"] > 0
    assert not Tenant.objects.filter(slug__startswith="bench-nearby").exists()
    with unscoped():
        assert not Lead.objects.filter(source_channel="bench").exists()
