"""leadsea onboard SPEC.json | leadsea onboard --template hotel --slug S --name N --admin-username U ..."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadsea.core.errors import DomainError
from leadsea.onboarding.services import tenant_onboard
from leadsea.onboarding.templates import TEMPLATES, template_content


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror}")


class Command(BaseCommand):
    help = (
        "Onboard a business line: a tenant with its org tree, users and a template (group_buying, hotel, "
        "food_delivery, blank), from a JSON spec or from options. Options override the spec's values."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("spec", nargs="?", help="a JSON spec file (see docs/onboarding.md)")
        parser.add_argument("--template", choices=list(TEMPLATES))
        parser.add_argument("--slug")
        parser.add_argument("--name")
        parser.add_argument("--language")
        parser.add_argument("--time-zone")
        parser.add_argument("--admin-username")
        parser.add_argument("--admin-password")
        parser.add_argument("--admin-name")
        parser.add_argument("--org-csv", help="a CSV file of the org tree: path,name,kind,parent")
        parser.add_argument("--users-csv", help="a CSV file of users: username,name,role,org,password")
        parser.add_argument(
            "--print-template", action="store_true", help="print the template's content as JSON and stop"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["print_template"]:
            content = template_content(options["template"] or "blank")
            self.stdout.write(json.dumps(content, ensure_ascii=False, indent=2))
            return
        spec: dict[str, Any] = {}
        if options["spec"]:
            try:
                spec = json.loads(_read(options["spec"]))
            except json.JSONDecodeError as exc:
                raise CommandError(f"{options['spec']}: not JSON ({exc.msg}, line {exc.lineno})")
            if not isinstance(spec, dict):
                raise CommandError(f"{options['spec']}: the spec must be a JSON object")
        for option, key in (("template", "template"), ("slug", "slug"), ("name", "name")):
            if options[option]:
                spec[key] = options[option]
        for option, key in (("language", "language"), ("time_zone", "time_zone")):
            if options[option]:
                spec[key] = options[option]
        admin = dict(spec.get("admin") or {})
        for option, key in (
            ("admin_username", "username"),
            ("admin_password", "password"),
            ("admin_name", "name"),
        ):
            if options[option]:
                admin[key] = options[option]
        if admin:
            spec["admin"] = admin
        if options["org_csv"]:
            spec["org_csv"] = _read(options["org_csv"])
        if options["users_csv"]:
            spec["users_csv"] = _read(options["users_csv"])
        try:
            done = tenant_onboard(spec=spec)
        except DomainError as exc:
            where = f" ({exc.field})" if exc.field else ""
            raise CommandError(f"{exc.code}: {exc.message}{where}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Onboarded {done.tenant.slug} ({done.tenant.name}) from {spec.get('template', 'blank')}"
            )
        )
        for key, value in done.counts.items():
            self.stdout.write(f"{key}\t{value}")
        for member in [done.admin, *done.members]:
            password = done.generated_passwords.get(member.user.username)
            made_up = f"\tpassword {password}" if password else ""
            self.stdout.write(f"user\t{member.user.username}\t{member.role}{made_up}")
