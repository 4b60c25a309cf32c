"""The domain event types leadsea emits: stable strings, what they mean, and where they come from."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

LEAD_CREATED = "lead.created"
LEAD_UPDATED = "lead.updated"
LEAD_CLAIMED = "lead.claimed"
LEAD_RELEASED = "lead.released"
LEAD_ASSIGNED = "lead.assigned"
LEAD_TRANSFERRED = "lead.transferred"
LEAD_EXTENDED = "lead.extended"
LEAD_LOCKED = "lead.locked"
LEAD_UNLOCKED = "lead.unlocked"
LEAD_DROPPED = "lead.dropped"
LEAD_SIGNED = "lead.signed"
LEAD_MERGED = "lead.merged"
LEAD_UNMERGED = "lead.unmerged"
LEAD_STAGE_CHANGED = "lead.stage_changed"
VISIT_RECORDED = "visit.recorded"
WEBHOOK_PING = "webhook.ping"

EVENT_TYPES = {
    LEAD_CREATED: _("A lead was created."),
    LEAD_UPDATED: _("A lead's details changed."),
    LEAD_CLAIMED: _("A BD claimed a lead from the public sea."),
    LEAD_RELEASED: _("A lead was released back to the public sea."),
    LEAD_ASSIGNED: _("A supervisor assigned a public lead to a BD."),
    LEAD_TRANSFERRED: _("A supervisor moved a private lead to another BD."),
    LEAD_EXTENDED: _("A private lead's protection was extended."),
    LEAD_LOCKED: _("A private lead was locked (exempt from drops)."),
    LEAD_UNLOCKED: _("A private lead was unlocked."),
    LEAD_DROPPED: _("A private lead fell back to the public sea (a clock ran out)."),
    LEAD_SIGNED: _("A lead was signed (its opportunity reached a won stage)."),
    LEAD_MERGED: _("Two leads were merged into one."),
    LEAD_UNMERGED: _("A merge of two leads was undone: the merged lead is back."),
    LEAD_STAGE_CHANGED: _("A lead's opportunity moved to another stage."),
    VISIT_RECORDED: _("A visit (check-in) was recorded at a store."),
    WEBHOOK_PING: _("A test delivery asked for by an administrator."),
}

# The ownership ledger's actions and the event each one emits.
LEDGER_EVENTS = {
    "claim": LEAD_CLAIMED,
    "release": LEAD_RELEASED,
    "assign": LEAD_ASSIGNED,
    "transfer": LEAD_TRANSFERRED,
    "extend": LEAD_EXTENDED,
    "lock": LEAD_LOCKED,
    "unlock": LEAD_UNLOCKED,
    "drop": LEAD_DROPPED,
    "sign": LEAD_SIGNED,
}
