"""leadsea import FILE [--tenant SLUG] [--source KEY] [--batch-size N]: import leads from CSV or Excel."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadsea.core.errors import DomainError
from leadsea.core.tenancy_guard import unscoped
from leadsea.intake.importing import DEFAULT_BATCH_SIZE, import_job_create, import_job_run, import_problems
from leadsea.intake.models import ImportJob
from leadsea.intake.services import source_get_or_create
from leadsea.tenancy.models import Tenant


class Command(BaseCommand):
    help = (
        "Import stores from a CSV (UTF-8 with or without BOM, or GB18030) or Excel .xlsx file through the "
        "intake pipeline, in batches; running it again on the same file resumes after the last batch done."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="CSV or .xlsx file with a header row")
        parser.add_argument("--tenant", help="tenant slug (default: the only tenant)")
        parser.add_argument("--source", default="import", help="intake source key (default: import)")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="records per batch")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        tenant = self._tenant(options["tenant"])
        started = time.perf_counter()
        try:
            source = source_get_or_create(tenant=tenant, key=options["source"], channel="import")
            job = import_job_create(
                tenant=tenant, source=source, path=path, file_name=path.name, batch_size=options["batch_size"]
            )
            resumed = job.next_batch
            if job.status == ImportJob.Status.DONE:
                self.stderr.write(f"{path.name} was imported already (job {job.pk}); nothing to do.")
            elif resumed:
                self.stderr.write(
                    f"resuming job {job.pk} at batch {resumed} (line {job.done_rows + 2} or later)"
                )
            job = import_job_run(tenant=tenant, job=job)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        for problem in import_problems(tenant=tenant, job=job, limit=10_000):
            self.stderr.write(f"line {problem['line']}: {problem['code']}: {problem['message']}")
        seconds = time.perf_counter() - started
        self.stdout.write(
            json.dumps(
                {
                    "job": job.pk,
                    "file": job.file_name,
                    "rows": job.total_rows,
                    "done": job.done_rows,
                    "counts": job.counts,
                    "problems": job.problem_count,
                    "status": job.status,
                    "seconds": round(seconds, 2),
                },
                ensure_ascii=False,
            )
        )

    def _tenant(self, slug: str | None) -> Tenant:
        with unscoped():
            if slug:
                tenant = Tenant.objects.filter(slug=slug).first()
                if tenant is None:
                    raise CommandError(f"No tenant {slug!r}.")
                return tenant
            tenants = list(Tenant.objects.all()[:2])
        if len(tenants) != 1:
            raise CommandError("Give --tenant SLUG (there is not exactly one tenant).")
        return tenants[0]
