"""Small template filters for the workbench."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def join_if_list(value: Any) -> Any:
    return "、".join(str(v) for v in value) if isinstance(value, list) else value


@register.filter
def get_item_int(mapping: Any, key: Any) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def person(user: Any) -> str:
    """A user as pages name them: full name, else username; no user means the system did it."""
    from django.utils.translation import gettext

    if user is None:
        return gettext("system")
    return user.get_full_name() or user.get_username()
