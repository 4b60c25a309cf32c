"""Pool status in words for the pages: which clock binds and when the lead drops."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leadsea.pools.selectors import expiry_words


def drop_in_words(lead: Any, now: datetime) -> str:
    """'No verified visit for 13 days: drops in 2 days', in the active language."""
    if lead.owner_id is None:
        return ""
    if lead.signed_at is not None:
        return _("Signed: out of the pool rules")
    if lead.locked:
        return _("Locked: never drops while locked")
    w = expiry_words(lead, now)
    if not w:
        return ""
    if w["left_hours"] < 24:
        when = ngettext("drops in %(n)d hour", "drops in %(n)d hours", w["left_hours"]) % {
            "n": w["left_hours"]
        }
    else:
        when = ngettext("drops in %(n)d day", "drops in %(n)d days", w["left_days"]) % {"n": w["left_days"]}
    since = w["since_days"]
    if w["clock"] == "no_visit":
        why = ngettext("no verified visit for %(n)d day", "no verified visit for %(n)d days", since) % {
            "n": since
        }
    elif w["clock"] == "no_progress":
        why = ngettext("no progress for %(n)d day", "no progress for %(n)d days", since) % {"n": since}
    else:
        why = _("protection period ends")
    return _("%(why)s: %(when)s") % {"why": why[:1].upper() + why[1:], "when": when}


def urgency(lead: Any, now: datetime) -> str:
    """A CSS class: 'urgent' within a day, 'soon' within the pool's reminder window, else ''."""
    if lead.expires_at is None or lead.owner_id is None:
        return ""
    left = (lead.expires_at - now).total_seconds() / 86400
    if left < 1:
        return "urgent"
    return "soon" if left <= lead.pool.remind_days_before else ""
