"""The catalog of modules a tenant can turn on or off and of the sections of the lead page, and which pages
and API routes belong to each module (one table: a page added to a module is listed here)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Module:
    key: str
    label: str | Promise
    help: str | Promise
    # Web views by "namespace:url_name"; "namespace:*" takes the whole namespace.
    views: tuple[str, ...] = ()
    # API routes by a regular expression on the request path.
    api: tuple[str, ...] = ()
    _api_re: tuple[re.Pattern[str], ...] = field(default=(), compare=False, repr=False)


def _module(key: str, label: Promise, help: Promise, views: tuple[str, ...], api: tuple[str, ...]) -> Module:
    return Module(key, label, help, views, api, tuple(re.compile(p) for p in api))


MODULES: tuple[Module, ...] = (
    _module(
        "pool",
        _("Pools (public and private sea)"),
        _("Claiming, releasing, assigning leads; the public sea, private seas, pool rules and the ledger."),
        ("pools:*", "mobile:mine"),
        (
            r"^/api/v1/pools(/|$)",
            r"^/api/v1/leads/\d+/(claim|release|assign|transfer|extend|lock|unlock|ledger)$",
            r"^/api/v1/me/expiring$",
        ),
    ),
    _module(
        "visits",
        _("Visits"),
        _("Check-ins at stores with geofence validation, visit photos and visit history."),
        ("web:visit_photo", "mobile:visit_photo", "mobile:checkin"),
        (r"^/api/v1/visits(/|$)", r"^/api/v1/leads/\d+/visits$"),
    ),
    _module(
        "operations",
        _("Operations"),
        _(
            "Signed merchants, contracts and deals handed to operations; "
            "our and competitor sales on the lead page."
        ),
        ("operations:*",),
        (r"^/api/v1/(deals|contracts|operations)(/|$)",),
    ),
    _module(
        "tasks",
        _("Tasks and to-do"),
        _("Strategy tasks pushed to BDs and the to-do center (web and mobile)."),
        ("desktop:todo", "mobile:todo", "mobile:task_done"),
        (r"^/api/v1/tasks(/|$)", r"^/api/v1/me/todo$"),
    ),
    _module(
        "intake",
        _("Lead intake"),
        _("The review queue of incoming leads, the merchant join form and crowdsourcing."),
        ("intake:*",),
        (r"^/api/v1/intake(/|$)",),
    ),
)
MODULE_KEYS = tuple(m.key for m in MODULES)


@dataclass(frozen=True)
class Section:
    key: str
    label: str | Promise
    module: str | None = None  # hidden whenever this module is off


LEAD_SECTIONS: tuple[Section, ...] = (
    Section("basics", _("Basics and more fields")),
    Section("tags", _("Tags")),
    Section("pool_status", _("Pool status"), "pool"),
    Section("ledger", _("Ownership ledger"), "pool"),
    Section("opportunities", _("Opportunity and stage")),
    Section("contacts", _("Contacts")),
    Section("visits", _("Visits"), "visits"),
    Section("custom_objects", _("Related records (custom objects)")),
    Section("related_stores", _("Related stores of the brand")),
    Section("deals", _("Our deals and competitor sales"), "operations"),
    Section("store_history", _("Store history: deals, sales, sources, merges")),
    Section("history", _("History")),
)
SECTION_KEYS = tuple(s.key for s in LEAD_SECTIONS)


def module_of_view(view_name: str | None) -> str | None:
    """The module a web view belongs to ("pools:public" -> "pool"), or None for the core pages."""
    if not view_name:
        return None
    namespace = view_name.split(":", 1)[0] + ":*"
    for module in MODULES:
        if view_name in module.views or namespace in module.views:
            return module.key
    return None


def module_of_api_path(path: str) -> str | None:
    """The module an API path belongs to ("/api/v1/leads/7/claim" -> "pool"), or None."""
    for module in MODULES:
        if any(p.search(path) for p in module._api_re):
            return module.key
    return None
