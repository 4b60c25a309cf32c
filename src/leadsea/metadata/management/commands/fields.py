"""leadsea fields migrate|reindex: run field migration jobs in batches; rebuild the custom value index."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadsea.metadata.fieldjobs import field_migration_run, pending_migrations
from leadsea.metadata.models import LEAD
from leadsea.metadata.values import custom_values_rebuild
from leadsea.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Field migrations: `migrate` runs the open jobs (resumable); `reindex` rebuilds the value index."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        migrate = sub.add_parser("migrate", help="run open field migration jobs in batches")
        migrate.add_argument("--job", type=int, help="only this job id")
        migrate.add_argument("--batch-size", type=int, default=1000)
        migrate.add_argument(
            "--max-batches", type=int, help="stop after this many batches per job (resume later)"
        )
        migrate.add_argument("--every", type=float, default=0, help="keep running, polling every S seconds")
        reindex = sub.add_parser("reindex", help="rebuild the index of custom values after a bulk load")
        reindex.add_argument("--tenant", required=True, help="tenant slug")
        reindex.add_argument("--object", default=LEAD, help="object key (default lead)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "reindex":
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"no tenant {options['tenant']}")
            rows = custom_values_rebuild(tenant=tenant, object_type=options["object"])
            self.stdout.write(json.dumps({"tenant": tenant.slug, "object": options["object"], "rows": rows}))
            return
        while True:
            for job in pending_migrations():
                if options["job"] and job.pk != options["job"]:
                    continue
                done = field_migration_run(
                    job=job, batch_size=options["batch_size"], max_batches=options["max_batches"]
                )
                self.stdout.write(
                    json.dumps(
                        {
                            "job": done.pk,
                            "tenant": job.tenant.slug,
                            "object": done.object_type,
                            "field": done.field_key,
                            "action": done.action,
                            "status": done.status,
                            "processed": done.processed,
                            "changed": done.changed,
                            "failed": done.failed,
                        },
                        ensure_ascii=False,
                    )
                )
            if not options["every"]:
                return
            time.sleep(options["every"])
