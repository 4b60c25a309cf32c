"""leadsea init: create or migrate the database."""

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the database (SQLite by default) or bring it up to date."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=max(0, options["verbosity"] - 1))
        db = settings.DATABASES["default"]
        where = db["NAME"] if "sqlite" in db["ENGINE"] else f"{db.get('HOST') or 'localhost'}/{db['NAME']}"
        self.stdout.write(self.style.SUCCESS(f"Database ready: {where}"))
