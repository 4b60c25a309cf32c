"""Writes on contacts and visits. A visit is verified when the check-in lies within the tenant's visit radius
of the store; a verified visit by the owner restarts the lead's no-visit clock."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from leadsea.audit.services import change_record
from leadsea.core import clock, geo
from leadsea.core.errors import FieldInvalid
from leadsea.events.catalog import VISIT_RECORDED
from leadsea.events.services import emit
from leadsea.leads.normalize import clean_text, normalize_phone
from leadsea.leads.selectors import lead_get
from leadsea.pools.services import lead_visited
from leadsea.tenancy.models import Membership, Tenant
from leadsea.visits.models import Contact, Visit

MAX_PHOTO_BYTES = 8 * 1024 * 1024


def _text(data: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise FieldInvalid(_("%(field)s must be a string.") % {"field": key}, field=key)
    text = clean_text(value)
    if required and not text:
        raise FieldInvalid(_("%(field)s is required.") % {"field": key}, code="required", field=key)
    if len(text) > limit:
        raise FieldInvalid(
            _("%(field)s is longer than %(limit)s characters.") % {"field": key, "limit": limit}, field=key
        )
    return text


def _number(value: Any, field: str, low: float, high: float) -> float:
    if isinstance(value, bool):
        raise FieldInvalid(_("%(field)s must be a number.") % {"field": field}, field=field)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldInvalid(_("%(field)s must be a number.") % {"field": field}, field=field)
    if not math.isfinite(number) or not low <= number <= high:
        raise FieldInvalid(
            _("%(field)s must lie between %(low)s and %(high)s.")
            % {"field": field, "low": f"{low:g}", "high": f"{high:g}"},
            field=field,
        )
    return number


@transaction.atomic
def contact_create(
    *, tenant: Tenant, actor: Membership, lead_id: int, data: dict[str, Any], now: datetime | None = None
) -> Contact:
    now = now or clock.now()
    lead = lead_get(tenant=tenant, membership=actor, lead_id=lead_id, now=now)
    phones_in = data.get("phones") or []
    if not isinstance(phones_in, list):
        raise FieldInvalid(_("phones must be a list."), field="phones")
    phones: list[str] = []
    for raw in phones_in:
        if not isinstance(raw, str):
            raise FieldInvalid(_("A phone must be a string."), field="phones")
        if raw.strip():
            e164 = normalize_phone(raw, field="phones")
            if e164 not in phones:
                phones.append(e164)
    contact = Contact.objects.create(
        tenant=tenant,
        lead=lead,
        name=_text(data, "name", 100, required=True),
        role=_text(data, "role", 50),
        phones=phones,
        is_key_person=bool(data.get("is_key_person")),
        notes=_text(data, "notes", 500),
        created_by=actor.user,
        created_at=now,
    )
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="contact.create",
        obj=contact,
        before=None,
        after={"lead": lead.pk, "name": contact.name, "role": contact.role, "phones": phones},
        now=now,
    )
    return contact


@transaction.atomic
def visit_record(
    *,
    tenant: Tenant,
    actor: Membership,
    lead_id: int,
    lat: Any,
    lng: Any,
    coord_sys: str = "wgs84",
    accuracy_m: Any = None,
    contact_id: int | None = None,
    purpose: str = Visit.Purpose.FOLLOW_UP,
    outcome: str = "",
    notes: str = "",
    next_step: str = "",
    next_visit_at: datetime | None = None,
    photo: UploadedFile | None = None,
    corrects_id: int | None = None,
    position_source: str = "gps",
    now: datetime | None = None,
) -> Visit:
    """Record a check-in at a store. Unverified visits are kept and shown with their distance, but only a
    verified one (within the tenant's visit_radius_m, with a fix no coarser than that radius) by the lead's
    owner resets the no-visit clock."""
    now = now or clock.now()
    lead = lead_get(tenant=tenant, membership=actor, lead_id=lead_id, now=now)
    lat_f, lng_f = _number(lat, "lat", -90, 90), _number(lng, "lng", -180, 180)
    if coord_sys not in ("wgs84", "gcj02", "bd09"):
        raise FieldInvalid(_("coord_sys must be wgs84, gcj02 or bd09."), field="coord_sys")
    lat_w, lng_w = geo.to_wgs84(lat_f, lng_f, coord_sys)
    accuracy = None if accuracy_m in (None, "") else _number(accuracy_m, "accuracy_m", 0, 100000)
    if purpose not in Visit.Purpose.values:
        raise FieldInvalid(
            _("purpose must be one of %(choices)s.") % {"choices": ", ".join(Visit.Purpose.values)},
            field="purpose",
        )
    if outcome and outcome not in Visit.Outcome.values:
        raise FieldInvalid(
            _("outcome must be one of %(choices)s.") % {"choices": ", ".join(Visit.Outcome.values)},
            field="outcome",
        )
    if next_visit_at is not None and next_visit_at <= now:
        raise FieldInvalid(_("next_visit_at must be in the future."), field="next_visit_at")
    contact = None
    if contact_id is not None:
        contact = Contact.objects.filter(tenant=tenant, lead=lead, pk=contact_id).first()
        if contact is None:
            raise FieldInvalid(
                _("No such contact at this store."), code="invalid_contact", field="contact_id"
            )
    corrects = None
    if corrects_id is not None:
        corrects = Visit.objects.filter(tenant=tenant, lead=lead, pk=corrects_id).first()
        if corrects is None:
            raise FieldInvalid(_("No such visit at this store."), code="invalid_visit", field="corrects_id")
    if photo is not None:
        if photo.size and photo.size > MAX_PHOTO_BYTES:
            raise FieldInvalid(_("The photo is larger than 8 MB."), field="photo")
        try:  # trust the bytes, not the declared content type
            with Image.open(photo) as image:
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError):
            raise FieldInvalid(_("The photo must be a JPEG, PNG or WebP image."), field="photo")
        photo.seek(0)
    radius = tenant.visit_radius_m
    distance = None
    if lead.lat is not None and lead.lng is not None:
        distance = geo.haversine_m(lat_w, lng_w, lead.lat, lead.lng)
    if position_source not in ("gps", "manual"):
        raise FieldInvalid(_("position_source must be gps or manual."), field="position_source")
    verified = (
        position_source == "gps"
        and distance is not None
        and distance <= radius
        and (accuracy is None or accuracy <= radius)
    )
    visit = Visit(
        tenant=tenant,
        lead=lead,
        user=actor.user,
        contact=contact,
        purpose=purpose,
        outcome=outcome,
        notes=(notes or "").strip()[:5000],
        next_step=(next_step or "").strip()[:300],
        next_visit_at=next_visit_at,
        lat=lat_w,
        lng=lng_w,
        coord_sys=coord_sys,
        accuracy_m=accuracy,
        position_source=position_source,
        distance_m=distance,
        radius_m=radius,
        verified=verified,
        corrects=corrects,
        visited_at=now,
    )
    if photo is not None:
        visit.photo.save(photo.name or "photo.jpg", photo, save=False)
    visit.save()
    if verified:
        lead_visited(tenant=tenant, lead_id=lead.pk, user_id=actor.user_id, visited_at=now, now=now)
    emit(
        tenant=tenant,
        type=VISIT_RECORDED,
        payload={
            "visit_id": visit.pk,
            "lead_id": lead.pk,
            "user_id": actor.user_id,
            "verified": verified,
            "distance_m": None if distance is None else round(distance, 1),
            "purpose": purpose,
            "outcome": outcome,
            "visited_at": now,
        },
        actor=actor.user_id,
        now=now,
    )
    return visit
