"""Template tags of the lead page's store history: the selector's result for the lead on the page (read only
when the section is shown), and the words for its fields and values."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

from leadsea.core.errors import NotFound
from leadsea.leads.history import LeadHistory, lead_history

register = template.Library()

_FIELDS = {
    "name": _("Name"),
    "branch_name": _("Branch"),
    "category": _("Category"),
    "address": _("Address"),
    "province": _("Province"),
    "city": _("City"),
    "district": _("District"),
    "phones": _("Phones"),
    "position": _("Position"),
}
_ACTIONS = {
    "claim": _("claimed"),
    "assign": _("assigned"),
    "transfer": _("transferred"),
    "release": _("released"),
    "drop": _("dropped"),
}


@register.simple_tag(takes_context=True)
def lead_store_history(context: Any, lead: Any) -> LeadHistory | None:
    """`{% lead_store_history lead as h %}`: the history of the lead in the viewer's scope, with the parts of
    the tenant's modules that are on (None when the viewer may not see the lead)."""
    request = context["request"]
    try:
        return lead_history(
            tenant=request.tenant,
            membership=request.membership,
            lead_id=lead.pk,
            modules=context.get("enabled_modules"),
        )
    except NotFound:
        return None


@register.filter
def history_field(name: str) -> str:
    return str(_FIELDS.get(name, name))


@register.filter
def history_value(value: Any) -> str:
    if isinstance(value, list):
        if len(value) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return f"{value[0]:.6f}, {value[1]:.6f}"
        return "、".join(str(v) for v in value)
    return "" if value is None else str(value)


@register.filter
def ownership_action(action: str) -> str:
    return str(_ACTIONS.get(action, action))
