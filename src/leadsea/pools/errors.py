"""Pool error codes (stable; documented in docs/api.md)."""

from django.utils.translation import gettext_lazy

from leadsea.core.errors import Conflict, Forbidden


class ClaimLimitReached(Conflict):
    code = "claim_limit_reached"
    default_message = gettext_lazy("You hold as many private leads in this pool as the policy allows.")


class DailyClaimLimitReached(Conflict):
    code = "daily_claim_limit_reached"
    default_message = gettext_lazy("You have claimed as many leads today as the policy allows.")


class LeadNotAvailable(Conflict):
    code = "lead_not_available"
    default_message = gettext_lazy("This lead is in someone else's private sea.")


class CooldownActive(Conflict):
    code = "cooldown_active"
    default_message = gettext_lazy("You released or lost this lead recently; you may claim it again later.")


class ExtensionNotAllowed(Conflict):
    code = "extension_not_allowed"
    default_message = gettext_lazy("This extension is not allowed.")


class LockLimitReached(Conflict):
    code = "lock_limit_reached"
    default_message = gettext_lazy("This BD has as many locked leads as the policy allows.")


class NotInPool(Forbidden):
    code = "not_in_pool"
    default_message = gettext_lazy("You are not a member of this lead's pool.")


class NotSupervisor(Forbidden):
    code = "not_supervisor"
    default_message = gettext_lazy("Only a supervisor of this BD may do this.")
