"""Reads of the page configuration: the effective modules and lead-page sections of a tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadsea.onboarding.models import PageConfig
from leadsea.onboarding.modules import LEAD_SECTIONS, MODULE_KEYS, SECTION_KEYS


@dataclass(frozen=True)
class PageSettings:
    """What a tenant shows. `modules` and `lead_sections` are what the admin chose (every key present);
    `sections` is what the lead page shows: a section of a module that is off is hidden too."""

    modules: dict[str, bool]
    lead_sections: dict[str, bool]
    sections: dict[str, bool]

    def module_on(self, key: str | None) -> bool:
        return key is None or self.modules.get(key, True)

    def as_dict(self) -> dict[str, Any]:
        return {"modules": dict(self.modules), "lead_sections": dict(self.lead_sections)}


def page_settings_from(modules: dict[str, Any] | None, lead_sections: dict[str, Any] | None) -> PageSettings:
    chosen_modules = {k: bool((modules or {}).get(k, True)) for k in MODULE_KEYS}
    chosen_sections = {k: bool((lead_sections or {}).get(k, True)) for k in SECTION_KEYS}
    shown = {
        s.key: chosen_sections[s.key] and (s.module is None or chosen_modules[s.module])
        for s in LEAD_SECTIONS
    }
    return PageSettings(modules=chosen_modules, lead_sections=chosen_sections, sections=shown)


def page_settings_of(*, tenant: Any) -> PageSettings:
    row = PageConfig.objects.filter(tenant=tenant).values("modules", "lead_sections").first()
    return page_settings_from(row["modules"] if row else None, row["lead_sections"] if row else None)


def page_settings_for_request(request: Any) -> PageSettings | None:
    """The settings of the request's tenant, read once per request."""
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        return None
    cached = getattr(request, "_page_settings", None)
    if cached is None or cached[0] != tenant.pk:
        cached = (tenant.pk, page_settings_of(tenant=tenant))
        request._page_settings = cached
    return cached[1]
