"""API: visits (check-ins, with an optional photo), contacts, nearby merchants, the to-do center, tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from leadsea.core import clock
from leadsea.leads.selectors import lead_get
from leadsea.tasks.selectors import todo_for
from leadsea.tasks.services import task_complete, task_create
from leadsea.tenancy.http import TenantRequest
from leadsea.visits.models import Contact, Visit
from leadsea.visits.selectors import contacts_of, visits_of
from leadsea.visits.services import contact_create, visit_record

router = Router(tags=["visits"])


class VisitIn(Schema):
    lead_id: int
    lat: float
    lng: float
    coord_sys: str = Field("wgs84", description="wgs84, gcj02 (Amap, Tencent) or bd09 (Baidu)")
    accuracy_m: float | None = None
    position_source: str = Field("gps", description="gps (the device's location) or manual (never verifies)")
    contact_id: int | None = Field(None, description="The contact (KP) met")
    purpose: str = Field("follow_up", description="first, follow_up, signing, service, other")
    outcome: str = Field("", description="met_kp, not_met, interested, not_interested, signed, closed, other")
    notes: str = ""
    next_step: str = ""
    next_visit_at: datetime | None = None
    corrects_id: int | None = Field(None, description="The earlier visit this one corrects")


class VisitOut(Schema):
    id: int
    lead_id: int
    user: int
    contact_id: int | None
    purpose: str
    outcome: str
    notes: str
    next_step: str
    next_visit_at: datetime | None
    lat: float
    lng: float
    coord_sys: str
    accuracy_m: float | None
    position_source: str
    distance_m: float | None
    radius_m: int
    verified: bool
    photo_url: str | None
    corrects_id: int | None
    visited_at: datetime


class ContactIn(Schema):
    name: str
    role: str = ""
    phones: list[str] = Field(default_factory=list)
    is_key_person: bool = False
    notes: str = ""


class ContactOut(Schema):
    id: int
    lead_id: int
    name: str
    role: str
    phones: list[str]
    is_key_person: bool
    notes: str


class TaskIn(Schema):
    title: str
    description: str = ""
    assignee_id: int | None = Field(None, description="Defaults to yourself")
    lead_id: int | None = None
    due_at: datetime | None = None


class TaskOut(Schema):
    id: int
    title: str
    description: str
    assignee: int
    lead_id: int | None
    due_at: datetime | None
    status: str
    result: str


class TaskDoneIn(Schema):
    result: str = ""
    cancel: bool = False


def visit_out(v: Visit) -> dict[str, Any]:
    return {
        "id": v.pk,
        "lead_id": v.lead_id,
        "user": v.user_id,
        "contact_id": v.contact_id,
        "purpose": v.purpose,
        "outcome": v.outcome,
        "notes": v.notes,
        "next_step": v.next_step,
        "next_visit_at": v.next_visit_at,
        "lat": v.lat,
        "lng": v.lng,
        "coord_sys": v.coord_sys,
        "accuracy_m": v.accuracy_m,
        "position_source": v.position_source,
        "distance_m": None if v.distance_m is None else round(v.distance_m, 1),
        "radius_m": v.radius_m,
        "verified": v.verified,
        "photo_url": f"/api/v1/visits/{v.pk}/photo" if v.photo else None,
        "corrects_id": v.corrects_id,
        "visited_at": v.visited_at,
    }


def contact_out(c: Contact) -> dict[str, Any]:
    return {
        "id": c.pk,
        "lead_id": c.lead_id,
        "name": c.name,
        "role": c.role,
        "phones": c.phones,
        "is_key_person": c.is_key_person,
        "notes": c.notes,
    }


def task_out(t: Any) -> dict[str, Any]:
    return {
        "id": t.pk,
        "title": t.title,
        "description": t.description,
        "assignee": t.assignee_id,
        "lead_id": t.lead_id,
        "due_at": t.due_at,
        "status": t.status,
        "result": t.result,
    }


def _visit(request: TenantRequest, payload: VisitIn, photo: UploadedFile | None) -> Status:
    visit = visit_record(tenant=request.tenant, actor=request.membership, photo=photo, **payload.dict())
    return Status(201, visit_out(visit))


@router.post("/visits", response={201: VisitOut}, summary="Check in at a store (JSON)")
def create_visit(request: TenantRequest, payload: VisitIn) -> Status:
    return _visit(request, payload, None)


@router.post(
    "/visits/with-photo", response={201: VisitOut}, summary="Check in at a store with a photo (multipart)"
)
def create_visit_with_photo(
    request: TenantRequest, payload: Form[VisitIn], photo: File[UploadedFile]
) -> Status:
    return _visit(request, payload, photo)


@router.get("/visits/{int:visit_id}/photo", summary="A visit's photo (the image bytes)", response={200: None})
def visit_photo(request: TenantRequest, visit_id: int) -> Any:
    from django.http import FileResponse

    from leadsea.visits.selectors import visit_photo_file

    handle, content_type = visit_photo_file(
        tenant=request.tenant, membership=request.membership, visit_id=visit_id
    )
    return FileResponse(handle, content_type=content_type)


@router.get("/leads/{int:lead_id}/visits", response=list[VisitOut], summary="A store's visits, newest first")
def lead_visits(request: TenantRequest, lead_id: int) -> list[dict[str, Any]]:
    lead = lead_get(tenant=request.tenant, membership=request.membership, lead_id=lead_id)
    return [visit_out(v) for v in visits_of(tenant=request.tenant, lead=lead)]


@router.get(
    "/leads/{int:lead_id}/contacts", response=list[ContactOut], summary="A store's contacts (KP first)"
)
def lead_contacts(request: TenantRequest, lead_id: int) -> list[dict[str, Any]]:
    lead = lead_get(tenant=request.tenant, membership=request.membership, lead_id=lead_id)
    return [contact_out(c) for c in contacts_of(tenant=request.tenant, lead=lead)]


@router.post("/leads/{int:lead_id}/contacts", response={201: ContactOut}, summary="Add a contact (KP)")
def add_contact(request: TenantRequest, lead_id: int, payload: ContactIn) -> Status:
    contact = contact_create(
        tenant=request.tenant, actor=request.membership, lead_id=lead_id, data=payload.dict()
    )
    return Status(201, contact_out(contact))


@router.get("/me/todo", summary="My to-do center: leads about to drop, planned visits, tasks, and counts")
def my_todo(request: TenantRequest) -> dict[str, Any]:
    from leadsea.pools.selectors import expiry_words

    now = clock.now()
    todo = todo_for(tenant=request.tenant, user_id=request.membership.user_id, now=now)
    return {
        "counts": todo.counts,
        "expiring": [{"lead_id": x.pk, "name": str(x), **expiry_words(x, now)} for x in todo.expiring],
        "planned_visits": [
            {
                "visit_id": v.pk,
                "lead_id": v.lead_id,
                "name": str(v.lead),
                "next_visit_at": v.next_visit_at,
                "next_step": v.next_step,
            }
            for v in todo.planned_visits
        ],
        "tasks": [task_out(t) for t in todo.tasks],
    }


@router.post("/tasks", response={201: TaskOut}, summary="Create a task (for yourself or your org subtree)")
def create_task(request: TenantRequest, payload: TaskIn) -> Status:
    task = task_create(tenant=request.tenant, actor=request.membership, **payload.dict())
    return Status(201, task_out(task))


@router.post("/tasks/{int:task_id}/done", response=TaskOut, summary="Complete (or cancel) a task")
def complete_task(request: TenantRequest, task_id: int, payload: TaskDoneIn) -> dict[str, Any]:
    return task_out(
        task_complete(
            tenant=request.tenant,
            actor=request.membership,
            task_id=task_id,
            result=payload.result,
            cancel=payload.cancel,
        )
    )
