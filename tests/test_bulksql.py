"""Bulk writes (core.bulksql) and emit_many: the same rows as the one-by-one writes they replace, on SQLite
and PostgreSQL (COPY, UPDATE ... FROM json_to_recordset), tenant-scoped, and nothing left after a rollback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from leadsea.core import bulksql
from leadsea.events import plugins
from leadsea.events.models import OutboxEvent, TenantPlugin
from leadsea.events.services import emit, emit_many, plugin_configure
from leadsea.intake.models import FieldProvenance, IntakeSource
from leadsea.intake.services import source_get_or_create
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_create

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _source(org: Any) -> IntakeSource:
    return source_get_or_create(tenant=org.tenant, key="bulk", channel="push")


def test_insert_rows_writes_every_row_with_json_text_and_datetimes(org):
    lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "海底捞火锅"}, now=T0)
    source = _source(org)
    values: list[Any] = [
        "国贸店",
        {"lat": 39.9, "名": "海底捞"},
        ["+8613800138000"],
        None,
        'a "quoted"\ttab\nline',
    ]
    rows = [
        (org.tenant.pk, lead.pk, {f"f{i}": value}, source.pk, None, 40 + i, T0, i % 2 == 0, None)
        for i, value in enumerate(values)
    ]
    names = [
        "tenant_id",
        "lead_id",
        "given",
        "source_id",
        "record_id",
        "trust",
        "at",
        "verified_by_bd",
        "actor_id",
    ]
    bulksql.insert_rows(FieldProvenance, names, rows)
    got = list(FieldProvenance.objects.filter(tenant=org.tenant, lead=lead, source=source).order_by("trust"))
    # JSON round trip, Chinese, nested, null, control characters
    assert [p.given for p in got] == [{f"f{i}": value} for i, value in enumerate(values)]
    assert [p.trust for p in got] == [40, 41, 42, 43, 44]
    assert all(p.at == T0 for p in got)
    assert [p.verified_by_bd for p in got] == [True, False, True, False, True]


def test_insert_rows_rolls_back_with_the_transaction(org):
    lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "海底捞火锅"}, now=T0)
    source = _source(org)
    names = ["tenant_id", "lead_id", "given", "source_id", "trust", "at", "verified_by_bd"]
    with pytest.raises(RuntimeError), transaction.atomic():
        bulksql.insert_rows(
            FieldProvenance, names, [(org.tenant.pk, lead.pk, {"name": "x"}, source.pk, 1, T0, False)]
        )
        assert FieldProvenance.objects.filter(tenant=org.tenant, source=source, trust=1).count() == 1
        raise RuntimeError
    assert not FieldProvenance.objects.filter(tenant=org.tenant, source=source, trust=1).exists()


def test_update_rows_changes_only_the_tenants_rows(org, other_org):
    mine = [
        lead_create(tenant=org.tenant, actor=org.admin, data={"name": f"店{i}"}, now=T0) for i in range(3)
    ]
    theirs = lead_create(tenant=other_org.tenant, actor=other_org.admin, data={"name": "别家"}, now=T0)
    later = datetime(2026, 3, 3, 8, 30, tzinfo=UTC)
    rows = [
        (mine[0].pk, "新名字", ["+8613800138000"], 31.25, later),
        (mine[2].pk, "另一个", [], None, later),
        (theirs.pk, "不该变", ["+8613900139000"], 1.0, later),  # another tenant's id: untouched
    ]
    bulksql.update_rows(Lead, org.tenant.pk, ["name", "phones", "lat", "updated_at"], rows)
    a, b, c = (Lead.objects.get(tenant=org.tenant, pk=x.pk) for x in mine)
    assert (a.name, a.phones, a.lat, a.updated_at) == ("新名字", ["+8613800138000"], 31.25, later)
    assert (b.name, b.updated_at) == ("店1", mine[1].updated_at)
    assert (c.name, c.phones, c.lat) == ("另一个", [], None)
    other = Lead.objects.get(tenant=other_org.tenant, pk=theirs.pk)
    assert (other.name, other.phones) == ("别家", [])


def test_emit_many_writes_what_emit_writes_in_order(org):
    emit(
        tenant=org.tenant, type="lead.created", payload={"lead_id": 1, "at": T0}, actor=org.admin.user, now=T0
    )
    ids = emit_many(
        tenant=org.tenant,
        events=[("lead.created", {"lead_id": 2, "at": T0}), ("lead.merged", {"lead_id": 3, "名": "店"})],
        actor=org.admin.user_id,
        now=T0,
    )
    one, two, three = OutboxEvent.objects.filter(tenant=org.tenant).order_by("id")
    assert ids == [two.pk, three.pk]
    assert (two.type, three.type) == ("lead.created", "lead.merged")
    assert (
        two.payload == {"lead_id": 2, "at": "2026-03-02T02:00:00Z"} and one.payload["at"] == two.payload["at"]
    )
    assert three.payload == {"lead_id": 3, "名": "店"}
    assert {e.actor_id for e in (one, two, three)} == {org.admin.user_id}
    assert two.occurred_at == T0 and two.xact == one.xact  # one transaction, one feed position
    assert emit_many(tenant=org.tenant, events=[]) == []


def test_emit_many_in_a_rolled_back_transaction_leaves_no_row(org):
    with pytest.raises(RuntimeError), transaction.atomic():
        emit_many(tenant=org.tenant, events=[("lead.created", {"lead_id": i}) for i in range(1500)])
        assert OutboxEvent.objects.filter(tenant=org.tenant).count() == 1500  # more than one INSERT chunk
        raise RuntimeError
    assert not OutboxEvent.objects.filter(tenant=org.tenant).exists()


class _Seen(plugins.PluginConfig):
    """A plugin registered in code that records the events it is handed."""

    name = "bulk-seen"
    calls: list[tuple[str, int, dict[str, Any]]] = []

    @staticmethod
    def handle(event: plugins.DomainEvent, settings: dict[str, Any]) -> None:
        _Seen.calls.append((event.type, event.id, event.payload))

    event_handlers = {"*": handle}


def test_emit_many_runs_plugin_handlers_after_commit_reading_the_enabled_plugins_once(
    org, django_capture_on_commit_callbacks
):
    _Seen.calls = []
    plugins.register(_Seen)
    try:
        plugin_configure(tenant=org.tenant, actor=org.admin, name="bulk-seen", enabled=True, now=T0)
        with django_capture_on_commit_callbacks() as callbacks:
            ids = emit_many(
                tenant=org.tenant,
                events=[("lead.created", {"lead_id": i, "at": T0}) for i in range(40)],
                now=T0,
            )
        assert _Seen.calls == [] and len(callbacks) == 1  # nothing before commit; one callback for the batch
        with CaptureQueriesContext(connection) as queries:
            callbacks[0]()
        reads = [q for q in queries.captured_queries if TenantPlugin._meta.db_table in q["sql"]]
        assert len(reads) == 1  # the tenant's enabled plugins, read once for 40 events
        assert [(t, i) for t, i, _p in _Seen.calls] == [("lead.created", x) for x in ids]
        assert _Seen.calls[0][2] == {"lead_id": 0, "at": "2026-03-02T02:00:00Z"}  # as the outbox stores it
    finally:
        plugins.unregister(_Seen.name)


def test_insert_objects_writes_what_bulk_create_writes(org):
    """Records (JSON, choices, datetimes, foreign keys, nulls) through insert_objects and through the ORM's
    bulk_create read back the same, ids set; on PostgreSQL through COPY, with ids from the sequence or
    reserved beforehand."""
    from leadsea.intake.models import IntakeRecord

    source = _source(org)

    def build(i: int, prefix: str) -> IntakeRecord:
        return IntakeRecord(
            tenant=org.tenant,
            source=source,
            external_id=f"{prefix}{i}",
            submitted_by=org.admin.user if i % 2 else None,
            received_at=T0,
            updated_at=T0,
            raw={"name": f"店{i}", "tab": "a\tb", "nested": [1, {"k": None}]},
            normalized={"name": f"店{i}"},
            payload_hash=f"h{i}",
            status=IntakeRecord.Status.ERROR if i == 2 else IntakeRecord.Status.PENDING,
            error_code="invalid_phone" if i == 2 else "",
            line=i or None,
        )

    ours = [build(i, "ours") for i in range(3)]
    bulksql.insert_objects(ours)
    theirs = IntakeRecord.objects.bulk_create([build(i, "orm") for i in range(3)])
    assert all(o.pk for o in ours) and len({o.pk for o in ours}) == 3
    fields = [f.attname for f in IntakeRecord._meta.concrete_fields if f.attname not in ("id", "external_id")]

    def read(objs: list[IntakeRecord]) -> list[dict[str, Any]]:
        rows = IntakeRecord.objects.filter(tenant=org.tenant, pk__in=[o.pk for o in objs]).order_by("pk")
        return list(rows.values(*fields))

    mine = read(ours)
    assert mine == read(theirs)
    assert mine[2]["status"] == "error" and mine[1]["submitted_by_id"] == org.admin.user_id
    assert mine[0]["line"] is None and mine[0]["raw"]["tab"] == "a\tb"
    if connection.vendor == "postgresql":
        reserved = bulksql.reserve_ids(IntakeRecord, 2)
        later = [build(5, "later"), build(6, "later")]
        for obj, pk in zip(later, reserved, strict=True):
            obj.pk = pk
        bulksql.insert_objects(later)
        stored = IntakeRecord.objects.filter(tenant=org.tenant, external_id__startswith="later")
        assert sorted(stored.values_list("pk", flat=True)) == reserved
