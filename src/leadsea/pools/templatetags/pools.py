"""Template tags: a lead's pool status in words, and the pool panel of the lead page."""

from __future__ import annotations

from typing import Any

from django import template

from leadsea.core import clock
from leadsea.pools import rule_labels
from leadsea.pools.rules import is_private
from leadsea.pools.selectors import ledger_of
from leadsea.pools.words import drop_in_words, urgency

register = template.Library()


@register.simple_tag
def drop_words(lead: Any) -> str:
    return drop_in_words(lead, clock.now())


@register.simple_tag
def drop_urgency(lead: Any) -> str:
    return urgency(lead, clock.now())


@register.inclusion_tag("pools/_lead_pool.html", takes_context=True)
def lead_pool_panel(context: Any, lead: Any) -> dict[str, Any]:
    request = context["request"]
    now = clock.now()
    membership = request.membership
    private = is_private(lead, now)
    mine = private and lead.owner_id == membership.user_id
    shown = context.get("shown_sections") or {}  # the tenant's lead-page sections (onboarding app)
    show_ledger = shown.get("ledger", True)
    return {
        "request": request,
        "lead": lead,
        "private": private,
        "mine": mine,
        "words": drop_in_words(lead, now) if private else "",
        "ledger": list(ledger_of(tenant=request.tenant, lead=lead)) if show_ledger else [],
        "show_status": shown.get("pool_status", True),
        "show_ledger": show_ledger,
        "is_supervisor": membership.role != "bd",
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def pool_rule_label(key: str) -> str:
    """A pool rule in words (pools.rule_labels), the key itself when unknown."""
    return rule_labels.pool_rule_label(key)
