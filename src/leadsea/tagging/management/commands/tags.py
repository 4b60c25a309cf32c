"""leadsea tags apply [--tenant SLUG] [--batch-size N]: evaluate the tag rules over all leads, in batches."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadsea.tagging.services import tags_apply
from leadsea.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Tag rules: `apply` evaluates them over every lead of one tenant (or all tenants)."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        apply = sub.add_parser("apply", help="evaluate the active rules over all leads")
        apply.add_argument("--tenant", help="tenant slug (default: every active tenant)")
        apply.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = Tenant.objects.filter(is_active=True).order_by("slug")
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"no tenant {options['tenant']!r}")
        for tenant in tenants:
            result = tags_apply(tenant=tenant, leads=None, batch_size=max(1, options["batch_size"]))
            line = {
                "tenant": tenant.slug,
                "leads": result.leads,
                "added": result.added,
                "removed": result.removed,
            }
            self.stdout.write(json.dumps(line, ensure_ascii=False))
