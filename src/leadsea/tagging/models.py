"""Tag rules of a tenant and the brand lists they refer to (e.g. the top-300 brands)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from leadsea.core.models import TenantModel, tenant_unique


class BrandList(TenantModel):
    """A list of brands the tenant uploads and edits (one brand a line); matched on the folded store name."""

    key = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    brands = models.JSONField(default=list, blank=True)  # as entered, in order
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            tenant_unique("brandlist"),
            models.UniqueConstraint(fields=["tenant", "key"], name="brandlist_key_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class TagRule(TenantModel):
    """When a lead matches, it carries `tag`. A tag named by an active rule is maintained by the rules:
    evaluation adds it where some rule matches and removes it where none does."""

    class Kind(models.TextChoices):
        BRAND_LIST = "brand_list", _("Brand is in a list")
        CATEGORY = "category", _("Category is one of")
        FIELD = "field", _("Field condition")

    class Op(models.TextChoices):
        EQ = "eq", "="
        NE = "ne", "≠"
        GT = "gt", ">"
        GTE = "gte", "≥"
        LT = "lt", "<"
        LTE = "lte", "≤"
        IN = "in", _("is one of")
        CONTAINS = "contains", _("contains")
        TRUTHY = "truthy", _("is set / true")

    tag = models.CharField(max_length=50)
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # brand_list: the list; category: `values`; field: `field` (a lead field or custom field key), op, value.
    brand_list = models.ForeignKey(
        BrandList, null=True, blank=True, on_delete=models.PROTECT, related_name="rules", db_index=False
    )
    field = models.CharField(max_length=60, blank=True)
    op = models.CharField(max_length=10, choices=Op.choices, blank=True)
    value = models.JSONField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [tenant_unique("tagrule")]
        indexes = [models.Index(fields=["tenant", "is_active", "tag"], name="tagrule_active_idx")]

    def __str__(self) -> str:
        return self.name or self.tag
