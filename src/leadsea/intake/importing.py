"""File imports (CSV and Excel) in resumable batches: each batch is one transaction that writes its records
and its ImportBatch row together, so a crash leaves whole batches done and the rest not started, and running
the job again (same tenant, source and file) resumes at the first batch not done."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from leadsea.core import clock
from leadsea.core.errors import Forbidden
from leadsea.intake.errors import ImportFileInvalid, ImportJobNotFound
from leadsea.intake.models import ImportBatch, ImportJob, IntakeSource
from leadsea.intake.submit import intake_submit_tagged
from leadsea.tenancy.models import Membership, Tenant

MAX_BATCH_SIZE = 5000
DEFAULT_BATCH_SIZE = 500
MAX_PROBLEMS_KEPT = 1000  # problems stored per batch (the counts are always complete)

# Column names as they appear in crawled and partner lists, Chinese and English, to intake fields.
COLUMN_ALIASES: dict[str, str] = {
    "id": "external_id",
    "external_id": "external_id",
    "编号": "external_id",
    "门店id": "external_id",
    "poi_id": "external_id",
    "name": "name",
    "名称": "name",
    "店名": "name",
    "门店名称": "name",
    "商户名称": "name",
    "branch": "branch_name",
    "branch_name": "branch_name",
    "分店": "branch_name",
    "分店名": "branch_name",
    "address": "address",
    "地址": "address",
    "province": "province",
    "省份": "province",
    "省": "province",
    "city": "city",
    "城市": "city",
    "district": "district",
    "区县": "district",
    "区": "district",
    "phone": "phone",
    "tel": "phone",
    "telephone": "phone",
    "电话": "phone",
    "联系电话": "phone",
    "phones": "phone",
    "lat": "lat",
    "latitude": "lat",
    "纬度": "lat",
    "lng": "lng",
    "lon": "lng",
    "long": "lng",
    "longitude": "lng",
    "经度": "lng",
    "coord_sys": "coord_sys",
    "坐标系": "coord_sys",
    "category": "category",
    "品类": "category",
    "分类": "category",
    "类目": "category",
    "tags": "tags",
    "标签": "tags",
    # Kept in the record as received (not a lead field): the lead's history shows what each source reported.
    "monthly_sales": "monthly_sales",
    "sales": "monthly_sales",
    "月销售额": "monthly_sales",
    "销售额": "monthly_sales",
}


def _storage_dir() -> Path:
    root = Path(getattr(settings, "MEDIA_ROOT", "") or Path(settings.VAR_DIR) / "media")
    path = root / "intake" / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _format_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    raise ImportFileInvalid(_("Only CSV and Excel (.xlsx) files can be imported."), field="file")


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), else GB18030 (what Excel in Chinese saves CSV as)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        raise ImportFileInvalid(
            _("The file is neither UTF-8 nor GB18030 text."), code="import_encoding", field="file"
        ) from None


def _header_map(header: list[str]) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for i, raw in enumerate(header):
        key = (raw or "").strip().lower().lstrip("\ufeff")
        if key in COLUMN_ALIASES:
            mapping.setdefault(i, COLUMN_ALIASES[key])
        elif key.startswith("cf_") and len(key) > 3:
            mapping[i] = key
    if "name" not in mapping.values():
        raise ImportFileInvalid(
            _("The header has no name column (name, 名称, 店名 or 门店名称)."),
            code="import_no_name",
            field="file",
        )
    return mapping


def _record(mapping: dict[int, str], cells: list[Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for i, field in mapping.items():
        value = cells[i] if i < len(cells) else None
        if value is None:
            continue
        if isinstance(value, float) and field in ("external_id", "phone") and value.is_integer():
            value = str(int(value))  # Excel stores ids and phone numbers as numbers
        if isinstance(value, str):
            value = value.strip()
            if not value:
                continue
        if field.startswith("cf_"):
            custom[field[3:]] = value
        elif field == "phone" and "phone" in record:
            record["phone"] = f"{record['phone']}; {value}"
        else:
            record[field] = value
    if custom:
        record["custom_fields"] = custom
    return record


def read_rows(job: ImportJob) -> Iterator[tuple[int, dict[str, Any]]]:
    """(file line, record) for every data row. Lines count as in the file (the header is line 1)."""
    path = Path(job.file_path)
    if job.file_format == "xlsx":
        import openpyxl

        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise ImportFileInvalid(
                _("The Excel file cannot be read: %(reason)s") % {"reason": exc}, field="file"
            ) from None
        try:
            sheet = book.worksheets[0]
            rows = sheet.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                return
            mapping = _header_map([str(h) if h is not None else "" for h in header])
            for line, row in enumerate(rows, start=2):
                if row is None or all(c is None or c == "" for c in row):
                    continue
                yield line, _record(mapping, list(row))
        finally:
            book.close()
        return
    with path.open(encoding=job.encoding or "utf-8-sig", newline="") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            return
        mapping = _header_map(header)
        line = reader.line_num
        for row in reader:
            start, line = line + 1, reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            yield start, _record(mapping, list(row))


def _count_rows(job: ImportJob) -> int:
    return sum(1 for _ in read_rows(job))


def _can_import(actor: Membership | None) -> bool:
    return actor is None or actor.role in (
        Membership.Role.ADMIN,
        Membership.Role.HQ,
        Membership.Role.MANAGER,
    )


def import_job_create(
    *,
    tenant: Tenant,
    source: IntakeSource,
    path: str | os.PathLike[str] | None = None,
    content: bytes | None = None,
    file_name: str,
    actor: Membership | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime | None = None,
) -> ImportJob:
    """A job for a file (given as a path or its bytes). The same file for the same source resumes the job
    that is not finished yet, or returns the finished one: a file is never imported twice."""
    now = now or clock.now()
    if not _can_import(actor):
        raise Forbidden(_("Only administrators, HQ and managers import files."))
    if source.tenant_id != tenant.pk:
        raise ImportJobNotFound(field="source")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ImportFileInvalid(
            _("batch size must be between 1 and %(max)s.") % {"max": MAX_BATCH_SIZE},
            code="invalid",
            field="batch_size",
        )
    file_format = _format_of(file_name)
    store = _storage_dir()
    tmp = store / f".upload-{os.getpid()}-{now.timestamp()}"
    if content is not None:
        tmp.write_bytes(content)
    elif path is not None:
        shutil.copyfile(path, tmp)
    else:
        raise ImportFileInvalid(_("No file was given."), field="file")
    sha = _sha256(tmp)
    existing = (
        ImportJob.objects.filter(tenant=tenant, source=source, sha256=sha)
        .order_by("-created_at", "-id")
        .first()
    )
    if existing is not None and existing.status != ImportJob.Status.FAILED:
        tmp.unlink(missing_ok=True)
        return existing
    stored = store / f"{tenant.pk}-{sha}.{file_format}"
    os.replace(tmp, stored)
    job = ImportJob(
        tenant=tenant,
        source=source,
        file_name=Path(file_name).name[:255],
        file_path=str(stored),
        sha256=sha,
        file_format=file_format,
        encoding=_csv_encoding(stored) if file_format == "csv" else "",
        batch_size=batch_size,
        created_by=actor.user if actor is not None else None,
        created_at=now,
        updated_at=now,
    )
    job.total_rows = _count_rows(job)
    job.save()
    return job


def _external_id(job: ImportJob, line: int, record: dict[str, Any]) -> None:
    """A row without an id gets one from the file and its line, so a re-run never doubles it."""
    if not str(record.get("external_id") or "").strip():
        record["external_id"] = f"{job.sha256[:16]}:{line}"


def _run_batch(
    tenant: Tenant,
    job: ImportJob,
    number: int,
    rows: list[tuple[int, dict[str, Any]]],
    actor: Membership | None,
    now: datetime,
) -> ImportBatch:
    with transaction.atomic():
        locked = (
            ImportJob.objects.select_for_update(of=("self",))
            .select_related("source")
            .get(tenant=tenant, pk=job.pk)
        )
        if locked.next_batch != number:  # another poll did this batch meanwhile
            return ImportBatch.objects.get(tenant=tenant, job=job, number=locked.next_batch - 1)
        batch = ImportBatch.objects.create(
            tenant=tenant,
            job=locked,
            number=number,
            first_line=rows[0][0],
            last_line=rows[-1][0],
            created_at=now,
        )
        for line, record in rows:
            _external_id(locked, line, record)
        # The batch's leads get the tag rules in the batch's transaction: a resumed import never finds a
        # committed batch whose leads were not tagged.
        results = intake_submit_tagged(
            tenant=tenant,
            source=locked.source,
            records=[r for _, r in rows],
            actor=actor,
            now=now,
            batch=batch,
            lines=[line for line, _ in rows],
        )
        counts: dict[str, int] = {}
        problems: list[dict[str, Any]] = []
        for (line, _record_data), result in zip(rows, results, strict=True):
            counts[result.status] = counts.get(result.status, 0) + 1
            for error in result.errors:
                problems.append({"line": line, **error})
        _after_batch_records(batch)
        batch.counts = counts
        batch.problems = problems[:MAX_PROBLEMS_KEPT]
        batch.save()
        for status, n in counts.items():
            locked.counts[status] = locked.counts.get(status, 0) + n
        locked.problem_count += len(problems)
        locked.done_rows += len(rows)
        locked.next_batch = number + 1
        locked.status = ImportJob.Status.RUNNING
        locked.updated_at = now
        locked.save()
        _reload(tenant, job)
        return batch


def _reload(tenant: Tenant, job: ImportJob) -> None:
    """refresh_from_db, scoped to the tenant."""
    fresh = ImportJob.objects.get(tenant=tenant, pk=job.pk)
    for f in ImportJob._meta.concrete_fields:
        setattr(job, f.attname, getattr(fresh, f.attname))


def _after_batch_records(batch: ImportBatch) -> None:
    """A seam between a batch's records and its bookkeeping (tests simulate a crash here)."""


def _finish(tenant: Tenant, job: ImportJob, now: datetime) -> None:
    ImportJob.objects.filter(tenant=tenant, pk=job.pk).update(
        status=ImportJob.Status.DONE, finished_at=now, updated_at=now
    )
    _reload(tenant, job)


def import_job_run(
    *,
    tenant: Tenant,
    job: ImportJob,
    actor: Membership | None = None,
    max_batches: int | None = None,
    now: datetime | None = None,
) -> ImportJob:
    """Run batches from the first one not done (all of them, or at most `max_batches`)."""
    if job.tenant_id != tenant.pk:
        raise ImportJobNotFound()
    if job.status == ImportJob.Status.DONE:
        return job
    start = job.next_batch * job.batch_size
    done = 0
    pending: list[tuple[int, dict[str, Any]]] = []
    number = job.next_batch
    for position, row in enumerate(read_rows(job)):
        if position < start:
            continue
        pending.append(row)
        if len(pending) == job.batch_size:
            if max_batches is not None and done >= max_batches:
                return job
            _run_batch(tenant, job, number, pending, actor, now or clock.now())
            number, done, pending = number + 1, done + 1, []
    if pending:
        if max_batches is not None and done >= max_batches:
            return job
        _run_batch(tenant, job, number, pending, actor, now or clock.now())
    _finish(tenant, job, now or clock.now())
    return job


def import_job_step(*, tenant: Tenant, job: ImportJob, actor: Membership | None = None) -> ImportJob:
    """One batch (the web page's progress poll calls this: no separate worker is needed)."""
    return import_job_run(tenant=tenant, job=job, actor=actor, max_batches=1)


def import_problems(*, tenant: Tenant, job: ImportJob, limit: int = 200) -> list[dict[str, Any]]:
    """The rows that could not be used, in file order: line, code, message, field."""
    out: list[dict[str, Any]] = []
    for problems in (
        ImportBatch.objects.filter(tenant=tenant, job=job)
        .order_by("number")
        .values_list("problems", flat=True)
    ):
        out.extend(problems)
        if len(out) >= limit:
            break
    return out[:limit]


def csv_bytes(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    """A CSV file's bytes (tests and the benchmark build files with it)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")
