"""Words for the keys the onboarding review step shows (field types, object kinds, roles,
languages), in the active language; an unknown key is shown as it is."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.db.models import TextChoices

from leadsea.metadata.models import FieldDefinition, ObjectType
from leadsea.tenancy.models import Membership

register = template.Library()


def _label(choices: type[TextChoices], value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


@register.filter
def field_type_label(value: str) -> str:
    return _label(FieldDefinition.Type, value)


@register.filter
def object_kind_label(value: str) -> str:
    return _label(ObjectType.Kind, value)


@register.filter
def role_label(value: str) -> str:
    return _label(Membership.Role, value)


@register.filter
def language_label(value: str) -> str:
    """A language by its own name (简体中文, English), as the language menu shows it."""
    return dict(settings.LANGUAGES).get(value, value)
