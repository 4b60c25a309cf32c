"""Tenant-defined custom fields: their definitions; the values live in a JSON column on the entity."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from leadsea.core.models import TenantModel, tenant_unique


class FieldDefinition(TenantModel):
    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        LONG_TEXT = "long_text", _("Long text")
        NUMBER = "number", _("Number")
        DECIMAL = "decimal", _("Decimal")
        BOOLEAN = "boolean", _("Yes/no")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")
        MULTI_CHOICE = "multi_choice", _("Multiple choice")
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("Email")
        URL = "url", _("URL")

    object_type = models.CharField(max_length=40, default="lead")
    key = models.SlugField(max_length=50)
    label_zh = models.CharField(max_length=100)
    label_en = models.CharField(max_length=100, blank=True)
    field_type = models.CharField(max_length=20, choices=Type.choices)
    required = models.BooleanField(default=False)
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
