"""Pages: custom object records (list with cf_ filters, detail, form), the records related to a lead, the
meta admin page (objects and fields), and uploaded files served to members of their tenant only."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadsea.audit.selectors import changes_for
from leadsea.core.errors import DomainError
from leadsea.metadata.fieldjobs import field_definition_update
from leadsea.metadata.forms import FieldForm, ObjectForm, RecordForm
from leadsea.metadata.models import LEAD, FieldDefinition, ObjectType, StoredFile
from leadsea.metadata.selectors import (
    field_definition_get,
    field_definitions,
    field_migrations,
    object_type_get,
    object_types,
    record_get,
    records_search,
    related_records,
)
from leadsea.metadata.selectors import (
    object_key as resolve_object_key,
)
from leadsea.metadata.services import (
    can_write_records,
    field_definition_create,
    file_upload,
    object_type_create,
    record_create,
    record_delete,
    record_update,
)
from leadsea.web.decorators import tenant_required

PAGE_SIZE = 25


def _ctx(request: HttpRequest) -> tuple[Any, Any]:
    return request.tenant, request.membership  # type: ignore[attr-defined]


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "web/not_found.html", status=404)


def _object(request: HttpRequest, key: str) -> ObjectType | None:
    try:
        return object_type_get(tenant=request.tenant, key=key)  # type: ignore[attr-defined]
    except DomainError:
        return None


def _values(defs: list[FieldDefinition], data: dict[str, Any], language: str | None) -> list[dict[str, Any]]:
    return [{"defn": d, "label": d.label(language), "value": data.get(d.key)} for d in defs if d.key in data]


@tenant_required
@require_GET
def object_index(request: HttpRequest) -> HttpResponse:
    tenant, _m = _ctx(request)
    return render(request, "metadata/objects.html", {"objects": object_types(tenant=tenant)})


@tenant_required
@require_GET
def record_list(request: HttpRequest, object_key: str) -> HttpResponse:
    tenant, membership = _ctx(request)
    obj = _object(request, object_key)
    if obj is None:
        return _not_found(request)
    params = request.GET
    defs = field_definitions(tenant=tenant, object_type=obj.key)
    error = None
    try:
        qs = records_search(
            tenant=tenant,
            object_type=obj,
            q=params.get("q"),
            custom_filters={k[3:]: str(v) for k, v in params.items() if k.startswith("cf_") and v},
            ordering=params.get("ordering") or "-updated",
        )
        page = Paginator(qs, PAGE_SIZE).get_page(params.get("page"))
    except DomainError as exc:
        error, page = exc.message, Paginator([], PAGE_SIZE).get_page(1)
    query = params.copy()
    query.pop("page", None)
    language = get_language()
    columns = [
        d for d in defs if d.field_type not in (FieldDefinition.Type.LONG_TEXT, FieldDefinition.Type.FILE)
    ][:6]
    rows = [{"record": r, "cells": [r.data.get(d.key) for d in columns]} for r in page.object_list]
    filters = [
        {"name": f"cf_{d.key}", "label": d.label(language), "value": params.get(f"cf_{d.key}", "")}
        for d in defs
        if d.filterable and d.field_type not in (FieldDefinition.Type.GEO_POINT, FieldDefinition.Type.FILE)
    ]
    return render(
        request,
        "metadata/record_list.html",
        {
            "obj": obj,
            "label": obj.label(language),
            "columns": [d.label(language) for d in columns],
            "rows": rows,
            "page": page,
            "query": query.urlencode(),
            "filters": filters,
            "q": params.get("q", ""),
            "error": error,
            "can_write": can_write_records(membership),
        },
    )


@tenant_required
@require_GET
def record_detail(request: HttpRequest, object_key: str, record_id: int) -> HttpResponse:
    tenant, membership = _ctx(request)
    obj = _object(request, object_key)
    if obj is None:
        return _not_found(request)
    try:
        record = record_get(tenant=tenant, object_type=obj, record_id=record_id)
    except DomainError:
        return _not_found(request)
    language = get_language()
    defs = field_definitions(tenant=tenant, object_type=obj.key)
    return render(
        request,
        "metadata/record_detail.html",
        {
            "obj": obj,
            "label": obj.label(language),
            "record": record,
            "values": _values(defs, record.data, language),
            "related": related_records(tenant=tenant, target=obj.key, record_id=record.pk),
            "changes": changes_for(tenant=tenant, object_type="customrecord", object_id=record.pk),
            "can_write": can_write_records(membership),
        },
    )


def _save_record(request: HttpRequest, obj: ObjectType, form: RecordForm, record: Any) -> Any:
    tenant, membership = _ctx(request)
    values, uploads = form.to_service_data()
    for key, upload in uploads.items():
        values[key] = file_upload(tenant=tenant, actor=membership, upload=upload).pk
    if record is None:
        return record_create(tenant=tenant, actor=membership, object_type=obj, data=values)
    return record_update(tenant=tenant, actor=membership, record=record, data=values)


def _record_form(request: HttpRequest, obj: ObjectType, record: Any) -> HttpResponse:
    tenant, membership = _ctx(request)
    if not can_write_records(membership):
        return _not_found(request)
    defs = field_definitions(tenant=tenant, object_type=obj.key)
    initial = RecordForm.initial_for(record.data) if record is not None else {}
    form = RecordForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        definitions=defs,
        language=get_language(),
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved = _save_record(request, obj, form, record)
        except DomainError as exc:
            field = (exc.field or "").replace("custom_fields.", "cf_")
            form.add_error(field if field in form.fields else None, str(exc.message))
        else:
            return redirect("metadata:record_detail", object_key=obj.key, record_id=saved.pk)
    return render(
        request,
        "metadata/record_form.html",
        {"obj": obj, "label": obj.label(get_language()), "form": form, "record": record},
    )


@tenant_required
@require_http_methods(["GET", "POST"])
def record_create_view(request: HttpRequest, object_key: str) -> HttpResponse:
    obj = _object(request, object_key)
    return _not_found(request) if obj is None else _record_form(request, obj, None)


@tenant_required
@require_http_methods(["GET", "POST"])
def record_edit_view(request: HttpRequest, object_key: str, record_id: int) -> HttpResponse:
    tenant, _m = _ctx(request)
    obj = _object(request, object_key)
    if obj is None:
        return _not_found(request)
    try:
        record = record_get(tenant=tenant, object_type=obj, record_id=record_id)
    except DomainError:
        return _not_found(request)
    return _record_form(request, obj, record)


@tenant_required
@require_POST
def record_delete_view(request: HttpRequest, object_key: str, record_id: int) -> HttpResponse:
    tenant, membership = _ctx(request)
    obj = _object(request, object_key)
    if obj is None:
        return _not_found(request)
    try:
        record = record_get(tenant=tenant, object_type=obj, record_id=record_id)
        record_delete(tenant=tenant, actor=membership, record=record)
    except DomainError as exc:
        if exc.status == 404:
            return _not_found(request)
        messages.error(request, str(exc.message))
        return redirect("metadata:record_detail", object_key=obj.key, record_id=record_id)
    messages.success(request, _("Record deleted."))
    return redirect("metadata:record_list", object_key=obj.key)


@tenant_required
@require_GET
def related(request: HttpRequest, target: str, record_id: int) -> HttpResponse:
    """The records that refer to a lead (or a record): a section of the lead page, loaded by htmx."""
    tenant, membership = _ctx(request)
    if target == LEAD:
        from leadsea.leads.selectors import lead_get

        try:
            lead_get(tenant=tenant, membership=membership, lead_id=record_id)
        except DomainError:
            return _not_found(request)
    elif _object(request, target) is None:
        return _not_found(request)
    groups = related_records(tenant=tenant, target=target, record_id=record_id)
    language = get_language()
    for g in groups:
        g["label"] = g["object"].label(language)
        g["field_label"] = g["field"].label(language) if g["field"] else ""
    return render(request, "metadata/_related.html", {"groups": groups})


# --- meta admin --------------------------------------------------------------------------------------


def _admin(request: HttpRequest) -> bool:
    return getattr(request, "membership", None) is not None and request.membership.role == "admin"  # type: ignore[attr-defined]


@tenant_required
@require_http_methods(["GET", "POST"])
def meta_admin(request: HttpRequest) -> HttpResponse:
    tenant, membership = _ctx(request)
    if not _admin(request):
        return _not_found(request)
    form = ObjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            obj = object_type_create(tenant=tenant, actor=membership, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
        else:
            messages.success(request, _("Object %(key)s created.") % {"key": obj.key})
            return redirect("metadata:meta")
    language = get_language()
    objects = [
        {"key": LEAD, "label": _("Lead"), "kind": _("Built in"), "fields": field_definitions(tenant=tenant)}
    ] + [
        {
            "key": o.key,
            "label": o.label(language),
            "kind": o.get_kind_display(),
            "fields": field_definitions(tenant=tenant, object_type=o.key),
        }
        for o in object_types(tenant=tenant)
    ]
    return render(
        request,
        "metadata/meta.html",
        {"objects": objects, "form": form, "migrations": field_migrations(tenant=tenant, limit=20)},
    )


def _field_form(request: HttpRequest, object_key_: str, defn: FieldDefinition | None) -> HttpResponse:
    tenant, membership = _ctx(request)
    initial = FieldForm.initial_for(defn) if defn is not None else {"filterable": True}
    form = FieldForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.to_service_data()
        try:
            if defn is None:
                field_definition_create(tenant=tenant, object_type=object_key_, actor=membership, **data)
            else:
                changed = {
                    k: v
                    for k, v in data.items()
                    if getattr(defn, k) != v and not (k == "target" and not v and not defn.target)
                }
                _defn, job = field_definition_update(tenant=tenant, actor=membership, defn=defn, data=changed)
                if job is not None:
                    messages.info(
                        request, _("The stored values are being migrated (job %(id)s).") % {"id": job.pk}
                    )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
        else:
            return redirect("metadata:meta")
    return render(
        request, "metadata/field_form.html", {"form": form, "object_key": object_key_, "defn": defn}
    )


@tenant_required
@require_http_methods(["GET", "POST"])
def field_create_view(request: HttpRequest, object_key: str) -> HttpResponse:
    if not _admin(request):
        return _not_found(request)
    try:
        key = resolve_object_key(tenant=request.tenant, key=object_key)  # type: ignore[attr-defined]
    except DomainError:
        return _not_found(request)
    return _field_form(request, key, None)


@tenant_required
@require_http_methods(["GET", "POST"])
def field_edit_view(request: HttpRequest, object_key: str, field_key: str) -> HttpResponse:
    if not _admin(request):
        return _not_found(request)
    try:
        key = resolve_object_key(tenant=request.tenant, key=object_key)  # type: ignore[attr-defined]
        defn = field_definition_get(tenant=request.tenant, object_type=key, key=field_key)  # type: ignore[attr-defined]
    except DomainError:
        return _not_found(request)
    return _field_form(request, key, defn)


@tenant_required
@require_GET
def stored_file(request: HttpRequest, file_id: int) -> HttpResponse:
    tenant, _m = _ctx(request)
    stored = StoredFile.objects.filter(tenant=tenant, pk=file_id).first()
    if stored is None:
        raise Http404
    response: Any = FileResponse(
        stored.file.open("rb"), content_type=stored.content_type, filename=stored.name
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response
