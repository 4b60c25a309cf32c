"""Typed errors of onboarding and page configuration (codes listed in docs/onboarding.md)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from leadsea.core.errors import Conflict, FieldInvalid, Forbidden


class SpecInvalid(FieldInvalid):
    """Something in an onboarding spec is wrong; `field` is its path (`org_units[2].kind`, `org_csv`)."""

    code = "invalid"


class CsvInvalid(FieldInvalid):
    """A line of an imported CSV is wrong; the message starts with the line number, `line` holds it."""

    code = "csv_invalid"

    def __init__(self, message: str, *, line: int, field: str, code: str | None = None):
        super().__init__(message, code=code, field=field)
        self.line = line


class TenantExists(Conflict):
    code = "duplicate_tenant"
    default_message = gettext_lazy("A tenant with this slug exists already.")


class OnboardingForbidden(Forbidden):
    code = "onboarding_forbidden"
    default_message = gettext_lazy("Only platform operators and tenant administrators create tenants.")


class PageConfigForbidden(Forbidden):
    code = "admin_only"
    default_message = gettext_lazy("Only administrators change modules and page sections.")
