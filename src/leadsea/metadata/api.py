"""API of the metadata app: the meta API (objects and fields, admins change them) and records of custom
objects (admins, HQ and managers write; everyone in the tenant reads)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from leadsea.core.errors import NotFound
from leadsea.metadata.fieldjobs import field_definition_delete, field_definition_update
from leadsea.metadata.models import LEAD, CustomRecord, FieldDefinition, FieldMigration, ObjectType
from leadsea.metadata.selectors import (
    field_definition_get,
    field_definitions,
    field_migrations,
    object_key,
    object_type_get,
    object_types,
    record_get,
    records_search,
)
from leadsea.metadata.services import (
    field_definition_create,
    file_upload,
    object_type_create,
    record_create,
    record_delete,
    record_update,
)
from leadsea.tenancy.http import TenantRequest

meta_router = Router(tags=["meta"])
objects_router = Router(tags=["objects"])
MAX_PAGE_SIZE = 200


class ChoiceOut(Schema):
    value: str
    label_zh: str | None = None
    label_en: str | None = None


class FieldOut(Schema):
    id: int
    object: str
    key: str
    label_zh: str
    label_en: str
    field_type: str
    required: bool
    unique: bool
    target: str | None = Field(description="reference fields: the object referred to")
    choices: list[dict[str, Any]]
    default: Any
    min_value: float | None
    max_value: float | None
    max_length: int | None
    regex: str
    help_text: str
    searchable: bool
    filterable: bool
    position: int


class FieldIn(Schema):
    key: str
    label_zh: str
    label_en: str = ""
    field_type: str = Field(description=", ".join(FieldDefinition.Type.values))
    required: bool = False
    unique: bool = False
    target: str = Field("", description="reference fields: 'lead' or a custom object key")
    choices: list[dict[str, Any]] = Field(
        default_factory=list, description='[{"value", "label_zh", "label_en"}]'
    )
    default: Any = None
    min_value: float | None = None
    max_value: float | None = None
    max_length: int | None = None
    regex: str = ""
    help_text: str = ""
    searchable: bool = False
    filterable: bool = True
    position: int = 0


class FieldPatch(Schema):
    key: str | None = Field(None, description="Renames: a migration job moves the stored values")
    label_zh: str | None = None
    label_en: str | None = None
    field_type: str | None = Field(None, description="Changes the type: a migration job converts the values")
    required: bool | None = None
    unique: bool | None = Field(
        None,
        description="On: refused with 409 unique_conflict (naming duplicate values) while stored values "
        "collide; enforced at once otherwise. Off: always allowed",
    )
    choices: list[dict[str, Any]] | None = None
    default: Any = None
    min_value: float | None = None
    max_value: float | None = None
    max_length: int | None = None
    regex: str | None = None
    help_text: str | None = None
    searchable: bool | None = None
    filterable: bool | None = None
    position: int | None = None


class MigrationOut(Schema):
    id: int
    object: str
    field: str
    action: str
    params: dict[str, Any]
    status: str
    processed: int
    changed: int
    failed: int
    failures: list[dict[str, Any]]
    created_at: datetime
    finished_at: datetime | None


class FieldChangeOut(Schema):
    field: FieldOut
    migration: MigrationOut | None


class ObjectOut(Schema):
    id: int | None = Field(description="null for the built-in lead object")
    key: str
    label_zh: str
    label_en: str
    kind: str = Field(description="lead (built in), lead_type or custom")
    description: str
    display_field: str
    fields: int
    relations: list[dict[str, str]] = Field(description="reference fields: {field, target}")


class ObjectIn(Schema):
    key: str
    label_zh: str
    label_en: str = ""
    kind: str = Field("custom", description="custom or lead_type")
    description: str = ""
    display_field: str = ""


class RecordOut(Schema):
    id: int
    object: str
    display_name: str
    custom_fields: dict[str, Any]
    created_by: int | None
    updated_by: int | None
    created_at: datetime
    updated_at: datetime


class RecordIn(Schema):
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class RecordPage(Schema):
    items: list[RecordOut]
    count: int
    page: int
    page_size: int


class RecordFilters(Schema):
    q: str | None = Field(None, description="Substring of the display name")
    ordering: str = Field(
        "-updated", description="-updated, updated, -created, created, name, -name, cf_<key>, -cf_<key>"
    )
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class FileOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    url: str


def field_out(d: FieldDefinition) -> dict[str, Any]:
    return {
        "id": d.pk,
        "object": d.object_type,
        "key": d.key,
        "label_zh": d.label_zh,
        "label_en": d.label_en,
        "field_type": d.field_type,
        "required": d.required,
        "unique": d.unique,
        "target": d.target or None,
        "choices": d.choices,
        "default": d.default,
        "min_value": d.min_value,
        "max_value": d.max_value,
        "max_length": d.max_length,
        "regex": d.regex,
        "help_text": d.help_text,
        "searchable": d.searchable,
        "filterable": d.filterable,
        "position": d.position,
    }


def migration_out(job: FieldMigration | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {
        "id": job.pk,
        "object": job.object_type,
        "field": job.field_key,
        "action": job.action,
        "params": job.params,
        "status": job.status,
        "processed": job.processed,
        "changed": job.changed,
        "failed": job.failed,
        "failures": job.failures,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


def _object_out(obj: ObjectType | None, defs: list[FieldDefinition]) -> dict[str, Any]:
    relations = [
        {"field": d.key, "target": d.target} for d in defs if d.field_type == FieldDefinition.Type.REFERENCE
    ]
    if obj is None:
        return {
            "id": None,
            "key": LEAD,
            "label_zh": "线索",
            "label_en": "Lead",
            "kind": "lead",
            "description": "",
            "display_field": "name",
            "fields": len(defs),
            "relations": relations,
        }
    return {
        "id": obj.pk,
        "key": obj.key,
        "label_zh": obj.label_zh,
        "label_en": obj.label_en,
        "kind": obj.kind,
        "description": obj.description,
        "display_field": obj.display_field,
        "fields": len(defs),
        "relations": relations,
    }


def record_out(r: CustomRecord, obj_key: str) -> dict[str, Any]:
    return {
        "id": r.pk,
        "object": obj_key,
        "display_name": r.display_name,
        "custom_fields": r.data,
        "created_by": r.created_by_id,
        "updated_by": r.updated_by_id,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }


# --- meta --------------------------------------------------------------------------------------------


@meta_router.get(
    "/objects", response=list[ObjectOut], summary="Objects: the lead, lead types and custom objects"
)
def list_objects(request: TenantRequest) -> list[dict[str, Any]]:
    tenant = request.tenant
    by_object: dict[str, list[FieldDefinition]] = {}
    for d in FieldDefinition.objects.filter(tenant=tenant, is_active=True).order_by("position", "id"):
        by_object.setdefault(d.object_type, []).append(d)
    return [_object_out(None, by_object.get(LEAD, []))] + [
        _object_out(o, by_object.get(o.key, [])) for o in object_types(tenant=tenant)
    ]


@meta_router.post(
    "/objects", response={201: ObjectOut}, summary="Define a custom object or a lead type (admin)"
)
def create_object(request: TenantRequest, payload: ObjectIn) -> Status:
    obj = object_type_create(tenant=request.tenant, actor=request.membership, **payload.dict())
    return Status(201, _object_out(obj, field_definitions(tenant=request.tenant, object_type=obj.key)))


@meta_router.get(
    "/objects/{object}/fields", response=list[FieldOut], summary="Fields of an object (key or id)"
)
def list_fields(request: TenantRequest, object: str) -> list[dict[str, Any]]:
    key = object_key(tenant=request.tenant, key=object)
    return [field_out(d) for d in field_definitions(tenant=request.tenant, object_type=key)]


@meta_router.post("/objects/{object}/fields", response={201: FieldOut}, summary="Define a field (admin)")
def create_field(request: TenantRequest, object: str, payload: FieldIn) -> Status:
    key = object_key(tenant=request.tenant, key=object)
    defn = field_definition_create(
        tenant=request.tenant, object_type=key, actor=request.membership, **payload.dict()
    )
    return Status(201, field_out(defn))


def _field(request: TenantRequest, object: str, field: str) -> FieldDefinition:
    key = object_key(tenant=request.tenant, key=object)
    if field.isdigit():
        found = FieldDefinition.objects.filter(
            tenant=request.tenant, object_type=key, pk=int(field), is_active=True
        ).first()
        if found is None:
            raise NotFound("Field not found.", code="field_not_found")
        return found
    return field_definition_get(tenant=request.tenant, object_type=key, key=field)


@meta_router.patch(
    "/objects/{object}/fields/{field}",
    response=FieldChangeOut,
    summary="Change a field (admin); a rename or type change returns the migration job of the stored values",
)
def patch_field(request: TenantRequest, object: str, field: str, payload: FieldPatch) -> dict[str, Any]:
    defn = _field(request, object, field)
    data = payload.dict(exclude_unset=True)
    defn, job = field_definition_update(tenant=request.tenant, actor=request.membership, defn=defn, data=data)
    return {"field": field_out(defn), "migration": migration_out(job)}


@meta_router.delete(
    "/objects/{object}/fields/{field}",
    response={202: MigrationOut},
    summary="Delete a field (admin): gone at once; its values are removed by the returned migration job",
)
def delete_field(request: TenantRequest, object: str, field: str) -> Status:
    defn = _field(request, object, field)
    job = field_definition_delete(tenant=request.tenant, actor=request.membership, defn=defn)
    return Status(202, migration_out(job))


@meta_router.get("/migrations", response=list[MigrationOut], summary="Field migration jobs, newest first")
def list_migrations(request: TenantRequest, object: str | None = None) -> list[dict[str, Any]]:
    jobs = field_migrations(tenant=request.tenant, object_type=object)
    return [migration_out(j) for j in jobs]  # type: ignore[misc]


@meta_router.post("/files", response={201: FileOut}, summary="Upload a file for a file field (multipart)")
def upload_file(request: TenantRequest, file: File[UploadedFile]) -> Status:
    from django.urls import reverse

    stored = file_upload(tenant=request.tenant, actor=request.membership, upload=file)
    return Status(
        201,
        {
            "id": stored.pk,
            "name": stored.name,
            "content_type": stored.content_type,
            "size": stored.size,
            "url": reverse("metadata:file", args=[stored.pk]),
        },
    )


# --- records -----------------------------------------------------------------------------------------


def _custom_filters(request: TenantRequest) -> dict[str, str]:
    return {k[3:]: str(v) for k, v in request.GET.items() if k.startswith("cf_") and len(k) > 3}


@objects_router.get(
    "/{object}/records",
    response=RecordPage,
    summary="List records of a custom object",
    description="Filters: `cf_<key>=v` (equality), `cf_<key>__gte/__lte/__gt/__lt` (number, decimal, money, "
    "date, datetime), `cf_<key>__contains` (searchable text). Sorting: `ordering=cf_<key>` or `-cf_<key>`.",
)
def list_records(request: TenantRequest, object: str, filters: Query[RecordFilters]) -> dict[str, Any]:
    obj = object_type_get(tenant=request.tenant, key=object)
    qs = records_search(
        tenant=request.tenant,
        object_type=obj,
        q=filters.q,
        custom_filters=_custom_filters(request),
        ordering=filters.ordering,
    )
    start = (filters.page - 1) * filters.page_size
    items = list(qs[start : start + filters.page_size])
    count = qs.count() if items or filters.page > 1 else 0
    return {
        "items": [record_out(r, obj.key) for r in items],
        "count": count,
        "page": filters.page,
        "page_size": filters.page_size,
    }


@objects_router.post(
    "/{object}/records", response={201: RecordOut}, summary="Create a record (admin, HQ, manager)"
)
def create_record(request: TenantRequest, object: str, payload: RecordIn) -> Status:
    obj = object_type_get(tenant=request.tenant, key=object)
    record = record_create(
        tenant=request.tenant, actor=request.membership, object_type=obj, data=payload.custom_fields
    )
    return Status(201, record_out(record, obj.key))


@objects_router.get("/{object}/records/{int:record_id}", response=RecordOut, summary="Read a record")
def get_record(request: TenantRequest, object: str, record_id: int) -> dict[str, Any]:
    obj = object_type_get(tenant=request.tenant, key=object)
    return record_out(record_get(tenant=request.tenant, object_type=obj, record_id=record_id), obj.key)


@objects_router.patch(
    "/{object}/records/{int:record_id}",
    response=RecordOut,
    summary="Update a record (only the fields given; null clears)",
)
def patch_record(request: TenantRequest, object: str, record_id: int, payload: RecordIn) -> dict[str, Any]:
    obj = object_type_get(tenant=request.tenant, key=object)
    record = record_get(tenant=request.tenant, object_type=obj, record_id=record_id)
    record = record_update(
        tenant=request.tenant, actor=request.membership, record=record, data=payload.custom_fields
    )
    return record_out(record, obj.key)


@objects_router.delete("/{object}/records/{int:record_id}", response={204: None}, summary="Delete a record")
def delete_record(request: TenantRequest, object: str, record_id: int) -> Status:
    obj = object_type_get(tenant=request.tenant, key=object)
    record = record_get(tenant=request.tenant, object_type=obj, record_id=record_id)
    record_delete(tenant=request.tenant, actor=request.membership, record=record)
    return Status(204, None)
