"""The `leadsea` command: leadsea's own commands (init, serve, demo, tenant, user, ...) and every Django
management command, all run as Django management commands with leadsea's settings."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadsea.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "leadsea"
    if len(args) > 1 and "-" in args[1] and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")  # `leadsea intake-worker` runs the intake_worker command
    # `--database URL` (benchmarks) selects the database before Django reads its settings.
    if "--database" in args[1:-1]:
        i = args.index("--database")
        os.environ["DATABASE_URL"] = args[i + 1]
        del args[i : i + 2]
    from django.db.utils import OperationalError

    try:
        execute_from_command_line(args)
    except OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        # A command run outside the installation's directory opens an empty SQLite file under ./var
        from django.conf import settings

        name = settings.DATABASES["default"]["NAME"]
        sys.stderr.write(
            f"leadsea: the database {name} has no leadsea tables ({exc}). Run `leadsea init` here first, "
            "or run the command in your installation's directory (or set LEADSEA_HOME or DATABASE_URL).\n"
        )
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
