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


# --- sorting by a custom field: walking the side index ------------------------------------------------


def _sort_fields(org: Any) -> None:
    for spec in (
        {"key": "seats", "field_type": "number"},
        {"key": "avg", "field_type": "decimal"},
        {"key": "fee", "field_type": "money"},
        {"key": "opened", "field_type": "date"},
        {"key": "visit_at", "field_type": "datetime"},
        {"key": "delivery", "field_type": "boolean"},
        {"key": "level", "field_type": "choice", "choices": [{"value": v} for v in "ABC"]},
        {"key": "remark", "field_type": "text", "searchable": True},
        {"key": "note", "field_type": "text", "filterable": False},  # not indexed: always the JSON sort
    ):
        field_definition_create(tenant=org.tenant, label_zh=spec["key"], **spec)


def _sort_leads(org: Any) -> list[tuple[int, dict[str, Any]]]:
    """36 leads, values with ties and gaps (every 5th lead has no seats, ...), a third of them private."""
    out = []
    for i in range(36):
        cf: dict[str, Any] = {
            "seats": (i * 7) % 11,
            "avg": round(((i * 5) % 13) / 4, 2),
            "fee": str((i * 3) % 8 * 10),
            "opened": f"2025-0{i % 7 + 1}-1{i % 3}",
            "visit_at": f"2026-01-0{i % 5 + 1}T0{i % 4}:00:00Z",
            "delivery": i % 2 == 0,
            "level": "ABC"[i % 3],
            "remark": f"门店{(i * 5) % 9}",
            "note": f"n{i % 4}",
        }
        for key, every in (("seats", 5), ("avg", 4), ("fee", 6), ("opened", 7), ("remark", 8), ("level", 9)):
            if i % every == 1:
                cf.pop(key)
        owner = [org.bd1, org.bd3, None][i % 3]
        lead = lead_create(
            tenant=org.tenant,
            actor=org.admin,
            data={"name": f"店{i}", "custom_fields": cf},
            owner_id=owner.user_id if owner else None,
        )
        out.append((lead.pk, lead.custom_data))
    return out


def _expected(leads: list[tuple[int, dict[str, Any]]], key: str, descending: bool, keep: Any) -> list[int]:
    """Sorted as documented: by the value (money by its amount), empty values last, ties by id."""

    def value(data: dict[str, Any]) -> Any:
        v = data.get(key)
        return float(v["amount"]) if isinstance(v, dict) else v

    valued = [(value(d), pk) for pk, d in leads if keep(pk, d) and value(d) is not None]
    empty = sorted((pk for pk, d in leads if keep(pk, d) and value(d) is None), reverse=descending)
    return [pk for _v, pk in sorted(valued, reverse=descending)] + empty


@pytest.mark.parametrize(
    ("member", "params"),
    [
        ("admin", {}),
        ("bd1", {}),
        ("bd1", {"cf_level": "A"}),
        ("admin", {"cf_seats__gte": "4", "cf_seats__lt": "9"}),
        ("bd1", {"cf_delivery": "true", "cf_opened__gte": "2025-03-01"}),
        ("admin", {"cf_remark__contains": "门店"}),
    ],
)
def test_sorting_walks_the_side_index_and_agrees_with_the_json_sort(org, api_as, monkeypatch, member, params):
    """Every page (at every offset, both directions, every sortable type) is the documented order within
    the member's scope and filters, whether read by walking the side index (probing, or hashing the
    equality filters), or, short of a page in the walk, by sorting the JSON values; and each way was
    taken."""
    from leadsea.leads.selectors import leads_visible
    from leadsea.metadata import selectors

    _sort_fields(org)
    leads = _sort_leads(org)
    membership = getattr(org, member)
    visible = set(leads_visible(tenant=org.tenant, membership=membership).values_list("pk", flat=True))
    api = api_as(membership)
    ways: list[tuple[str, bool]] = []
    real = selectors.SideIndexOrder._page_ids

    def spy(self: Any, qs: Any, low: int, high: int, *, walk: int, how: str) -> list[int]:
        ids = real(self, qs, low, high, walk=walk, how=how)
        ways.append((how, len(ids) == high - low))
        return ids

    monkeypatch.setattr(selectors.SideIndexOrder, "_page_ids", spy)
    # Filters matching more than 3 leads count as broad here (as 2,000+ would at scale): they are checked on
    # each walked entry. A selective one (SELECTIVE_MAX) sorts its few ids without a walk.
    monkeypatch.setattr(selectors, "SELECTIVE_MAX", 3)

    def sweep(keys: tuple[str, ...], sizes: tuple[int, ...]) -> None:
        for key in keys:
            for descending in (False, True):
                ordering = f"{'-' if descending else ''}cf_{key}"
                full = api.get("/api/v1/leads", {**params, "ordering": ordering, "page_size": "100"}).json()
                keep_ids = {x["id"] for x in full["items"]}
                assert keep_ids <= visible and full["count"] == len(keep_ids)
                expected = _expected(leads, key, descending, lambda pk, _d, keep=keep_ids: pk in keep)
                assert [x["id"] for x in full["items"]] == expected, (key, descending)
                for size in sizes:
                    pages = []
                    for page in range(1, len(expected) // size + 2):
                        r = api.get(
                            "/api/v1/leads",
                            {**params, "ordering": ordering, "page_size": str(size), "page": str(page)},
                        )
                        assert r.status_code == 200, r.content
                        pages += [x["id"] for x in r.json()["items"]]
                    assert pages == expected, (key, descending, size)

    every = ("seats", "avg", "fee", "opened", "visit_at", "delivery", "level", "remark", "note")
    sweep(every, (5,))
    sweep(("seats", "remark"), (2, 7))
    assert ("probe", True) in ways and ("probe", False) in ways  # full pages walked; the tails fell back
    if not params:
        assert sum(full for _how, full in ways) > len(ways) // 2
    # Small windows: the probing walk often comes up short, the hashed one (equality filters) takes over
    # or the JSON sort does; the pages stay the same.
    ways.clear()
    for name, value in (("WALK_PROBED", 2), ("WALK_HASHED", 9), ("WALK_RECORDS", 4), ("WALK_FACTOR", 1)):
        monkeypatch.setattr(selectors, name, value)
    sweep(("seats", "fee", "level"), (1, 3))
    if "cf_level" in params or "cf_delivery" in params:
        assert ("hash", True) in ways and ("probe", False) in ways, ways
    # No walk at all: the JSON sort alone gives the same pages; and selective filters never walk.
    monkeypatch.setattr(selectors, "WALK_MAX", 0)
    sweep(("seats", "remark"), (3,))
    monkeypatch.setattr(selectors, "WALK_MAX", 100_000)
    monkeypatch.setattr(selectors, "SELECTIVE_MAX", 2000)
    ways.clear()
    sweep(("seats",), (4,))
    assert not ways if params and "cf_remark__contains" not in params else ways


def test_a_sorted_page_is_one_walk_of_the_side_index_and_one_read_of_the_page(org, api_as, monkeypatch):
    """The page's ids come from an ordered walk of the field's index entries, bounded, pruned by a filter
    on the sort field itself and limited to the page; the records are then read by id (no sort of the
    filtered set)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from leadsea.metadata import selectors

    monkeypatch.setattr(selectors, "SELECTIVE_MAX", 3)  # the filters below are broad, as at scale
    _sort_fields(org)
    leads = _sort_leads(org)
    api = api_as(org.admin)
    with CaptureQueriesContext(connection) as ctx:
        r = api.get("/api/v1/leads", {"ordering": "-cf_seats", "page_size": "5", "cf_seats__lt": "9"})
    expected = _expected(leads, "seats", True, lambda _pk, d: d.get("seats") is not None and d["seats"] < 9)
    assert [x["id"] for x in r.json()["items"]] == expected[:5]
    sqls = [q["sql"] for q in ctx.captured_queries]
    (walk,) = [q for q in sqls if "metadata_customvalue" in q and "w.v" in q]
    assert "value_num < 9.0 ORDER BY value_num DESC, record_id DESC LIMIT 10000" in walk, walk
    assert walk.rstrip().endswith("LIMIT 5 OFFSET 0")
    reads = [q for q in sqls if q.startswith('SELECT "leads_lead"."id"')]
    assert len(reads) == 1 and "ORDER BY" not in reads[0], reads
    assert reads[0].endswith(f'"leads_lead"."id" IN ({", ".join(map(str, expected[:5]))}))'), reads
    assert len([q for q in sqls if q.startswith('SELECT "leads_leadtag"')]) == 1  # tags prefetched once
    # With a broad equality filter on another field, the walk checks it in the index entry by entry.
    with CaptureQueriesContext(connection) as ctx:
        r = api.get("/api/v1/leads", {"ordering": "-cf_seats", "page_size": "2", "cf_level": "B"})
    expected = _expected(leads, "seats", True, lambda _pk, d: d.get("level") == "B")
    assert [x["id"] for x in r.json()["items"]] == expected[:2]
    (walk,) = [q["sql"] for q in ctx.captured_queries if "w.v" in q["sql"]]
    assert "f.field_key = 'level' AND f.value_text = 'B' AND f.record_id = w.record_id LIMIT 1) = 1" in walk


def test_a_sorted_queryset_reordered_or_reversed_later_is_read_as_asked(org, monkeypatch):
    """The walk serves only the order custom_ordering set: order_by(), reverse() or last() afterwards read
    the queryset as asked; values() too."""
    from leadsea.leads.selectors import leads_search
    from leadsea.metadata import selectors

    monkeypatch.setattr(selectors, "SELECTIVE_MAX", 3)
    _sort_fields(org)
    leads = _sort_leads(org)
    walked: list[int] = []
    real = selectors.SideIndexOrder._page_ids

    def spy(self: Any, *args: Any, **kwargs: Any) -> list[int]:
        walked.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(selectors.SideIndexOrder, "_page_ids", spy)
    qs = leads_search(tenant=org.tenant, membership=org.admin, ordering="-cf_seats")
    expected = _expected(leads, "seats", True, lambda _pk, _d: True)
    assert [x.pk for x in qs[:4]] == expected[:4] and walked
    walked.clear()
    by_name = sorted(leads, key=lambda x: (f"店{leads.index(x)}", x[0]))
    assert [x.pk for x in qs.order_by("name", "id")[:3]] == [pk for pk, _d in by_name[:3]]
    assert [x.pk for x in qs.reverse()[:3]] == expected[::-1][:3]
    last = qs.last()
    assert last is not None and last.pk == expected[-1]
    assert list(qs.values_list("pk", flat=True)[:4]) == expected[:4]
    assert walked == []


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
