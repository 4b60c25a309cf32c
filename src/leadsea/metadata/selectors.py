"""Reading field definitions."""

from __future__ import annotations

from typing import Any

from leadsea.metadata.models import FieldDefinition


def field_definitions(*, tenant: Any, object_type: str = "lead") -> list[FieldDefinition]:
    return list(FieldDefinition.objects.filter(tenant=tenant, object_type=object_type, is_active=True))
