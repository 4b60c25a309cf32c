"""Writes on leads: create and update, each one transaction with its audit row."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from leadsea.audit.services import change_record, changed_fields
from leadsea.core import clock, geo
from leadsea.core.errors import FieldInvalid, Forbidden
from leadsea.events.catalog import LEAD_CREATED, LEAD_UPDATED
from leadsea.events.plugins import run_validation_hooks
from leadsea.events.services import emit
from leadsea.intake.hooks import intake_lead_recorded
from leadsea.leads.models import Lead, LeadTag
from leadsea.leads.normalize import clean_text, fold_text, normalize_phone, phone_search_forms
from leadsea.metadata.services import custom_data_validate
from leadsea.metadata.values import custom_values_sync
from leadsea.tenancy.models import Membership, Tenant
from leadsea.tenancy.selectors import member_in_scope

TEXT_FIELDS = {
    "name": 200,
    "branch_name": 100,
    "category": 100,
    "address": 300,
    "province": 50,
    "city": 50,
    "district": 50,
    "source_channel": 40,
}
EDITABLE = set(TEXT_FIELDS) | {
    "kind",
    "status",
    "phone",
    "phones",
    "lat",
    "lng",
    "coord_sys",
    "tags",
    "custom_fields",
}
MAX_TAGS = 30


def lead_snapshot(lead: Lead, tags: list[str] | None = None) -> dict[str, Any]:
    """The lead as the audit log records it."""
    data: dict[str, Any] = {f: getattr(lead, f) for f in TEXT_FIELDS}
    data.update(
        kind=lead.kind,
        status=lead.status,
        phones=list(lead.phones),
        lat=lead.lat,
        lng=lead.lng,
        owner=lead.owner_id,
        custom_fields=dict(lead.custom_data),
    )
    if tags is not None:
        data["tags"] = tags
    return data


def _clean_tags(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise FieldInvalid(_("tags must be a list of strings."), field="tags")
    tags: list[str] = []
    for raw in value:
        tag = clean_text(raw)
        if not tag:
            continue
        if len(tag) > 50:
            raise FieldInvalid(
                _("Tag %(tag)s... is longer than 50 characters.") % {"tag": tag[:20]}, field="tags"
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise FieldInvalid(_("A lead has at most %(max)s tags.") % {"max": MAX_TAGS}, field="tags")
    return tags


def _clean_phones(phone: Any, phones: Any) -> list[str]:
    result: list[str] = []
    raw_list: list[Any] = []
    if phone not in (None, ""):
        raw_list.append(phone)
    if phones is not None:
        if not isinstance(phones, list):
            raise FieldInvalid(_("phones must be a list."), field="phones")
        raw_list.extend(phones)
    for i, raw in enumerate(raw_list):
        if not isinstance(raw, str):
            raise FieldInvalid(
                _("A phone must be a string."), field="phone" if i == 0 and phone else "phones"
            )
        if not raw.strip():
            continue
        e164 = normalize_phone(raw, field="phone" if i == 0 and phone else "phones")
        if e164 not in result:
            result.append(e164)
    return result


def _clean_coordinate(name: str, value: Any, limit: float) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise FieldInvalid(_("%(field)s must be a number.") % {"field": name}, field=name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldInvalid(_("%(field)s must be a number.") % {"field": name}, field=name)
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise FieldInvalid(
            _("%(field)s must lie between %(low)s and %(high)s.")
            % {"field": name, "low": f"-{limit:g}", "high": f"{limit:g}"},
            field=name,
        )
    return number


def _apply(lead: Lead, data: dict[str, Any], *, tenant: Tenant) -> list[str] | None:
    """Validate `data` onto `lead` (unsaved); return the new tag list when tags were given."""
    unknown = set(data) - EDITABLE
    if unknown:
        field = sorted(unknown)[0]
        raise FieldInvalid(
            _("%(field)s cannot be set here.") % {"field": field}, code="unknown_field", field=field
        )
    for field, limit in TEXT_FIELDS.items():
        if field in data:
            value = data[field]
            if value is not None and not isinstance(value, str):
                raise FieldInvalid(_("%(field)s must be a string.") % {"field": field}, field=field)
            value = clean_text(value)
            if len(value) > limit:
                raise FieldInvalid(
                    _("%(field)s is longer than %(limit)s characters.") % {"field": field, "limit": limit},
                    field=field,
                )
            setattr(lead, field, value)
    if not lead.name:
        raise FieldInvalid(_("name is required."), code="required", field="name")
    if "kind" in data:
        if data["kind"] not in Lead.Kind.values:
            raise FieldInvalid(
                _("kind must be one of %(choices)s.") % {"choices": ", ".join(Lead.Kind.values)}, field="kind"
            )
        lead.kind = data["kind"]
    if "status" in data:
        if data["status"] not in Lead.Status.values:
            raise FieldInvalid(
                _("status must be one of %(choices)s.") % {"choices": ", ".join(Lead.Status.values)},
                field="status",
            )
        if data["status"] == Lead.Status.SIGNED and lead.signed_at is None:
            raise FieldInvalid(
                _("A lead is signed by moving it to a won stage."), code="use_stage", field="status"
            )
        lead.status = data["status"]
    if "phone" in data or "phones" in data:
        phone = data.get("phone")
        phones = data.get("phones")
        if "phones" not in data:  # replacing the primary keeps the others
            phones = [p for p in lead.phones[1:]]
        lead.phones = _clean_phones(phone, phones)
        lead.phone = lead.phones[0] if lead.phones else ""
    if "lat" in data:
        lead.lat = _clean_coordinate("lat", data["lat"], 90)
    if "lng" in data:
        lead.lng = _clean_coordinate("lng", data["lng"], 180)
    if (lead.lat is None) != (lead.lng is None):
        field = "lng" if lead.lng is None else "lat"
        raise FieldInvalid(_("lat and lng go together."), field=field)
    coord_sys = data.get("coord_sys") or "wgs84"
    if coord_sys not in ("wgs84", "gcj02", "bd09"):
        raise FieldInvalid(_("coord_sys must be wgs84, gcj02 or bd09."), field="coord_sys")
    if lead.lat is not None and lead.lng is not None:
        if coord_sys != "wgs84" and ("lat" in data or "lng" in data):
            lead.lat, lead.lng = geo.to_wgs84(lead.lat, lead.lng, coord_sys)  # stored as WGS-84
        lead.geo_cell = geo.cell_of(lead.lat, lead.lng)
    else:
        lead.geo_cell = None
    if "custom_fields" in data:
        lead.custom_data = custom_data_validate(
            tenant=tenant, data=data["custom_fields"], existing=None if lead.pk is None else lead.custom_data
        )
    elif lead.pk is None:
        lead.custom_data = custom_data_validate(tenant=tenant, data={})
    lead.search_text = " ".join(
        [fold_text(lead.name), fold_text(lead.branch_name), fold_text(lead.address)]
        + [phone_search_forms(p) for p in lead.phones]
    )
    return _clean_tags(data["tags"]) if "tags" in data else None


def _set_tags(lead: Lead, tags: list[str]) -> None:
    current = set(LeadTag.objects.filter(tenant_id=lead.tenant_id, lead=lead).values_list("tag", flat=True))
    LeadTag.objects.filter(tenant_id=lead.tenant_id, lead=lead, tag__in=current - set(tags)).delete()
    LeadTag.objects.bulk_create(
        [LeadTag(tenant_id=lead.tenant_id, lead=lead, tag=t) for t in tags if t not in current]
    )


def _tags_of(lead: Lead) -> list[str]:
    return sorted(LeadTag.objects.filter(tenant_id=lead.tenant_id, lead=lead).values_list("tag", flat=True))


def _rule_tags(tenant: Tenant, lead: Lead, tags: list[str]) -> list[str]:
    """Evaluate the tenant's tag rules on the saved lead (as intake does for the leads it makes) and return
    its tags after them."""
    from leadsea.tagging.services import tags_apply

    applied = tags_apply(tenant=tenant, leads=[lead.pk])
    return _tags_of(lead) if applied.added or applied.removed else tags


def can_edit(*, membership: Membership, lead: Lead) -> bool:
    """Whoever may see a lead may edit its details; ownership changes go through the pool services."""
    if lead.owner_id is None or membership.sees_whole_tenant or lead.owner_id == membership.user_id:
        return True
    if membership.role == Membership.Role.BD:
        return False
    return member_in_scope(tenant=membership.tenant, actor=membership, user_id=lead.owner_id) is not None


@transaction.atomic
def lead_create(
    *,
    tenant: Tenant,
    actor: Membership,
    data: dict[str, Any],
    owner_id: int | None = None,
    pool_id: int | None = None,
    now: datetime | None = None,
) -> Lead:
    """Create a lead in a pool (the tenant's default unless given). With an owner it goes straight to a
    private sea through the pool engine: a claim when the owner is the creator, else an assignment."""
    from leadsea.pools.models import Pool
    from leadsea.pools.selectors import pool_ids_of
    from leadsea.pools.services import lead_assign, lead_claim

    now = now or clock.now()
    if pool_id is None:
        pool = Pool.objects.filter(tenant=tenant, is_default=True).first()
    else:
        pool = Pool.objects.filter(tenant=tenant, pk=pool_id).first()
        if (
            pool is not None
            and not actor.sees_whole_tenant
            and pool.pk not in pool_ids_of(tenant=tenant, membership=actor)
        ):
            pool = None
        if pool is None:
            raise FieldInvalid(_("No such pool."), code="invalid_pool", field="pool_id")
    if pool is None:
        raise FieldInvalid(_("This tenant has no default pool."), code="invalid_pool", field="pool_id")
    if owner_id is not None:
        if actor.role == Membership.Role.BD and owner_id != actor.user_id:
            raise Forbidden(_("A BD can only create leads for themselves."), field="owner")
        if member_in_scope(tenant=tenant, actor=actor, user_id=owner_id) is None:
            raise FieldInvalid(
                _("owner is not a member you may assign to."), code="invalid_owner", field="owner"
            )
    lead = Lead(tenant=tenant, pool=pool, created_by=actor.user, created_at=now, updated_at=now)
    tags = _apply(lead, data, tenant=tenant) or []
    run_validation_hooks(tenant=tenant, object_type="lead", data=lead_snapshot(lead, tags))
    lead.save()
    custom_values_sync(tenant=tenant, object_type="lead", record_id=lead.pk, data=lead.custom_data)
    intake_lead_recorded(tenant=tenant, lead=lead, actor=actor, now=now)  # provenance + matching keys
    _set_tags(lead, tags)
    tags = _rule_tags(tenant, lead, tags)
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="lead.create",
        obj=lead,
        before=None,
        after=lead_snapshot(lead, tags),
        now=now,
    )
    emit(
        tenant=tenant,
        type=LEAD_CREATED,
        payload={"lead_id": lead.pk, "pool_id": lead.pool_id, "lead": lead_snapshot(lead, tags)},
        actor=actor.user_id,
        now=now,
    )
    if owner_id == actor.user_id:
        lead_claim(tenant=tenant, actor=actor, lead_id=lead.pk, now=now)
    elif owner_id is not None:
        lead_assign(tenant=tenant, actor=actor, lead_id=lead.pk, user_id=owner_id, now=now)
    if owner_id is not None:
        lead = Lead.objects.get(tenant=tenant, pk=lead.pk)
    return lead


@transaction.atomic
def lead_update(
    *, tenant: Tenant, actor: Membership, lead: Lead, data: dict[str, Any], now: datetime | None = None
) -> Lead:
    now = now or clock.now()
    # Re-read under a row lock so two concurrent edits serialize and each audit row's "before" is true.
    locked = Lead.objects.select_for_update().get(tenant=tenant, pk=lead.pk)
    if not can_edit(membership=actor, lead=locked):
        raise Forbidden(_("You may not edit this lead."))
    before = lead_snapshot(locked, _tags_of(locked))
    tags = _apply(locked, data, tenant=tenant)
    after = lead_snapshot(locked, tags if tags is not None else before["tags"])
    run_validation_hooks(tenant=tenant, object_type="lead", data=after)
    if tags is not None:
        _set_tags(locked, tags)
    diff_before, diff_after = changed_fields(before, after)
    if diff_after:
        locked.updated_at = now
        locked.save()
        rule_tags = _rule_tags(tenant, locked, after["tags"])
        if rule_tags != after["tags"]:
            after["tags"] = rule_tags
            diff_before, diff_after = changed_fields(before, after)
        if "custom_fields" in diff_after:
            custom_values_sync(
                tenant=tenant, object_type="lead", record_id=locked.pk, data=locked.custom_data
            )
        intake_lead_recorded(tenant=tenant, lead=locked, actor=actor, now=now, fields=set(diff_after))
        change_record(
            tenant=tenant,
            actor=actor.user,
            action="lead.update",
            obj=locked,
            before=diff_before,
            after=diff_after,
            now=now,
        )
        emit(
            tenant=tenant,
            type=LEAD_UPDATED,
            payload={"lead_id": locked.pk, "before": diff_before, "after": diff_after},
            actor=actor.user_id,
            now=now,
        )
    return locked
