"""Tenant-defined objects and fields: definitions, custom object records, the side index of custom values
that makes filters and sorting on custom fields indexed, uploaded files, and field migration jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from leadsea.core.models import TenantModel, tenant_unique

LEAD = "lead"  # the built-in lead object: its fields are FieldDefinitions with object_type="lead"


class ObjectType(TenantModel):
    """A tenant-defined object. `custom`: a free object (contract party, hotel room type, ...).
    `lead_type`: a subtype of the lead (store, brand, hotel with room-night fields): its records extend one
    lead each, through the `lead` reference field created with the type."""

    class Kind(models.TextChoices):
        LEAD_TYPE = "lead_type", _("Lead type")
        CUSTOM = "custom", _("Custom object")

    key = models.SlugField(max_length=40)
    label_zh = models.CharField(max_length=100)
    label_en = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CUSTOM)
    description = models.CharField(max_length=300, blank=True)
    # The field whose value names a record on pages and in reference pickers (else "#id").
    display_field = models.CharField(max_length=50, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            tenant_unique("objecttype"),
            models.UniqueConstraint(fields=["tenant", "key"], name="objecttype_tenant_key_uniq"),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return self.key

    def label(self, language: str | None) -> str:
        if language and language.startswith("en") and self.label_en:
            return self.label_en
        return self.label_zh


class FieldDefinition(TenantModel):
    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        LONG_TEXT = "long_text", _("Long text")
        NUMBER = "number", _("Number")
        DECIMAL = "decimal", _("Decimal")
        MONEY = "money", _("Money")
        BOOLEAN = "boolean", _("Yes/no")
        DATE = "date", _("Date")
        DATETIME = "datetime", _("Date and time")
        CHOICE = "choice", _("Choice")
        MULTI_CHOICE = "multi_choice", _("Multiple choice")
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("Email")
        URL = "url", _("URL")
        GEO_POINT = "geo_point", _("Geo point")
        REFERENCE = "reference", _("Reference")
        FILE = "file", _("File")

    object_type = models.CharField(max_length=40, default=LEAD)  # "lead" or an ObjectType key
    key = models.SlugField(max_length=50)
    label_zh = models.CharField(max_length=100)
    label_en = models.CharField(max_length=100, blank=True)
    field_type = models.CharField(max_length=20, choices=Type.choices)
    required = models.BooleanField(default=False)
    unique = models.BooleanField(default=False)  # within the tenant and object; kept by CustomValue
    # reference: the object referred to ("lead" or an ObjectType key)
    target = models.CharField(max_length=40, blank=True)
    # choice / multi_choice: [{"value": "a", "label_zh": "...", "label_en": "..."}]
    choices = models.JSONField(default=list, blank=True)
    default = models.JSONField(null=True, blank=True)
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    max_length = models.PositiveIntegerField(null=True, blank=True)
    regex = models.CharField(max_length=200, blank=True)
    help_text = models.CharField(max_length=300, blank=True)
    searchable = models.BooleanField(default=False)
    filterable = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            tenant_unique("fielddefinition"),
            models.UniqueConstraint(fields=["tenant", "object_type", "key"], name="fielddef_tenant_key_uniq"),
        ]
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.object_type}.{self.key}"

    def label(self, language: str | None) -> str:
        if language and language.startswith("en") and self.label_en:
            return self.label_en
        return self.label_zh

    def choice_values(self) -> list[str]:
        return [str(c["value"]) for c in self.choices]


class CustomRecord(TenantModel):
    """One record of a custom object (or a lead type): its values in `data`, validated like lead fields."""

    object_type = models.ForeignKey(ObjectType, on_delete=models.PROTECT, related_name="+", db_index=False)
    data = models.JSONField(default=dict, blank=True)
    display_name = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [tenant_unique("customrecord")]
        indexes = [
            models.Index(fields=["tenant", "object_type", "-updated_at"], name="customrecord_type_idx"),
        ]

    def __str__(self) -> str:
        return self.display_name or f"#{self.pk}"


class CustomValue(TenantModel):
    """The side index of custom field values: one row per (record, field) (per chosen value of a multiple
    choice), written in the transaction of the record's write. B-tree indexes on (field, value) make
    equality, ranges and sorting on custom fields index lookups on SQLite and PostgreSQL alike, with no
    runtime DDL; a partial unique index enforces unique fields, also under concurrent writes."""

    object_type = models.CharField(max_length=40)  # "lead" or an ObjectType key
    field_key = models.CharField(max_length=50)
    record_id = models.BigIntegerField()  # a Lead id or a CustomRecord id
    value_text = models.CharField(max_length=255, null=True)  # text forms; ISO dates sort as text
    value_num = models.FloatField(null=True)  # numbers, amounts, booleans (0/1), reference ids
    is_unique = models.BooleanField(default=False)

    class Meta:
        constraints = [
            tenant_unique("customvalue"),
            models.UniqueConstraint(
                fields=["tenant", "object_type", "field_key", "value_text"],
                condition=models.Q(is_unique=True),
                name="customvalue_unique_value",
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "object_type", "field_key", "value_text", "record_id"],
                name="customvalue_text_idx",
            ),
            models.Index(
                fields=["tenant", "object_type", "field_key", "value_num", "record_id"],
                name="customvalue_num_idx",
            ),
            models.Index(fields=["tenant", "object_type", "record_id"], name="customvalue_record_idx"),
        ]


def _upload_to(instance: StoredFile, filename: str) -> str:
    return f"{instance.tenant_id}/files/{instance.created_at:%Y/%m}/{filename}"


class StoredFile(TenantModel):
    """An uploaded file a file field refers to: under MEDIA_ROOT/<tenant id>/files/, served only through a
    tenant-scoped view, never as a public media URL."""

    file = models.FileField(upload_to=_upload_to, max_length=300)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [tenant_unique("storedfile")]


class FieldMigration(TenantModel):
    """A batch job that brings stored values in line with a changed or deleted field: resumable from
    `last_id`, with its progress and the values it could not convert."""

    class Action(models.TextChoices):
        RENAME = "rename", _("Rename")
        RETYPE = "retype", _("Change type")
        DELETE = "delete", _("Delete")
        REINDEX = "reindex", _("Rebuild the index")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    object_type = models.CharField(max_length=40)
    field_id = models.BigIntegerField(null=True)  # no foreign key: the job outlives a deleted field
    field_key = models.CharField(max_length=50)  # the key stored values have now
    action = models.CharField(max_length=10, choices=Action.choices)
    params = models.JSONField(default=dict, blank=True)  # rename: new_key; retype: old_type, new_type
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    last_id = models.BigIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True)  # [{"id": record id, "value": old value}], capped
    error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [tenant_unique("fieldmigration")]
        indexes = [models.Index(fields=["tenant", "status", "id"], name="fieldmigration_status_idx")]
