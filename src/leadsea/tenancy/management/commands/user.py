"""leadsea user create --tenant SLUG --username U --password P --role ROLE [--org UNIT]."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadsea.core.errors import DomainError
from leadsea.tenancy.models import Membership
from leadsea.tenancy.selectors import tenant_by_slug
from leadsea.tenancy.services import org_unit_by_name, user_create


class Command(BaseCommand):
    help = "Manage users: create a user (or add an existing person to another tenant)."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a user with a membership in a tenant.")
        create.add_argument("--tenant", required=True)
        create.add_argument("--username", required=True)
        create.add_argument("--password", help="Required for a new user; omit to add an existing person.")
        create.add_argument("--role", required=True, choices=Membership.Role.values)
        create.add_argument("--org", help="Org unit name, or a path of names (HQ/华北/北京/朝阳一组)")
        create.add_argument("--name", default="", help="Display name")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_by_slug(options["tenant"])
        if tenant is None:
            raise CommandError(f"No tenant {options['tenant']}.")
        org = None
        if options["org"]:
            org = org_unit_by_name(tenant=tenant, name=options["org"])
            if org is None:
                raise CommandError(f"No single org unit named {options['org']} in {tenant.slug}.")
        try:
            m = user_create(
                tenant=tenant,
                username=options["username"],
                password=options["password"],
                role=options["role"],
                org_unit=org,
                display_name=options["name"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}" + (f" ({exc.field})" if exc.field else ""))
        self.stdout.write(
            self.style.SUCCESS(
                f"{m.user.username} is {m.role} in {tenant.slug} ({m.org_unit.name if m.org_unit else '-'})"
            )
        )
