"""File imports: CSV (UTF-8, BOM, GB18030) and Excel, bad rows with their line, resume after a crash."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.management import call_command

from leadsea.intake import importing
from leadsea.intake.importing import import_job_create, import_job_run, import_job_step, import_problems
from leadsea.intake.models import ImportBatch, ImportJob, IntakeRecord
from leadsea.intake.services import source_get_or_create
from leadsea.leads.models import Lead

HEADER = "编号,店名,地址,电话,纬度,经度,品类\n"


def _rows(n: int, start: int = 0) -> str:
    lines = []
    for i in range(start, start + n):
        lat, lng = 39.8 + i * 0.003, 116.3 + i * 0.003
        lines.append(
            f"s{i},测试餐厅{i}号(分店{i}),北京市朝阳区测试路{i}号,1380013{i:04d},{lat:.5f},{lng:.5f},中餐\n"
        )
    return "".join(lines)


def _source(org: Any) -> Any:
    return source_get_or_create(tenant=org.tenant, key="file", channel="import")


def test_csv_with_bad_rows_reports_lines_and_imports_the_rest(org: Any, tmp_path: Path) -> None:
    text = (
        HEADER
        + _rows(3)
        + "s-bad,,北京市,,,,\n"
        + _rows(1, 3)
        + 's-bad2,"多行\n名字",x,12,,,\n'
        + "s-bad3,某店,,,91,116,\n"
    )
    f = tmp_path / "list.csv"
    f.write_bytes(("\ufeff" + text).encode("utf-8"))
    job = import_job_create(tenant=org.tenant, source=_source(org), path=f, file_name=f.name, batch_size=2)
    assert job.total_rows == 7
    job = import_job_run(tenant=org.tenant, job=job)
    assert job.status == "done" and job.done_rows == 7
    assert job.counts == {"created": 4, "error": 3}
    problems = import_problems(tenant=org.tenant, job=job)
    assert [(p["line"], p["field"]) for p in problems] == [(5, "name"), (7, "phone"), (9, "lat")]
    assert Lead.objects.filter(tenant=org.tenant).count() == 4
    # the same file again: the finished job, nothing imported twice
    again = import_job_create(tenant=org.tenant, source=_source(org), path=f, file_name=f.name, batch_size=2)
    assert again.pk == job.pk
    assert IntakeRecord.objects.filter(tenant=org.tenant).count() == 7


def test_gb18030_csv_and_excel(org: Any, tmp_path: Path) -> None:
    f = tmp_path / "gbk.csv"
    f.write_bytes((HEADER + _rows(2)).encode("gb18030"))
    job = import_job_run(
        tenant=org.tenant,
        job=import_job_create(tenant=org.tenant, source=_source(org), path=f, file_name=f.name),
    )
    assert job.encoding == "gb18030" and job.counts == {"created": 2}
    assert Lead.objects.filter(tenant=org.tenant, name="测试餐厅0号", branch_name="分店0").exists()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "name", "address", "phone", "lat", "lng"])
    sheet.append([101, "表格小馆", "北京市海淀区中关村大街1号", 13900139000, 39.98, 116.31])
    sheet.append([102, None, "无名", None, None, None])
    buf = io.BytesIO()
    book.save(buf)
    job = import_job_create(
        tenant=org.tenant, source=_source(org), content=buf.getvalue(), file_name="list.xlsx", batch_size=10
    )
    job = import_job_run(tenant=org.tenant, job=job)
    assert job.counts == {"created": 1, "error": 1}
    assert import_problems(tenant=org.tenant, job=job)[0]["line"] == 3
    lead = Lead.objects.get(tenant=org.tenant, name="表格小馆")
    assert lead.phone == "+8613900139000" and lead.district == "海淀区"
    assert IntakeRecord.objects.get(tenant=org.tenant, lead=lead).external_id == "101"


def test_a_crash_mid_file_leaves_whole_batches_and_a_rerun_resumes(
    org: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    f = tmp_path / "big.csv"
    f.write_text(HEADER + _rows(10), encoding="utf-8")
    job = import_job_create(tenant=org.tenant, source=_source(org), path=f, file_name=f.name, batch_size=3)
    calls = {"n": 0}

    def crash_on_third(batch: ImportBatch) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut")

    monkeypatch.setattr(importing, "_after_batch_records", crash_on_third)
    with pytest.raises(RuntimeError):
        import_job_run(tenant=org.tenant, job=job)
    job = ImportJob.objects.get(tenant=org.tenant, pk=job.pk)
    assert (job.next_batch, job.done_rows, job.status) == (2, 6, "running")
    assert IntakeRecord.objects.filter(tenant=org.tenant).count() == 6  # batch 3 left nothing behind
    assert Lead.objects.filter(tenant=org.tenant).count() == 6
    monkeypatch.undo()
    # the CLI on the same file resumes the job
    out = io.StringIO()
    call_command(
        "import",
        str(f),
        "--tenant",
        org.tenant.slug,
        "--source",
        "file",
        "--batch-size",
        "3",
        stdout=out,
        stderr=io.StringIO(),
    )
    job = ImportJob.objects.get(tenant=org.tenant, pk=job.pk)
    assert (job.status, job.done_rows, job.next_batch) == ("done", 10, 4)
    assert '"done": 10' in out.getvalue()
    assert IntakeRecord.objects.filter(tenant=org.tenant).count() == 10
    assert Lead.objects.filter(tenant=org.tenant).count() == 10
    assert sorted(
        ImportBatch.objects.filter(tenant=org.tenant, job=job).values_list("number", flat=True)
    ) == [0, 1, 2, 3]


def test_step_runs_one_batch_at_a_time(org: Any, tmp_path: Path) -> None:
    f = tmp_path / "steps.csv"
    f.write_text(HEADER + _rows(5), encoding="utf-8")
    job = import_job_create(tenant=org.tenant, source=_source(org), path=f, file_name=f.name, batch_size=2)
    seen = []
    for _ in range(5):
        job = import_job_step(tenant=org.tenant, job=job)
        seen.append((job.done_rows, job.status))
    assert seen[:3] == [(2, "running"), (4, "running"), (5, "done")]
    assert seen[-1] == (5, "done")


def test_a_file_without_a_name_column_is_refused(org: Any, tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("a,b\n1,2\n", encoding="utf-8")
    from leadsea.core.errors import DomainError

    with pytest.raises(DomainError) as exc:
        import_job_create(tenant=org.tenant, source=_source(org), path=f, file_name=f.name)
    assert exc.value.code == "import_no_name"
    with pytest.raises(DomainError) as exc:
        import_job_create(tenant=org.tenant, source=_source(org), path=f, file_name="x.pdf")
    assert exc.value.code == "import_file_invalid"
