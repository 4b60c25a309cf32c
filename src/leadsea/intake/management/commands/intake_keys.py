"""leadsea intake_keys --tenant SLUG: rebuild the matching keys and stored matcher features of a tenant's
leads (after a bulk load, or a release that changed the matcher)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadsea.core.tenancy_guard import unscoped
from leadsea.intake.services import lead_keys_rebuild
from leadsea.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Rebuild the intake matching keys and matcher features of every lead of a tenant."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")

    def handle(self, *args: Any, **options: Any) -> None:
        with unscoped():
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant {options['tenant']!r}.")
        self.stdout.write(f"indexed {lead_keys_rebuild(tenant=tenant)} leads of {tenant.slug}")
