"""The import page: upload a CSV or Excel file (admins, HQ, managers) and watch its progress bar. Each HTMX
poll of the progress runs the next batch, so no separate worker is needed."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from leadsea.core.errors import DomainError
from leadsea.intake.errors import ImportFileInvalid
from leadsea.intake.importing import DEFAULT_BATCH_SIZE, import_job_create, import_job_step, import_problems
from leadsea.intake.models import ImportJob, IntakeSource
from leadsea.intake.selectors import import_job_get, import_jobs, sources, supervises_intake
from leadsea.intake.services import source_get_or_create
from leadsea.web.decorators import tenant_required

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "intake/import_forbidden.html", status=403)


@tenant_required
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    tenant, membership = request.tenant, request.membership  # type: ignore[attr-defined]
    if not supervises_intake(membership):
        return _forbidden(request)
    error = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        key = (request.POST.get("source") or "import").strip()
        try:
            if upload is None:
                raise ImportFileInvalid(
                    _("Choose a file to import."), code="import_file_missing", field="file"
                )
            if upload.size and upload.size > MAX_UPLOAD_BYTES:
                raise ImportFileInvalid(
                    _("The file is larger than 50 MB; import it with `leadsea import`."),
                    code="import_file_too_large",
                    field="file",
                )
            source = source_get_or_create(
                tenant=tenant, key=key, channel=IntakeSource.Channel.IMPORT, actor=membership
            )
            job = import_job_create(
                tenant=tenant,
                source=source,
                content=upload.read(),
                file_name=upload.name or "upload.csv",
                actor=membership,
                batch_size=DEFAULT_BATCH_SIZE,
            )
            return redirect("intake:import_job", job_id=job.pk)
        except DomainError as exc:
            error = exc.message
    return render(
        request,
        "intake/import.html",
        {
            "jobs": list(import_jobs(tenant=tenant, membership=membership)[:20]),
            "sources": [s for s in sources(tenant=tenant) if s.channel == IntakeSource.Channel.IMPORT],
            "error": error,
        },
        status=422 if error else 200,
    )


def _job_context(request: HttpRequest, job: ImportJob) -> dict[str, object]:
    tenant = request.tenant  # type: ignore[attr-defined]
    percent = 100 if job.total_rows == 0 else min(100, round(100 * job.done_rows / job.total_rows))
    return {
        "job": job,
        "percent": percent,
        "running": job.status not in (ImportJob.Status.DONE, ImportJob.Status.FAILED),
        "problems": import_problems(tenant=tenant, job=job, limit=200) if job.problem_count else [],
    }


@tenant_required
@require_GET
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    tenant, membership = request.tenant, request.membership  # type: ignore[attr-defined]
    if not supervises_intake(membership):
        return _forbidden(request)
    try:
        job = import_job_get(tenant=tenant, membership=membership, job_id=job_id)
    except DomainError:
        raise Http404 from None
    return render(request, "intake/import_job.html", _job_context(request, job))


@tenant_required
@require_http_methods(["POST"])
def import_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """The progress partial; runs the next batch first (the page polls this while the job runs)."""
    tenant, membership = request.tenant, request.membership  # type: ignore[attr-defined]
    if not supervises_intake(membership):
        return _forbidden(request)
    try:
        job = import_job_get(tenant=tenant, membership=membership, job_id=job_id)
    except DomainError:
        return HttpResponse(status=404)
    error = None
    try:
        job = import_job_step(tenant=tenant, job=job, actor=membership)
    except DomainError as exc:
        error = exc.message
        ImportJob.objects.filter(tenant=tenant, pk=job.pk).update(
            status=ImportJob.Status.FAILED, error_message=error
        )
        job = import_job_get(tenant=tenant, membership=membership, job_id=job_id)
    return render(request, "intake/_import_progress.html", {**_job_context(request, job), "error": error})
