"""Switching `unique` on an existing field: refused by name while stored values collide (nothing changes),
enforced at once otherwise (also for a field that had no index rows, and for custom records), off always
allowed, audited; and, on PostgreSQL with real threads, no writer that read the old definition slips past
the switch."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.utils import translation

from leadsea.audit.models import ChangeLog
from leadsea.core.errors import Conflict, DomainError, FieldInvalid
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_create, lead_update
from leadsea.metadata import fieldjobs, values
from leadsea.metadata.fieldjobs import UniqueConflict, field_definition_update
from leadsea.metadata.models import CustomValue, FieldDefinition
from leadsea.metadata.services import (
    field_definition_create,
    object_type_create,
    record_create,
    record_delete,
)

pytestmark = pytest.mark.django_db


def _define(org: Any, key: str, field_type: str = "text", **attrs: Any) -> FieldDefinition:
    return field_definition_create(
        tenant=org.tenant, actor=org.admin, key=key, label_zh=key, field_type=field_type, **attrs
    )


def _lead(org: Any, **custom: Any) -> Lead:
    return lead_create(tenant=org.tenant, actor=org.admin, data={"name": "店", "custom_fields": custom})


def _switch(org: Any, defn: FieldDefinition, on: bool, **extra: Any) -> FieldDefinition:
    changed, job = field_definition_update(
        tenant=org.tenant, actor=org.admin, defn=defn, data={"unique": on, **extra}
    )
    assert job is None  # the index rows are in line at once, no migration job
    return changed


def _flags(org: Any, key: str, object_type: str = "lead") -> list[bool]:
    return list(
        CustomValue.objects.filter(tenant=org.tenant, object_type=object_type, field_key=key)
        .order_by("record_id")
        .values_list("is_unique", flat=True)
    )


def _audits(org: Any, defn: FieldDefinition) -> list[ChangeLog]:
    return list(
        ChangeLog.objects.filter(
            tenant=org.tenant, action="field.update", object_type="fielddefinition", object_id=defn.pk
        ).order_by("id")
    )


def test_unique_on_without_duplicates_is_enforced_from_then_on_and_audited(org):
    defn = _define(org, "license")
    a, _b, _c = _lead(org, license="L1"), _lead(org, license="L2"), _lead(org)
    assert _flags(org, "license") == [False, False]
    changed = _switch(org, defn, True)
    assert changed.unique and FieldDefinition.objects.get(tenant=org.tenant, pk=defn.pk).unique
    assert _flags(org, "license") == [True, True]
    with pytest.raises(Conflict) as err:
        _lead(org, license="L1")
    assert (err.value.code, err.value.field) == ("duplicate_value", "custom_fields.license")
    with pytest.raises(Conflict):
        lead_update(tenant=org.tenant, actor=org.admin, lead=_c, data={"custom_fields": {"license": "L2"}})
    lead_update(tenant=org.tenant, actor=org.admin, lead=a, data={"custom_fields": {"license": "L1"}})
    (row,) = _audits(org, defn)
    assert row.before == {"unique": False} and row.after == {"unique": True}
    assert row.actor_id == org.admin.user_id


def test_unique_on_with_duplicates_names_them_and_changes_nothing(org, other_org):
    defn = _define(org, "license")
    for value in ["L1", "L1", "L1", "L2", "L2", "L3"]:
        _lead(org, license=value)
    # Another tenant's values never count.
    field_definition_create(tenant=other_org.tenant, key="license", label_zh="执照", field_type="text")
    lead_create(
        tenant=other_org.tenant,
        actor=other_org.admin,
        data={"name": "乙", "custom_fields": {"license": "L3"}},
    )
    with translation.override("en"), pytest.raises(UniqueConflict) as err:
        _switch(org, defn, True)
    exc = err.value
    assert (exc.code, exc.field, exc.status) == ("unique_conflict", "unique", 409)
    assert exc.duplicates == [("L1", 3), ("L2", 2)] and exc.total == 2
    assert "license" in exc.message and "L1 (3 records)" in exc.message and "L2 (2 records)" in exc.message
    assert not FieldDefinition.objects.get(tenant=org.tenant, pk=defn.pk).unique
    assert _flags(org, "license") == [False] * 6
    assert _audits(org, defn) == []
    _lead(org, license="L3")  # still not unique


def test_many_duplicates_are_counted_with_a_few_examples(org):
    defn = _define(org, "code", "number")
    for i in range(8):
        _lead(org, code=i)
        _lead(org, code=i)
    _lead(org, code=7)
    with pytest.raises(UniqueConflict) as err:
        _switch(org, defn, True)
    assert err.value.total == 8 and len(err.value.duplicates) == 5
    assert err.value.duplicates[0] == ("7", 3)


def test_a_field_without_index_rows_is_checked_on_the_stored_values(org):
    """Not filterable, not searchable: no index rows until it turns unique; then they are built, flagged."""
    defn = _define(org, "vat", filterable=False)
    _lead(org, vat="V1")
    _lead(org, vat="V1")
    _lead(org, vat="V2")
    assert _flags(org, "vat") == []
    with pytest.raises(UniqueConflict) as err:
        _switch(org, defn, True)
    assert err.value.duplicates == [("V1", 2)]
    assert _flags(org, "vat") == [] and not FieldDefinition.objects.get(tenant=org.tenant, pk=defn.pk).unique
    first = Lead.objects.filter(tenant=org.tenant, custom_data__vat="V1").order_by("id").first()
    assert first is not None
    lead_update(tenant=org.tenant, actor=org.admin, lead=first, data={"custom_fields": {"vat": "V3"}})
    changed = _switch(org, FieldDefinition.objects.get(tenant=org.tenant, pk=defn.pk), True)
    assert _flags(org, "vat") == [True, True, True]
    with pytest.raises(Conflict):
        _lead(org, vat="V2")
    # Off again: nothing else indexes the field, its rows go; duplicates are welcome again.
    _switch(org, changed, False)
    assert _flags(org, "vat") == []
    _lead(org, vat="V2")


def test_unique_off_always_works_and_frees_the_values(org):
    defn = _define(org, "license", unique=True)
    _lead(org, license="L1")
    changed = _switch(org, defn, False)
    assert not changed.unique and _flags(org, "license") == [False]
    _lead(org, license="L1")  # a duplicate is fine now
    assert _flags(org, "license") == [False, False]
    (row,) = _audits(org, defn)
    assert row.before == {"unique": True} and row.after == {"unique": False}
    # And on again is refused now that two leads hold L1.
    with pytest.raises(UniqueConflict):
        _switch(org, changed, True)


def test_unique_on_a_custom_objects_records(org):
    brand = object_type_create(tenant=org.tenant, actor=org.admin, key="brand", label_zh="品牌")
    defn = field_definition_create(
        tenant=org.tenant,
        actor=org.admin,
        object_type="brand",
        key="code",
        label_zh="编码",
        field_type="text",
    )
    made = [
        record_create(tenant=org.tenant, actor=org.admin, object_type=brand, data={"code": code})
        for code in ("B1", "B1", "B2")
    ]
    # A lead field of the same key holds the same values: another object, no conflict.
    _define(org, "code")
    _lead(org, code="B2")
    with pytest.raises(UniqueConflict) as err:
        _switch(org, defn, True)
    assert err.value.duplicates == [("B1", 2)]
    record_delete(tenant=org.tenant, actor=org.admin, record=made[1])
    _switch(org, FieldDefinition.objects.get(tenant=org.tenant, pk=defn.pk), True)
    assert _flags(org, "code", "brand") == [True, True]
    with pytest.raises(Conflict) as dup:
        record_create(tenant=org.tenant, actor=org.admin, object_type=brand, data={"code": "B2"})
    assert dup.value.code == "duplicate_value"
    assert _flags(org, "code") == [False]  # the lead field is untouched


def test_refusals_name_the_attribute(org):
    defn = _define(org, "flag", "boolean")
    with pytest.raises(FieldInvalid) as err:
        _switch(org, defn, True)
    assert err.value.field == "unique"
    text = _define(org, "license")
    with pytest.raises(FieldInvalid) as err:
        field_definition_update(
            tenant=org.tenant, actor=org.admin, defn=text, data={"unique": True, "key": "licence"}
        )
    assert (err.value.code, err.value.field) == ("one_change_at_a_time", "unique")
    with pytest.raises(FieldInvalid) as err:
        field_definition_update(tenant=org.tenant, actor=org.admin, defn=text, data={"unique": None})
    assert err.value.field == "unique"
    object_type_create(tenant=org.tenant, actor=org.admin, key="hotel", label_zh="酒店", kind="lead_type")
    link = FieldDefinition.objects.get(tenant=org.tenant, object_type="hotel", key="lead")
    with pytest.raises(DomainError) as err:
        field_definition_update(tenant=org.tenant, actor=org.admin, defn=link, data={"unique": False})
    assert (err.value.code, err.value.field) == ("field_protected", "unique")
    with pytest.raises(DomainError) as err:
        field_definition_update(tenant=org.tenant, actor=org.hq, defn=text, data={"unique": True})
    assert err.value.status == 403
    assert not FieldDefinition.objects.get(tenant=org.tenant, pk=text.pk).unique


def test_a_duplicate_written_between_the_check_and_the_lock_is_caught_by_the_index(org, monkeypatch):
    """The first look finds nothing (as if the duplicate committed just after it): flagging the rows hits the
    partial unique index, and the duplicate is named then; nothing changes."""
    defn = _define(org, "license")
    _lead(org, license="L1")
    _lead(org, license="L1")
    real = fieldjobs.unique_duplicates
    calls: list[bool] = []

    def first_look_misses(**kwargs: Any) -> Any:
        calls.append(kwargs["from_index"])
        return ([], 0) if len(calls) == 1 else real(**kwargs)

    monkeypatch.setattr(fieldjobs, "unique_duplicates", first_look_misses)
    with pytest.raises(UniqueConflict) as err:
        _switch(org, defn, True)
    assert err.value.duplicates == [("L1", 2)] and calls == [True, True]
    assert not FieldDefinition.objects.get(tenant=org.tenant, pk=defn.pk).unique and _flags(
        org, "license"
    ) == [False, False]


def test_api_patch_unique(org, api_as):
    admin = api_as(org.admin)
    _define(org, "license")
    _lead(org, license="L1")
    _lead(org, license="L1")
    url = "/api/v1/meta/objects/lead/fields/license"
    r = admin.patch(url, {"unique": True})
    assert r.status_code == 409, r.content
    error = r.json()["error"]
    assert error["code"] == "unique_conflict" and error["field"] == "unique" and "L1" in error["message"]
    assert admin.get("/api/v1/meta/objects/lead/fields").json()[0]["unique"] is False
    for lead in Lead.objects.filter(tenant=org.tenant)[:1]:
        lead_update(tenant=org.tenant, actor=org.admin, lead=lead, data={"custom_fields": {"license": "L9"}})
    r = admin.patch(url, {"unique": True})
    assert r.status_code == 200, r.content
    assert r.json()["field"]["unique"] is True and r.json()["migration"] is None
    r = admin.post("/api/v1/leads", {"name": "丙", "custom_fields": {"license": "L9"}})
    assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_value"
    r = admin.patch(url, {"unique": False})
    assert r.status_code == 200 and r.json()["field"]["unique"] is False


# --- concurrent writers (PostgreSQL) -------------------------------------------------------------------


def _run_into(out: dict[str, Any], name: str, target: Any) -> None:
    try:
        out[name] = target()
    except DomainError as exc:
        out[name] = exc.code
    except Exception as exc:  # a deadlock or any other surprise fails the test, by name
        out[name] = f"error: {exc!r}"
    finally:
        connection.close()  # this thread's own connection


def _in_thread(target: Any, out: dict[str, Any], name: str) -> threading.Thread:
    thread = threading.Thread(target=_run_into, args=(out, name, target), name=name)
    thread.start()
    return thread


def _slow_after_reading_definitions(monkeypatch: Any, slow: threading.Event, seconds: float) -> None:
    """The thread named "slow" pauses after its index sync read the definitions (and, with the writers'
    lock, after taking it): the widest window for a switch of `unique` to pass it."""
    real = values._definitions

    def definitions(*args: Any) -> Any:
        out = real(*args)
        if threading.current_thread().name == "slow":
            slow.set()
            time.sleep(seconds)
        return out

    monkeypatch.setattr(values, "_definitions", definitions)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("on", [True, False])
def test_a_writer_that_read_the_old_definition_does_not_slip_past_the_switch(org, monkeypatch, on):
    """Writer W has read the definitions (unique off, or on) and pauses before writing its index row; the
    switch runs meanwhile. Without the writers' lock the switch would flag (or unflag) the existing rows and
    commit, and W's row would land with the old flag: a duplicate beside a unique field, or a stale unique
    row refusing a legitimate value. With it, the switch waits for W and then includes W's row."""
    defn = _define(org, "license", unique=not on)
    slow = threading.Event()
    _slow_after_reading_definitions(monkeypatch, slow, 0.6)
    out: dict[str, Any] = {}

    w = _in_thread(lambda: _lead(org, license="SAME").pk, out, "slow")
    assert slow.wait(5)
    s = _in_thread(lambda: _switch(org, defn, on).unique, out, "switch")
    s.join(10)
    w.join(10)
    assert isinstance(out["slow"], int) and out["switch"] is on, out
    assert _flags(org, "license") == [on]
    # A second writer now sees the switched field: refused when unique, welcome when not.
    _in_thread(lambda: _lead(org, license="SAME").pk, out, "w2").join(10)
    if on:
        assert out["w2"] == "duplicate_value", out
    else:
        assert isinstance(out["w2"], int), out
    assert Lead.objects.filter(tenant=org.tenant, custom_data__license="SAME").count() == (1 if on else 2)
    assert set(_flags(org, "license")) == {on}


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_record_writer_with_definitions_read_before_the_switch_sees_it(org, monkeypatch):
    """record_create reads the definitions first and hands them to the index sync: the sync re-reads which
    fields are unique under the writers' lock, so a switch that committed in between is obeyed."""
    from leadsea.metadata import services
    from leadsea.metadata.selectors import object_type_get

    object_type_create(tenant=org.tenant, actor=org.admin, key="brand", label_zh="品牌")
    brand = object_type_get(tenant=org.tenant, key="brand")
    defn = field_definition_create(
        tenant=org.tenant,
        actor=org.admin,
        object_type="brand",
        key="code",
        label_zh="编码",
        field_type="text",
    )
    record_create(tenant=org.tenant, actor=org.admin, object_type=brand, data={"code": "B1"})
    validated = threading.Event()
    switched = threading.Event()
    real = services.custom_data_validate

    def validate(**kwargs: Any) -> Any:
        result = real(**kwargs)
        if threading.current_thread().name == "slow-writer":
            validated.set()
            switched.wait(10)  # the definitions are in hand; let the switch commit now
        return result

    monkeypatch.setattr(services, "custom_data_validate", validate)
    out: dict[str, Any] = {}

    def writer() -> Any:
        return record_create(tenant=org.tenant, actor=org.admin, object_type=brand, data={"code": "B1"}).pk

    w = _in_thread(writer, out, "slow-writer")
    assert validated.wait(5)
    s = _in_thread(lambda: _switch(org, defn, True).unique, out, "switch")
    s.join(10)
    switched.set()
    w.join(10)
    assert out == {"switch": True, "slow-writer": "duplicate_value"}, out
    assert _flags(org, "code", "brand") == [True]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_switch_under_eight_concurrent_writers_keeps_the_index_true(org):
    """Eight writers race the switch with one shared value: whatever order they land in, afterwards the
    field is unique with at most one holder of the value (the others refused), or the switch was refused
    naming it; every index row carries the definition's flag."""
    for round_ in range(3):
        key = f"code{round_}"
        defn = _define(org, key)
        barrier = threading.Barrier(9)
        out: dict[str, Any] = {}

        def write(i: int, key: str = key, barrier: threading.Barrier = barrier) -> Any:
            barrier.wait()
            time.sleep(0.002 * i)
            return _lead(org, **{key: "SAME"}).pk

        def switch(defn: FieldDefinition = defn, barrier: threading.Barrier = barrier) -> Any:
            barrier.wait()
            return _switch(org, defn, True).unique

        threads = [_in_thread(lambda i=i: write(i), out, f"w{i}") for i in range(8)]
        threads.append(_in_thread(switch, out, "switch"))
        for t in threads:
            t.join(30)
        assert not [v for v in out.values() if str(v).startswith("error")], out
        unique = FieldDefinition.objects.get(tenant=org.tenant, pk=defn.pk).unique
        holders = Lead.objects.filter(tenant=org.tenant, **{f"custom_data__{key}": "SAME"}).count()
        written = [v for k, v in out.items() if k != "switch" and isinstance(v, int)]
        assert holders == len(written)
        if unique:
            assert out["switch"] is True and holders <= 1, out
            assert sorted(v for k, v in out.items() if k != "switch" and not isinstance(v, int)) == [
                "duplicate_value"
            ] * (8 - holders)
        else:
            assert out["switch"] == "unique_conflict" and holders >= 2, out
        assert set(_flags(org, key)) <= {unique} and len(_flags(org, key)) == holders
