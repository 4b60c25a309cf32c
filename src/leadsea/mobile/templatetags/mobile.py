"""Template tags of the mobile app: distances in words, and the to-do badge (also on the desktop nav)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

from leadsea.core import clock
from leadsea.mobile.selectors import todo_total

register = template.Library()


@register.filter
def distance(metres: Any) -> str:
    """350 m, 1.2 km, 12 km."""
    if metres is None or metres == "":
        return "—"
    m = float(metres)
    if m < 1000:
        return _("%(n)d m") % {"n": round(m)}
    if m < 10_000 and round(m, -2) % 1000:
        return _("%(n).1f km") % {"n": m / 1000}
    return _("%(n)d km") % {"n": round(m / 1000)}


@register.simple_tag(takes_context=True)
def todo_count(context: Any) -> int:
    """The to-do total of the signed-in member, computed once per request."""
    request = context.get("request")
    membership = getattr(request, "membership", None)
    if request is None or membership is None:
        return 0
    cached = getattr(request, "_leadsea_todo_total", None)
    if cached is None:
        cached = todo_total(tenant=request.tenant, user_id=membership.user_id, now=clock.now())
        request._leadsea_todo_total = cached
    return int(cached)


@register.inclusion_tag("mobile/_badge.html", takes_context=True)
def todo_badge(context: Any) -> dict[str, Any]:
    return {"n": todo_count(context)}
