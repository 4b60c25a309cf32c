"""The pool rules in words, for every page that shows or edits them (the onboarding review step; the pool
policy page says the same words)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

POOL_RULE_LABELS: dict[str, Promise] = {
    "claim_limit": _("Private leads per BD (claim limit)"),
    "claim_limit_by_role": _("Claim limit by role (empty: the general limit)"),
    "daily_claim_limit": _("Claims per BD per day"),
    "reclaim_cooldown_days": _("Days before a former owner may claim again"),
    "protection_days": _("Protection days from the claim"),
    "no_visit_days": _("Days without a verified visit before a drop"),
    "no_progress_days": _("Days without stage progress before a drop"),
    "max_self_extensions": _("Self-service extensions per lead"),
    "self_extension_days": _("Days of a self-service extension"),
    "lock_limit": _("Locked leads per BD"),
    "remind_days_before": _("Remind this many days before a drop"),
    "assign_counts_toward_limit": _("Assigned leads count toward the claim limit"),
}


def pool_rule_label(key: str) -> str:
    """The rule's words in the active language; an unknown key as it is."""
    label = POOL_RULE_LABELS.get(key)
    return str(label) if label is not None else key
