"""Template context of every page: the modules the tenant turned on and the lead-page sections it shows."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from leadsea.onboarding.selectors import page_settings_for_request, page_settings_from

_ALL_ON = page_settings_from(None, None)


def page_settings(request: HttpRequest) -> dict[str, Any]:
    settings = page_settings_for_request(request) or _ALL_ON
    return {"enabled_modules": settings.modules, "shown_sections": settings.sections}
