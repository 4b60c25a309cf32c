"""Small template filters for the workbench."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

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


_ACTIONS = {
    "lead.create": _("created the lead"),
    "lead.update": _("edited the lead"),
    "lead.merge": _("merged another lead into this one"),
    "lead.merged": _("merged this lead into another"),
    "lead.intake_merge": _("merged an incoming record into this lead"),
    "lead.unmerge": _("undid a merge into this lead"),
    "lead.unmerged": _("undid the merge of this lead"),
    "opportunity.stage": _("moved the stage"),
    "contact.create": _("added a contact"),
    "task.create": _("created a task"),
    "task.cancel": _("cancelled a task"),
}
_CHANNELS = {
    "web": _("Entered on the web"),
    "api": _("API"),
    "bd": _("Entered by a BD"),
    "crawl": _("Crawled list"),
    "partner": _("Partner list"),
    "import": _("File import"),
    "push": _("Upstream push"),
    "pull": _("Upstream pull"),
    "queue": _("Message queue"),
    "self_submission": _("Merchant self-submission"),
    "crowd": _("Crowdsourcing"),
    "demo": _("Demo data"),
}


@register.filter
def action_label(action: str) -> str:
    """A change-log action in words (the code itself when it has none)."""
    return str(_ACTIONS.get(action, action))


@register.filter
def channel_label(channel: str) -> str:
    """A lead's source channel in words (the stored value when it is not a known channel)."""
    return str(_CHANNELS.get(channel, channel))
