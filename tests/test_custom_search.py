"""Searchable custom fields on leads: equality, ranges, contains and sorting through the side index, the
set-based rebuild agreeing with the per-write upkeep, and a property: any field definitions of tenant A
never change tenant B's validation results or stored data (all field types, including the new ones)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from leadsea.core.errors import DomainError
from leadsea.leads.services import lead_create
from leadsea.metadata.models import CustomValue, FieldDefinition
from leadsea.metadata.services import custom_data_validate, field_definition_create
from leadsea.metadata.values import custom_values_rebuild

pytestmark = pytest.mark.django_db
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "leadsea-hypothesis"))


def _fields(org: Any) -> None:
    for spec in (
        {"key": "seats", "field_type": "number"},
        {"key": "avg", "field_type": "decimal"},
        {"key": "fee", "field_type": "money"},
        {"key": "opened", "field_type": "date"},
        {"key": "visit_at", "field_type": "datetime"},
        {"key": "delivery", "field_type": "boolean"},
        {"key": "cuisines", "field_type": "multi_choice", "choices": [{"value": "川"}, {"value": "粤"}]},
        {"key": "remark", "field_type": "text", "searchable": True},
    ):
        field_definition_create(tenant=org.tenant, label_zh=spec["key"], **spec)


DATA = [
    {
        "seats": 10,
        "avg": 35.5,
        "fee": "100",
        "opened": "2024-01-01",
        "visit_at": "2026-01-01T09:00:00+08:00",
        "delivery": True,
        "cuisines": ["川"],
        "remark": "靠近地铁站",
    },
    {
        "seats": 80,
        "avg": 120,
        "fee": {"amount": "2500.5", "currency": "CNY"},
        "opened": "2025-06-30",
        "delivery": False,
        "cuisines": ["川", "粤"],
        "remark": "商场三楼",
    },
    {"seats": 200, "opened": "2026-02-01", "visit_at": "2026-03-01T09:00:00Z", "remark": "地铁口"},
]


def _leads(org: Any, api_as: Any) -> list[int]:
    api = api_as(org.admin)
    out = []
    for i, cf in enumerate(DATA):
        r = api.post("/api/v1/leads", {"name": f"店{i}", "custom_fields": cf})
        assert r.status_code == 201, r.content
        out.append(r.json()["id"])
    return out


def test_lead_filters_ranges_contains_and_sorting(org, api_as):
    _fields(org)
    ids = _leads(org, api_as)
    api = api_as(org.bd1)  # a BD: public leads of their pool

    def found(**params: str) -> list[int]:
        r = api.get("/api/v1/leads", params)
        assert r.status_code == 200, r.content
        return [x["id"] for x in r.json()["items"]]

    assert sorted(found(cf_seats__gte="50")) == [ids[1], ids[2]]
    assert found(cf_seats__gte="50", cf_seats__lt="100") == [ids[1]]
    assert found(cf_avg__lte="50") == [ids[0]]
    assert found(cf_fee__gt="1000") == [ids[1]]
    assert sorted(found(cf_opened__gte="2025-01-01")) == [ids[1], ids[2]]
    assert found(cf_visit_at__lt="2026-01-01T02:00:00Z") == [ids[0]]  # 09:00+08:00 is 01:00 UTC
    assert found(cf_delivery="false") == [ids[1]]
    assert sorted(found(cf_cuisines="川")) == [ids[0], ids[1]]
    assert sorted(found(cf_remark__contains="地铁")) == [ids[0], ids[2]]
    assert found(cf_remark="商场三楼") == [ids[1]]
    assert found(ordering="-cf_seats") == [ids[2], ids[1], ids[0]]
    assert found(ordering="cf_fee") == [ids[0], ids[1], ids[2]]  # no value: last
    assert found(ordering="cf_opened", cf_seats__gte="50") == [ids[1], ids[2]]
    for params, field in (
        ({"cf_seats__gte": "x"}, "cf_seats"),
        ({"cf_delivery__gte": "1"}, "cf_delivery"),
        ({"cf_opened__lt": "2025-13-01"}, "cf_opened"),
        ({"ordering": "cf_cuisines"}, "ordering"),
    ):
        r = api.get("/api/v1/leads", params)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, params


def test_rebuild_writes_the_same_index_rows_as_the_writes(org, api_as):
    _fields(org)
    _leads(org, api_as)

    def rows() -> list[tuple[Any, ...]]:
        return sorted(
            CustomValue.objects.filter(tenant=org.tenant).values_list(
                "object_type", "field_key", "record_id", "value_text", "value_num", "is_unique"
            )
        )

    by_writes = rows()
    assert len(by_writes) == 8 + 8 + 4  # the multiple choice of two values has two rows
    custom_values_rebuild(tenant=org.tenant, object_type="lead")
    assert rows() == by_writes


def test_filters_use_the_side_index(org, api_as):
    """Each filter first reads its matching ids from CustomValue (indexed); a selective one drives the
    list by those ids, never by a scan of the JSON column."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _fields(org)
    ids = _leads(org, api_as)
    with CaptureQueriesContext(connection) as ctx:
        r = api_as(org.admin).get("/api/v1/leads", {"cf_seats__gte": "50", "cf_opened__lt": "2026-01-01"})
    assert [x["id"] for x in r.json()["items"]] == [ids[1]]
    probes = [q["sql"] for q in ctx.captured_queries if "metadata_customvalue" in q["sql"]]
    assert len(probes) == 2 and "value_num" in probes[0] and "value_text" in probes[1]
    listing = [q["sql"] for q in ctx.captured_queries if "leads_lead" in q["sql"] and "LIMIT 50" in q["sql"]]
    assert listing and f'"leads_lead"."id" IN ({ids[1]})' in listing[0]
    assert "custom_data" not in listing[0].split("WHERE", 1)[1]


MANY = [
    {
        "seats": (i * 37) % 300,
        "avg": (i * 13) % 90 + 0.5,
        "opened": f"202{i % 6}-0{i % 9 + 1}-1{i % 10}",
        "remark": f"门店{i % 4}",
        "delivery": i % 3 == 0,
        "cuisines": ["川"] if i % 2 else ["粤", "川"],
    }
    for i in range(24)
]


def _plain(data: dict[str, Any], params: dict[str, str]) -> bool:
    """The plain filter, in Python, that every query plan must agree with."""
    import operator

    ops = {"gte": operator.ge, "lte": operator.le, "gt": operator.gt, "lt": operator.lt}
    for name, raw in params.items():
        key, _sep, op = name.removeprefix("cf_").partition("__")
        value = data.get(key)
        if value is None:
            return False
        if key == "cuisines":
            if raw not in value:
                return False
            continue
        if key == "delivery":
            if value != (raw == "true"):
                return False
            continue
        want: Any = float(raw) if isinstance(value, (int, float)) else raw
        if not (ops[op](value, want) if op else value == want):
            return False
    return True


@pytest.mark.parametrize(
    "params",
    [
        {"cf_seats__gte": "100"},
        {"cf_seats__gte": "100", "cf_remark": "门店1"},
        {"cf_seats__lt": "150", "cf_avg__gt": "30", "cf_opened__gte": "2022-01-01"},
        {"cf_opened__lte": "2023-05-15", "cf_delivery": "true"},
        {"cf_cuisines": "粤", "cf_seats__gte": "40"},
        {"cf_seats": "74"},
        {"cf_remark": "门店9"},
    ],
)
def test_selective_and_row_checked_filters_give_the_plain_result(org, api_as, monkeypatch, params):
    """Driven by the side index's ids (all filters selective) or checked on each row's JSON (every filter
    broad: SELECTIVE_MAX 0), the list and count are exactly the plain filter's, in order."""
    from leadsea.metadata import selectors

    _fields(org)
    api = api_as(org.admin)
    ids = []
    for i, cf in enumerate(MANY):
        r = api.post("/api/v1/leads", {"name": f"店{i}", "custom_fields": cf})
        assert r.status_code == 201, r.content
        ids.append(r.json()["id"])
    expected = [lead_id for lead_id, cf in zip(ids, MANY, strict=True) if _plain(cf, params)][::-1]
    results = []
    for selective_max in (2000, 3, 0):
        monkeypatch.setattr(selectors, "SELECTIVE_MAX", selective_max)
        r = api.get("/api/v1/leads", {**params, "ordering": "created"})
        assert r.status_code == 200, r.content
        body = r.json()
        results.append(([x["id"] for x in body["items"]], body["count"], body["count_exact"]))
    assert results == [(expected, len(expected), True)] * 3


def test_count_stops_past_the_cap(org, api_as, monkeypatch):
    from leadsea.leads import api as leads_api

    _fields(org)
    _leads(org, api_as)
    api = api_as(org.admin)
    monkeypatch.setattr(leads_api, "COUNT_CAP", 2)
    body = api.get("/api/v1/leads", {"cf_seats__gte": "0", "page_size": "1"}).json()
    assert (len(body["items"]), body["count"], body["count_exact"]) == (1, 2, False)
    body = api.get("/api/v1/leads", {"cf_seats__gte": "50", "page_size": "1"}).json()
    assert (body["count"], body["count_exact"]) == (2, True)
    body = api.get("/api/v1/leads", {"cf_seats__gte": "0", "page": "3", "page_size": "1"}).json()
    assert (len(body["items"]), body["count"], body["count_exact"]) == (1, 3, True)


# --- property: tenant A's definitions never change tenant B ----------------------------------------

SAMPLES = {
    "text": "文本",
    "long_text": "长文本",
    "number": 3,
    "decimal": 1.5,
    "money": {"amount": "9.9"},
    "boolean": True,
    "date": "2026-02-03",
    "datetime": "2026-02-03T08:00:00Z",
    "choice": "Q",
    "multi_choice": ["Q"],
    "phone": "13800138000",
    "email": "a@example.com",
    "url": "https://example.com/x",
    "geo_point": {"lat": 30, "lng": 120},
    "reference": 1,
    "file": 1,
}
B_PAYLOADS: list[dict[str, Any]] = [
    {"code": "X1"},
    {"code": "X1", "price": {"amount": "-1"}},
    {"code": "X1", "price": "12.30"},
    {"code": "X1", "at": "2026-01-01T00:00:00"},
    {"code": "X1", "at": "tomorrow"},
    {"code": "X1", "spot": {"lat": 31.2, "lng": 121.5, "coord_sys": "bd09"}},
    {"code": "X1", "spot": {"lat": 100, "lng": 0}},
    {"code": "X1", "seats": 12},
    {"code": "X1", "seats": "many"},
    {"code": "X1", "extra": 1},
]

a_definition = st.fixed_dictionaries(
    {
        "key": st.one_of(
            st.sampled_from(["code", "price", "at", "spot", "seats", "extra"]),
            st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
        ),
        "field_type": st.sampled_from(FieldDefinition.Type.values),
        "required": st.booleans(),
        "unique": st.booleans(),
        "min_value": st.one_of(st.none(), st.integers(-5, 5)),
        "max_value": st.one_of(st.none(), st.integers(5, 50)),
        "max_length": st.one_of(st.none(), st.integers(1, 3)),
        "regex": st.sampled_from(["", r"\d+", r"[A-Z]\d"]),
        "filterable": st.booleans(),
    }
)


def _outcome(tenant: Any, payload: dict[str, Any]) -> Any:
    try:
        return ("ok", custom_data_validate(tenant=tenant, data=payload))
    except DomainError as exc:
        return ("error", exc.code, exc.field)


def _b_state(tenant: Any) -> Any:
    from leadsea.leads.models import Lead

    return (
        sorted(Lead.objects.filter(tenant=tenant).values_list("id", "custom_data")),
        sorted(
            CustomValue.objects.filter(tenant=tenant).values_list(
                "field_key", "record_id", "value_text", "value_num"
            )
        ),
        sorted(FieldDefinition.objects.filter(tenant=tenant).values_list("key", "field_type", "unique")),
    )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)
@given(definitions=st.lists(a_definition, min_size=1, max_size=5, unique_by=lambda d: d["key"]))
def test_definitions_of_one_tenant_never_change_anothers_validation_or_data(org, other_org, definitions):
    b = other_org.tenant
    if not FieldDefinition.objects.filter(tenant=b).exists():
        field_definition_create(
            tenant=b, key="code", label_zh="编码", field_type="text", unique=True, required=True
        )
        field_definition_create(tenant=b, key="price", label_zh="价格", field_type="money", min_value=0)
        field_definition_create(tenant=b, key="at", label_zh="时间", field_type="datetime")
        field_definition_create(tenant=b, key="spot", label_zh="位置", field_type="geo_point")
        lead_create(tenant=b, actor=other_org.admin, data={"name": "乙店", "custom_fields": {"code": "X0"}})
    stored = _b_state(b)
    payloads = B_PAYLOADS + [{"code": "X1", d["key"]: SAMPLES[d["field_type"]]} for d in definitions]
    before = [_outcome(b, p) for p in payloads]
    assert before[0][0] == "ok" and before[1][:2] == ("error", "invalid_custom_field")
    with transaction.atomic():
        for d in definitions:
            # An impossible combination (a unique boolean, ...) is refused: fine, and B is still untouched.
            with contextlib.suppress(DomainError):
                field_definition_create(
                    tenant=org.tenant,
                    label_zh=d["key"],
                    choices=[{"value": "Q"}] if d["field_type"] in ("choice", "multi_choice") else [],
                    **{**d, "regex": d["regex"] if d["field_type"] == "text" else ""},
                )
        # A writes a lead with its own values (same keys as B's, maybe the same unique value).
        with contextlib.suppress(DomainError):
            lead_create(
                tenant=org.tenant,
                actor=org.admin,
                data={
                    "name": "甲店",
                    "custom_fields": {
                        d["key"]: SAMPLES[d["field_type"]] for d in definitions if d["key"] == "code"
                    },
                },
            )
        assert [_outcome(b, p) for p in payloads] == before
        assert _b_state(b) == stored
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=True)
def test_bench_search_measures_and_cleans_up():
    """`leadsea bench search` at a small size: figures for the page, count and sort, and no row of its
    tenant left afterwards (the side index and the leads deleted set-based)."""
    from leadsea.bench import search
    from leadsea.core.tenancy_guard import unscoped
    from leadsea.leads.models import Lead
    from leadsea.tenancy.models import Tenant

    logs: list[str] = []
    options = {"records": 400, "queries": 3, "warmup": 1, "seed": 7, "keep": False, "tenant": ""}
    result = search.run(options, logs.append)
    assert result["records"] == 400 and result["custom_values"] == 1600
    assert result["page_p95_ms"] > 0 and result["avg_matches"] > 0
    assert any("deleted the custom values" in line for line in logs)
    with unscoped():
        assert not Tenant.objects.filter(slug__startswith="bench-search").exists()
        assert not CustomValue.objects.exists() and not Lead.objects.exists()
