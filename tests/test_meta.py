"""Field definitions: every field type valid and invalid (code + field), definition checks, uniqueness (also
under concurrent writers on PostgreSQL), the meta API with its audit rows, and field migrations in batches."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from leadsea.audit.models import ChangeLog
from leadsea.core.errors import Conflict, DomainError, FieldInvalid
from leadsea.leads.models import Lead
from leadsea.leads.services import lead_create
from leadsea.metadata.fieldjobs import field_definition_delete, field_definition_update, field_migration_run
from leadsea.metadata.models import CustomValue, FieldDefinition, FieldMigration
from leadsea.metadata.services import custom_data_validate, field_definition_create, file_upload

pytestmark = pytest.mark.django_db


def _define(org: Any, key: str, field_type: str, **attrs: Any) -> FieldDefinition:
    return field_definition_create(tenant=org.tenant, key=key, label_zh=key, field_type=field_type, **attrs)


def _check(org: Any, data: dict[str, Any]) -> Any:
    try:
        return custom_data_validate(tenant=org.tenant, data=data, existing={})
    except DomainError as exc:
        return (exc.code, exc.field)


def test_every_field_type_accepts_and_normalizes_valid_values(org):
    lead = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "店"})
    stored = file_upload(
        tenant=org.tenant,
        actor=org.admin,
        upload=SimpleUploadedFile("menu.pdf", b"%PDF-1", "application/pdf"),
    )
    _define(org, "t", "text", max_length=5, regex=r"[a-z]+")
    _define(org, "lt", "long_text")
    _define(org, "n", "number", min_value=0, max_value=100)
    _define(org, "d", "decimal")
    _define(org, "m", "money", min_value=0)
    _define(org, "b", "boolean")
    _define(org, "dt", "date")
    _define(org, "ts", "datetime")
    _define(org, "c", "choice", choices=[{"value": "A"}, {"value": "B"}])
    _define(org, "mc", "multi_choice", choices=[{"value": "x"}, {"value": "y"}])
    _define(org, "p", "phone")
    _define(org, "e", "email")
    _define(org, "u", "url")
    _define(org, "g", "geo_point")
    _define(org, "r", "reference", target="lead")
    _define(org, "f", "file")
    out = _check(
        org,
        {
            "t": " abc ",
            "lt": "很长的文字",
            "n": "42",
            "d": 1.25,
            "m": {"amount": "12.50", "currency": "usd"},
            "b": "是",
            "dt": "2026-02-03",
            "ts": "2026-02-03T08:00:00",  # no offset: the tenant's time zone (Asia/Shanghai)
            "c": "B",
            "mc": ["y", "x", "y"],
            "p": "138 0013 8000",
            "e": "kp@example.com",
            "u": "https://example.com/menu",
            "g": {"lat": 39.9, "lng": 116.4, "coord_sys": "gcj02"},
            "r": lead.pk,
            "f": stored.pk,
        },
    )
    assert out["t"] == "abc" and out["n"] == 42 and out["d"] == 1.25 and out["b"] is True
    assert out["m"] == {"amount": "12.5", "currency": "USD"}
    assert out["ts"] == "2026-02-03T00:00:00Z"  # stored UTC
    assert out["mc"] == ["x", "y"] and out["p"] == "+8613800138000"
    assert out["g"]["lat"] != 39.9 and abs(out["g"]["lat"] - 39.9) < 0.01  # GCJ-02 converted to WGS-84
    assert out["r"] == lead.pk and out["f"] == {"id": stored.pk, "name": "menu.pdf"}
    assert _check(org, {"m": 8})["m"] == {"amount": "8", "currency": "CNY"}  # CNY by default
    assert _check(org, {"ts": "2026-02-03T08:00:00+00:00"})["ts"] == "2026-02-03T08:00:00Z"


@pytest.mark.parametrize(
    ("field_type", "attrs", "value", "code"),
    [
        ("text", {"max_length": 3}, "abcd", "invalid_custom_field"),
        ("text", {"regex": r"\d+"}, "abc", "invalid_custom_field"),
        ("text", {}, 12, "invalid_custom_field"),
        ("long_text", {"max_length": 2}, "长长长", "invalid_custom_field"),
        ("number", {}, 1.5, "invalid_custom_field"),
        ("number", {"min_value": 0}, -1, "invalid_custom_field"),
        ("number", {"max_value": 10}, 11, "invalid_custom_field"),
        ("decimal", {}, "abc", "invalid_custom_field"),
        ("decimal", {}, "1e5000", "invalid_custom_field"),
        ("money", {}, {"amount": "1", "currency": "yuan"}, "invalid_custom_field"),
        ("money", {"min_value": 0}, {"amount": "-1"}, "invalid_custom_field"),
        ("money", {}, {"amt": 1}, "invalid_custom_field"),
        ("boolean", {}, "maybe", "invalid_custom_field"),
        ("date", {}, "2026-13-01", "invalid_custom_field"),
        ("datetime", {}, "yesterday", "invalid_custom_field"),
        ("choice", {"choices": [{"value": "A"}]}, "Z", "invalid_custom_field"),
        ("multi_choice", {"choices": [{"value": "A"}]}, ["A", "Z"], "invalid_custom_field"),
        ("phone", {}, "12", "invalid_phone"),
        ("email", {}, "not-an-email", "invalid_custom_field"),
        ("url", {}, "notaurl", "invalid_custom_field"),
        ("geo_point", {}, {"lat": 91, "lng": 0}, "invalid_custom_field"),
        ("geo_point", {}, {"lat": 1}, "invalid_custom_field"),
        ("geo_point", {}, {"lat": 1, "lng": 2, "coord_sys": "mars"}, "invalid_custom_field"),
        ("reference", {"target": "lead"}, 999999, "invalid_reference"),
        ("reference", {"target": "lead"}, "abc", "invalid_custom_field"),
        ("file", {}, 999999, "invalid_file"),
        ("text", {"required": True}, "", "required"),
    ],
)
def test_every_field_type_rejects_bad_values_with_code_and_field(org, field_type, attrs, value, code):
    _define(org, "x", field_type, **attrs)
    got = _check(org, {"x": value})
    assert got[1] == "custom_fields.x", got
    if code == "invalid_phone":
        assert got[0] != "unknown_field"
    else:
        assert got[0] == code


@pytest.mark.parametrize(
    ("attrs", "field"),
    [
        ({"key": "Bad-Key", "field_type": "text"}, "key"),
        ({"key": "k", "field_type": "colour"}, "field_type"),
        ({"key": "k", "field_type": "choice"}, "choices"),
        ({"key": "k", "field_type": "text", "choices": [{"value": "a"}]}, "choices"),
        ({"key": "k", "field_type": "reference", "target": "nothing"}, "target"),
        ({"key": "k", "field_type": "text", "target": "lead"}, "target"),
        ({"key": "k", "field_type": "boolean", "unique": True}, "unique"),
        ({"key": "k", "field_type": "number", "min_value": 5, "max_value": 1}, "min_value"),
        ({"key": "k", "field_type": "text", "regex": "("}, "regex"),
        ({"key": "k", "field_type": "number", "default": "many"}, "default"),
        ({"key": "k", "field_type": "number", "searchable": True}, "searchable"),
    ],
)
def test_bad_definitions_name_the_attribute(org, attrs, field):
    with pytest.raises(FieldInvalid) as err:
        field_definition_create(tenant=org.tenant, label_zh="字段", **attrs)
    assert err.value.field == field
    assert not FieldDefinition.objects.filter(tenant=org.tenant).exists()


def test_unique_within_the_tenant_and_object(org, other_org):
    _define(org, "license", "text", unique=True)
    field_definition_create(
        tenant=other_org.tenant, key="license", label_zh="执照", field_type="text", unique=True
    )
    lead_create(tenant=org.tenant, actor=org.admin, data={"name": "甲", "custom_fields": {"license": "L1"}})
    with pytest.raises(Conflict) as err:
        lead_create(
            tenant=org.tenant, actor=org.admin, data={"name": "乙", "custom_fields": {"license": "L1"}}
        )
    assert err.value.code == "duplicate_value" and err.value.field == "custom_fields.license"
    assert Lead.objects.filter(tenant=org.tenant).count() == 1  # nothing half-written
    # Another tenant may hold the same value.
    lead_create(
        tenant=other_org.tenant,
        actor=other_org.admin,
        data={"name": "丙", "custom_fields": {"license": "L1"}},
    )
    # Updating a lead to its own value is no conflict; freeing the value lets another take it.
    first = Lead.objects.get(tenant=org.tenant)
    from leadsea.leads.services import lead_update

    lead_update(
        tenant=org.tenant,
        actor=org.admin,
        lead=first,
        data={
            "custom_fields": {
                "license": "L1",
            }
        },
    )
    lead_update(tenant=org.tenant, actor=org.admin, lead=first, data={"custom_fields": {"license": None}})
    lead_create(tenant=org.tenant, actor=org.admin, data={"name": "丁", "custom_fields": {"license": "L1"}})


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_unique_holds_under_concurrent_creates(org):
    _define(org, "license", "text", unique=True)
    barrier = threading.Barrier(8)
    results: list[str] = []

    def create(i: int) -> None:
        try:
            barrier.wait()
            lead_create(
                tenant=org.tenant,
                actor=org.admin,
                data={"name": f"店{i}", "custom_fields": {"license": "SAME"}},
            )
            results.append("ok")
        except Conflict as exc:
            results.append(exc.code)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1 and results.count("duplicate_value") == 7, results
    assert Lead.objects.filter(tenant=org.tenant).count() == 1
    assert CustomValue.objects.filter(tenant=org.tenant, field_key="license").count() == 1


def test_meta_api_crud_with_audit(org, api_as):
    admin = api_as(org.admin)
    r = admin.post("/api/v1/meta/objects", {"key": "brand", "label_zh": "品牌", "label_en": "Brand"})
    assert r.status_code == 201, r.content
    r = admin.post(
        "/api/v1/meta/objects/brand/fields",
        {"key": "hq_city", "label_zh": "总部城市", "field_type": "text", "searchable": True},
    )
    assert r.status_code == 201 and r.json()["key"] == "hq_city"
    r = admin.post(
        "/api/v1/meta/objects/lead/fields",
        {"key": "brand", "label_zh": "品牌", "field_type": "reference", "target": "brand"},
    )
    assert r.status_code == 201 and r.json()["target"] == "brand"
    objects = {o["key"]: o for o in admin.get("/api/v1/meta/objects").json()}
    assert objects["lead"]["relations"] == [{"field": "brand", "target": "brand"}]
    assert objects["brand"]["fields"] == 1
    assert [f["key"] for f in admin.get("/api/v1/meta/objects/brand/fields").json()] == ["hq_city"]
    r = admin.patch("/api/v1/meta/objects/brand/fields/hq_city", {"label_en": "HQ city", "help_text": "城市"})
    assert (
        r.status_code == 200 and r.json()["field"]["label_en"] == "HQ city" and r.json()["migration"] is None
    )
    r = admin.delete("/api/v1/meta/objects/brand/fields/hq_city")
    assert r.status_code == 202 and r.json()["action"] == "delete"
    assert admin.get("/api/v1/meta/objects/brand/fields").json() == []
    actions = list(
        ChangeLog.objects.filter(tenant=org.tenant, action__startswith="field.").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["field.create", "field.create", "field.delete", "field.update"]
    update = ChangeLog.objects.get(tenant=org.tenant, action="field.update")
    assert update.before == {"help_text": "", "label_en": ""} and update.after["label_en"] == "HQ city"
    assert ChangeLog.objects.filter(tenant=org.tenant, action="object_type.create").count() == 1
    # Errors: typed, with the field at fault.
    r = admin.post("/api/v1/meta/objects/brand/fields", {"key": "x", "label_zh": "x", "field_type": "colour"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "field_type"
    r = admin.post("/api/v1/meta/objects", {"key": "brand", "label_zh": "又一个"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_object"
    r = admin.post("/api/v1/meta/objects/nothing/fields", {"key": "x", "label_zh": "x", "field_type": "text"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "object_not_found"
    # Only admins change meta; everyone reads it.
    r = api_as(org.manager).post(
        "/api/v1/meta/objects/lead/fields", {"key": "y", "label_zh": "y", "field_type": "text"}
    )
    assert r.status_code == 403
    assert api_as(org.bd1).get("/api/v1/meta/objects/lead/fields").status_code == 200


def test_rename_migrates_values_in_batches_and_resumes(org, api_as):
    _define(org, "seats", "number")
    leads = [
        lead_create(
            tenant=org.tenant, actor=org.admin, data={"name": f"店{i}", "custom_fields": {"seats": i}}
        )
        for i in range(7)
    ]
    r = api_as(org.admin).patch("/api/v1/meta/objects/lead/fields/seats", {"key": "capacity"})
    assert r.status_code == 200, r.content
    job = FieldMigration.objects.get(tenant=org.tenant, pk=r.json()["migration"]["id"])
    job = field_migration_run(job=job, batch_size=3, max_batches=1)  # stopped after one batch
    assert job.status == "running" and job.processed == 3
    job = field_migration_run(job=job, batch_size=3)  # resumed from last_id
    assert job.status == "done" and job.processed == 7 and job.changed == 7
    for i, lead in enumerate(leads):
        assert Lead.objects.get(tenant=org.tenant, pk=lead.pk).custom_data == {"capacity": i}
    r = api_as(org.admin).get("/api/v1/leads", {"cf_capacity__gte": "5"})
    assert sorted(x["id"] for x in r.json()["items"]) == [leads[5].pk, leads[6].pk]
    assert not CustomValue.objects.filter(tenant=org.tenant, field_key="seats").exists()


def test_retype_converts_what_parses_and_reports_the_rest(org, api_as):
    _define(org, "size", "text")
    ok = lead_create(
        tenant=org.tenant, actor=org.admin, data={"name": "甲", "custom_fields": {"size": " 120 "}}
    )
    bad = lead_create(
        tenant=org.tenant, actor=org.admin, data={"name": "乙", "custom_fields": {"size": "大"}}
    )
    none = lead_create(tenant=org.tenant, actor=org.admin, data={"name": "丙"})
    r = api_as(org.admin).patch("/api/v1/meta/objects/lead/fields/size", {"field_type": "number"})
    job = FieldMigration.objects.get(tenant=org.tenant, pk=r.json()["migration"]["id"])
    job = field_migration_run(job=job, batch_size=2)
    assert (job.status, job.failed) == ("done", 1)
    assert job.failures == [{"id": bad.pk, "value": "大"}]
    assert Lead.objects.get(tenant=org.tenant, pk=ok.pk).custom_data == {"size": 120}
    assert Lead.objects.get(tenant=org.tenant, pk=bad.pk).custom_data == {}
    assert Lead.objects.get(tenant=org.tenant, pk=none.pk).custom_data == {}
    r = api_as(org.admin).get("/api/v1/leads", {"cf_size__lt": "200"})
    assert [x["id"] for x in r.json()["items"]] == [ok.pk]
    jobs = api_as(org.admin).get("/api/v1/meta/migrations").json()
    assert jobs[0]["status"] == "done" and jobs[0]["failed"] == 1


def test_delete_is_soft_then_the_job_removes_values_and_the_definition(org):
    defn = _define(org, "note", "text")
    lead = lead_create(
        tenant=org.tenant, actor=org.admin, data={"name": "甲", "custom_fields": {"note": "x"}}
    )
    job = field_definition_delete(tenant=org.tenant, actor=org.admin, defn=defn)
    with pytest.raises(FieldInvalid):  # gone from validation at once
        custom_data_validate(tenant=org.tenant, data={"note": "y"}, existing={})
    assert Lead.objects.get(tenant=org.tenant, pk=lead.pk).custom_data == {"note": "x"}
    with pytest.raises(Conflict):  # one migration of a field at a time
        field_definition_update(tenant=org.tenant, actor=org.admin, defn=defn, data={"label_zh": "改"})
    field_migration_run(job=job)
    assert Lead.objects.get(tenant=org.tenant, pk=lead.pk).custom_data == {}
    assert not FieldDefinition.objects.filter(tenant=org.tenant, key="note").exists()
    assert not CustomValue.objects.filter(tenant=org.tenant, field_key="note").exists()
    _define(org, "note", "number")  # the key is free again


def test_fields_migrate_command(org):
    from django.core.management import call_command

    _define(org, "seats", "text")
    lead_create(tenant=org.tenant, actor=org.admin, data={"name": "甲", "custom_fields": {"seats": "12"}})
    defn = FieldDefinition.objects.get(tenant=org.tenant, key="seats")
    field_definition_update(tenant=org.tenant, actor=org.admin, defn=defn, data={"field_type": "decimal"})
    call_command("fields", "migrate", "--batch-size", "10")
    assert Lead.objects.get(tenant=org.tenant).custom_data == {"seats": 12.0}
    assert FieldMigration.objects.get(tenant=org.tenant).status == "done"
