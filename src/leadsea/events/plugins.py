"""The plugin extension point: installed packages register event handlers and validation hooks through the
`leadsea.plugins` entry point group; each tenant turns the plugins it wants on (TenantPlugin)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.metadata import entry_points
from typing import Any, ClassVar

from django.db import transaction

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "leadsea.plugins"


@dataclass(frozen=True)
class DomainEvent:
    """What an event handler receives: the outbox row as committed."""

    id: int
    tenant_id: int
    type: str
    payload: dict[str, Any]
    actor_id: int | None
    occurred_at: datetime
    request_id: str = ""


EventHandler = Callable[[DomainEvent, dict[str, Any]], None]
Validator = Callable[..., None]


class PluginConfig:
    """Subclass this in a plugin package and point an entry point of group `leadsea.plugins` at it.

    - `name`: stable identifier (what a tenant turns on), `verbose_name`, `version`, `description`.
    - `event_handlers`: {event type or "*": callable(event, settings)}, called after the change commits,
      for tenants that enabled the plugin. An exception is logged; the change stays committed.
    - `validators`: {object type ("lead"): callable(tenant=..., data=..., settings=...)}, called inside the
      service's transaction before the write; raise a `leadsea.core.errors.DomainError` to refuse it.
    - `default_settings`: the per-tenant settings a tenant starts with (merged under what it stores).
    """

    name: ClassVar[str] = ""
    verbose_name: ClassVar[str] = ""
    version: ClassVar[str] = "0"
    description: ClassVar[str] = ""
    event_handlers: ClassVar[dict[str, EventHandler]] = {}
    validators: ClassVar[dict[str, Validator]] = {}
    default_settings: ClassVar[dict[str, Any]] = {}


_extra: dict[str, type[PluginConfig]] = {}


@cache
def _discovered() -> dict[str, type[PluginConfig]]:
    found: dict[str, type[PluginConfig]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            config = ep.load()
        except Exception:  # a broken plugin must not take the CRM down
            log.exception("plugin entry point %s could not be loaded", ep.value)
            continue
        if not (isinstance(config, type) and issubclass(config, PluginConfig) and config.name):
            log.error("plugin entry point %s is not a named PluginConfig subclass", ep.value)
            continue
        if config.name in found:
            log.error("plugin name %s is registered twice; keeping the first", config.name)
            continue
        found[config.name] = config
    return found


def installed() -> dict[str, type[PluginConfig]]:
    """Every installed plugin by name (entry points, plus any registered in code)."""
    return {**_discovered(), **_extra}


def register(config: type[PluginConfig]) -> None:
    """Register a plugin without an entry point (for code inside the project)."""
    _extra[config.name] = config


def unregister(name: str) -> None:
    _extra.pop(name, None)


def enabled_for(tenant_id: int) -> list[tuple[type[PluginConfig], dict[str, Any]]]:
    """The installed plugins this tenant turned on, each with its effective settings."""
    plugins = installed()
    if not plugins:
        return []
    from leadsea.events.models import TenantPlugin

    rows = TenantPlugin.objects.filter(tenant_id=tenant_id, enabled=True, name__in=list(plugins))
    return [
        (plugins[r.name], {**plugins[r.name].default_settings, **(r.settings or {})})
        for r in rows.order_by("name")
    ]


def run_validation_hooks(*, tenant: Any, object_type: str, data: dict[str, Any]) -> None:
    """Let the tenant's plugins refuse a write: each validator raises a DomainError to say no."""
    for config, settings in enabled_for(tenant.pk):
        validator = config.validators.get(object_type)
        if validator is not None:
            validator(tenant=tenant, data=data, settings=settings)


def schedule_handlers(event: DomainEvent) -> None:
    """Run the tenant's plugin handlers for `event` once the transaction commits (never if it rolls back)."""
    if installed():
        transaction.on_commit(lambda: run_handlers(event))


def schedule_handlers_many(events: Sequence[DomainEvent]) -> None:
    """schedule_handlers for a batch of events (emit_many): one callback, the enabled plugins read once per
    tenant instead of once per event."""
    if installed() and events:
        transaction.on_commit(lambda: run_handlers_many(events))


def run_handlers(event: DomainEvent) -> None:
    _run(enabled_for(event.tenant_id), event)


def run_handlers_many(events: Sequence[DomainEvent]) -> None:
    enabled: dict[int, list[tuple[type[PluginConfig], dict[str, Any]]]] = {}
    for event in events:
        if event.tenant_id not in enabled:
            enabled[event.tenant_id] = enabled_for(event.tenant_id)
        _run(enabled[event.tenant_id], event)


def _run(enabled: list[tuple[type[PluginConfig], dict[str, Any]]], event: DomainEvent) -> None:
    for config, settings in enabled:
        for key in (event.type, "*"):
            handler = config.event_handlers.get(key)
            if handler is None:
                continue
            try:
                with transaction.atomic():
                    handler(event, settings)
            except Exception:
                log.exception("plugin %s failed on event %s #%s", config.name, event.type, event.id)
