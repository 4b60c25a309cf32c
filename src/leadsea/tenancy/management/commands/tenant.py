"""leadsea tenant create SLUG --name NAME [--language zh-hans|en] [--time-zone Asia/Shanghai]."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadsea.core.errors import DomainError
from leadsea.tenancy.models import Tenant
from leadsea.tenancy.services import tenant_create


class Command(BaseCommand):
    help = "Manage tenants: create, list."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a tenant with the root of its org tree.")
        create.add_argument("slug")
        create.add_argument("--name", required=True)
        create.add_argument("--language", default="zh-hans")
        create.add_argument("--time-zone", default="Asia/Shanghai")
        sub.add_parser("list", help="List tenants.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for t in Tenant.objects.order_by("slug"):
                self.stdout.write(f"{t.slug}\t{t.name}\t{t.default_language}\t{t.time_zone}")
            return
        try:
            tenant = tenant_create(
                slug=options["slug"],
                name=options["name"],
                default_language=options["language"],
                time_zone=options["time_zone"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}")
        self.stdout.write(self.style.SUCCESS(f"Created tenant {tenant.slug} ({tenant.name})"))
