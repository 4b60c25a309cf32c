"""Changing and deleting fields: the definition changes at once (no runtime DDL), and a FieldMigration job
brings the stored values in line in batches: resumable, with progress and a report of what did not convert."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leadsea.audit.services import change_record, changed_fields
from leadsea.core import clock
from leadsea.core.errors import Conflict, FieldInvalid
from leadsea.core.tenancy_guard import unscoped
from leadsea.metadata.models import LEAD, CustomRecord, CustomValue, FieldDefinition, FieldMigration
from leadsea.metadata.selectors import object_type_get
from leadsea.metadata.services import (
    DEFINITION_ATTRS,
    KEY_RE,
    _check_definition,
    _clean_value,
    definition_snapshot,
    require_admin,
)
from leadsea.metadata.values import (
    custom_values_rebuild,
    is_indexed,
    unique_duplicates,
    unique_writers_lock,
)

T = FieldDefinition.Type
MAX_FAILURES = 1000  # failures kept in the job's report; `failed` counts them all
TEXTUAL = {T.TEXT, T.LONG_TEXT, T.PHONE, T.EMAIL, T.URL, T.CHOICE}
Action = FieldMigration.Action


class UniqueConflict(Conflict):
    """Turning `unique` on found values that more than one record holds; nothing was changed.
    `duplicates`: up to 5 examples (value, number of records), most frequent first; `total`: how many
    values are taken more than once."""

    code = "unique_conflict"

    def __init__(self, *, defn: FieldDefinition, duplicates: list[tuple[str, int]], total: int):
        examples = ", ".join(
            _("%(value)s (%(count)s records)") % {"value": value, "count": count}
            for value, count in duplicates
        )
        message = ngettext(
            "%(field)s cannot be unique: %(total)s value is held by more than one record: %(examples)s. "
            "Change or clear the duplicates first.",
            "%(field)s cannot be unique: %(total)s values are held by more than one record, for example "
            "%(examples)s. Change or clear the duplicates first.",
            total,
        ) % {"field": defn.key, "total": total, "examples": examples}
        super().__init__(message, field="unique")
        self.duplicates = duplicates
        self.total = total


def _refuse_duplicates(tenant: Any, defn: FieldDefinition, *, from_index: bool) -> None:
    duplicates, total = unique_duplicates(
        tenant=tenant, object_type=defn.object_type, defn=defn, from_index=from_index
    )
    if duplicates:
        raise UniqueConflict(defn=defn, duplicates=duplicates, total=total)


def _switch_unique(tenant: Any, before: FieldDefinition, after: FieldDefinition) -> None:
    """Save `after`, whose `unique` differs from `before`, and bring the field's index rows in line.

    On: the stored values are checked first without blocking anyone (the side index grouped by value, or
    the records' JSON for a field that had no index rows), and duplicates are refused by name. Then,
    holding the object's writers' lock exclusively (values.unique_writers_lock: in-flight writers finish
    first, later ones wait and then see the field as unique), the field's rows are flagged `is_unique` (or
    built, flagged, from the records' JSON): from here on the partial unique index enforces it, as for a
    field created unique. A duplicate written between the check and the lock makes the index refuse the
    flagging; it is named then, and the whole change rolls back.
    Off: the rows are unflagged (or removed, when nothing else indexes the field) under the same lock."""
    rows = CustomValue.objects.filter(tenant=tenant, object_type=after.object_type, field_key=after.key)
    had_rows = is_indexed(before)
    if after.unique:
        _refuse_duplicates(tenant, after, from_index=had_rows)
    unique_writers_lock(tenant=tenant, object_type=after.object_type, exclusive=True)
    after.save()
    try:
        with transaction.atomic():
            if not after.unique:
                if is_indexed(after):
                    rows.update(is_unique=False)
                else:
                    rows.delete()
            elif had_rows:
                rows.update(is_unique=True)
            else:
                custom_values_rebuild(tenant=tenant, object_type=after.object_type, field_keys=[after.key])
    except IntegrityError:
        _refuse_duplicates(tenant, after, from_index=had_rows)  # exact now: no writer runs beside us
        raise UniqueConflict(defn=after, duplicates=[], total=0)


def _is_lead_type_link(tenant: Any, defn: FieldDefinition) -> bool:
    """The `lead` reference a lead type was created with: its records extend one lead each."""
    if defn.object_type == LEAD or defn.key != "lead" or defn.field_type != T.REFERENCE or not defn.required:
        return False
    from leadsea.metadata.models import ObjectType

    return ObjectType.objects.filter(
        tenant=tenant, key=defn.object_type, kind=ObjectType.Kind.LEAD_TYPE
    ).exists()


def _open_job(tenant: Any, defn: FieldDefinition) -> FieldMigration | None:
    return (
        FieldMigration.objects.filter(
            tenant=tenant,
            object_type=defn.object_type,
            field_id=defn.pk,
            status__in=[FieldMigration.Status.PENDING, FieldMigration.Status.RUNNING],
        )
        .order_by("id")
        .first()
    )


def _job(
    tenant: Any, actor: Any, defn: FieldDefinition, action: str, params: dict[str, Any], now: dt.datetime
) -> FieldMigration:
    return FieldMigration.objects.create(
        tenant=tenant,
        object_type=defn.object_type,
        field_id=defn.pk,
        field_key=defn.key,
        action=action,
        params=params,
        created_by=getattr(actor, "user", None),
        created_at=now,
        updated_at=now,
    )


@transaction.atomic
def field_definition_update(
    *, tenant: Any, actor: Any, defn: FieldDefinition, data: dict[str, Any], now: dt.datetime | None = None
) -> tuple[FieldDefinition, FieldMigration | None]:
    """Change a definition. Renaming the key or changing the type queues a job that migrates the stored
    values; switching indexing on or off queues a reindex. One change of key or type at a time. Switching
    `unique` takes effect at once (see _switch_unique); on, it is refused while stored values collide."""
    require_admin(actor)
    now = now or clock.now()
    unknown = set(data) - DEFINITION_ATTRS
    if unknown:
        field = sorted(unknown)[0]
        raise FieldInvalid(
            _("%(field)s cannot be changed.") % {"field": field}, code="unknown_field", field=field
        )
    locked = FieldDefinition.objects.select_for_update().get(tenant=tenant, pk=defn.pk)
    if _open_job(tenant, locked) is not None:
        raise Conflict(_("A migration of this field is still running."), code="migration_running")
    before = definition_snapshot(locked)
    changed = copy.copy(locked)
    for attr, value in data.items():
        setattr(changed, attr, value)
    renamed = changed.key != locked.key
    retyped = changed.field_type != locked.field_type
    if renamed and retyped:
        raise FieldInvalid(
            _("Rename and change the type in two steps."), code="one_change_at_a_time", field="key"
        )
    if not isinstance(changed.unique, bool):
        raise FieldInvalid(_("unique must be true or false."), field="unique")
    unique_switched = changed.unique != locked.unique
    if unique_switched and (renamed or retyped):
        raise FieldInvalid(
            _("Change unique and the key or type in two steps."), code="one_change_at_a_time", field="unique"
        )
    if unique_switched and _is_lead_type_link(tenant, locked):
        raise Conflict(
            _("The lead field of a lead type stays unique: each record extends one lead."),
            code="field_protected",
            field="unique",
        )
    if (retyped and locked.field_type == T.REFERENCE) or (
        retyped and changed.field_type in (T.REFERENCE, T.FILE)
    ):
        raise FieldInvalid(
            _("A reference or file field keeps its type."), code="type_fixed", field="field_type"
        )
    if retyped and "choices" not in data and changed.field_type not in (T.CHOICE, T.MULTI_CHOICE):
        changed.choices = []
    if "target" in data and changed.target != locked.target:
        raise FieldInvalid(_("The target of a reference is fixed."), code="target_fixed", field="target")
    _check_definition(tenant, changed)
    if (
        renamed
        and FieldDefinition.objects.filter(
            tenant=tenant, object_type=locked.object_type, key=changed.key
        ).exists()
    ):
        raise Conflict(
            _("Field %(field)s exists already.") % {"field": changed.key}, code="duplicate_field", field="key"
        )
    if unique_switched:
        _switch_unique(tenant, locked, changed)  # index rows in line at once: no job
    else:
        changed.save()
    after = definition_snapshot(changed)
    diff_before, diff_after = changed_fields(before, after)
    job = None
    if renamed:
        job = _job(
            tenant, actor, changed, Action.RENAME, {"old_key": locked.key, "new_key": changed.key}, now
        )
    elif retyped:
        job = _job(
            tenant,
            actor,
            changed,
            Action.RETYPE,
            {"old_type": locked.field_type, "new_type": changed.field_type},
            now,
        )
    elif (not unique_switched and is_indexed(changed) != is_indexed(locked)) or (
        changed.field_type == T.MULTI_CHOICE and changed.choices != locked.choices
    ):
        job = _job(tenant, actor, changed, Action.REINDEX, {}, now)
    if diff_after:
        change_record(
            tenant=tenant,
            actor=getattr(actor, "user", None),
            action="field.update",
            obj=changed,
            before=diff_before,
            after={**diff_after, **({"migration": job.pk} if job else {})},
            now=now,
        )
    return changed, job


@transaction.atomic
def field_definition_delete(
    *, tenant: Any, actor: Any, defn: FieldDefinition, now: dt.datetime | None = None
) -> FieldMigration:
    """Soft delete: the field is gone from forms, validation and filters at once; a job removes its values
    from the records in batches, and then the definition itself."""
    require_admin(actor)
    now = now or clock.now()
    locked = FieldDefinition.objects.select_for_update().get(tenant=tenant, pk=defn.pk)
    if _open_job(tenant, locked) is not None:
        raise Conflict(_("A migration of this field is still running."), code="migration_running")
    if _is_lead_type_link(tenant, locked):
        raise Conflict(
            _("The lead field of a lead type cannot be deleted."), code="field_protected", field="key"
        )
    before = definition_snapshot(locked)
    locked.is_active = False
    locked.save(update_fields=["is_active"])
    job = _job(tenant, actor, locked, Action.DELETE, {}, now)
    change_record(
        tenant=tenant,
        actor=getattr(actor, "user", None),
        action="field.delete",
        obj=locked,
        before=before,
        after={**before, "is_active": False, "migration": job.pk},
        now=now,
    )
    return job


# --- running jobs ------------------------------------------------------------------------------------


def _coerce(value: Any, new_type: str) -> Any:
    """What a stored value of another type reads as, before the new type's validation decides."""
    if isinstance(value, dict) and "amount" in value and new_type != T.MONEY:
        value = value["amount"]
    if isinstance(value, list) and new_type != T.MULTI_CHOICE:
        value = value[0] if len(value) == 1 else ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if new_type in TEXTUAL else value
    if new_type in TEXTUAL:
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    if new_type == T.MULTI_CHOICE and not isinstance(value, list):
        return [value]
    if new_type == T.DATE and isinstance(value, str) and len(value) >= 10 and "T" in value:
        return value[:10]
    return value


def _records(tenant: Any, object_type: str) -> Any:
    from leadsea.leads.models import Lead

    if object_type == LEAD:
        return Lead.objects.filter(tenant=tenant), "custom_data"
    obj = object_type_get(tenant=tenant, key=object_type)
    return CustomRecord.objects.filter(tenant=tenant, object_type=obj), "data"


def _definition(tenant: Any, job: FieldMigration) -> FieldDefinition | None:
    return FieldDefinition.objects.filter(tenant=tenant, pk=job.field_id).first() if job.field_id else None


def _migrate_batch(tenant: Any, job: FieldMigration, defn: FieldDefinition | None, batch_size: int) -> bool:
    """One batch in one transaction; False when there was nothing left."""
    qs, column = _records(tenant, job.object_type)
    rows = list(
        qs.select_for_update()
        .filter(pk__gt=job.last_id)
        .order_by("pk")
        .values_list("pk", column)[:batch_size]
    )
    if not rows:
        return False
    low, high = job.last_id, rows[-1][0]
    key = job.field_key
    lenient = copy.copy(defn) if defn is not None else None
    if lenient is not None:
        lenient.required = False  # a missing value stays missing; a migration does not invent one
    for pk, data in rows:
        data = dict(data or {})
        new = None
        if job.action == Action.RENAME:
            old_key, new_key = job.params["old_key"], job.params["new_key"]
            if old_key in data:
                value = data.pop(old_key)
                data.setdefault(new_key, value)
                new = data
        elif job.action == Action.RETYPE and key in data and lenient is not None:
            old = data[key]
            try:
                converted = _clean_value(lenient, _coerce(old, lenient.field_type), tenant=tenant)
            except FieldInvalid:
                converted = None
            if converted is None:
                data.pop(key)
                job.failed += 1
                if len(job.failures) < MAX_FAILURES:
                    job.failures = [*job.failures, {"id": pk, "value": old}]
            else:
                data[key] = converted
            if data.get(key) != old:
                new = data
        elif job.action == Action.DELETE and key in data:
            data.pop(key)
            new = data
        if new is not None:
            qs.filter(pk=pk).update(**{column: new})
            job.changed += 1
    if job.action == Action.RENAME:
        CustomValue.objects.filter(
            tenant=tenant,
            object_type=job.object_type,
            field_key=job.params["old_key"],
            record_id__gt=low,
            record_id__lte=high,
        ).update(field_key=job.params["new_key"])
    elif job.action == Action.DELETE:
        CustomValue.objects.filter(
            tenant=tenant, object_type=job.object_type, field_key=key, record_id__gt=low, record_id__lte=high
        ).delete()
    else:
        custom_values_rebuild(
            tenant=tenant, object_type=job.object_type, field_keys=[key], record_ids=(low, high)
        )
    job.last_id = high
    job.processed += len(rows)
    return True


def field_migration_run(
    *,
    job: FieldMigration,
    batch_size: int = 1000,
    max_batches: int | None = None,
    now: Callable[[], dt.datetime] = clock.now,
) -> FieldMigration:
    """Process a job batch by batch, each batch one transaction that also saves the job's progress: stop
    anywhere (crash, deploy, max_batches) and the next run goes on from `last_id`."""
    tenant = job.tenant
    batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            current = FieldMigration.objects.select_for_update().get(tenant=tenant, pk=job.pk)
            if current.status in (FieldMigration.Status.DONE, FieldMigration.Status.FAILED):
                return current
            current.status = FieldMigration.Status.RUNNING
            defn = _definition(tenant, current)
            more = _migrate_batch(tenant, current, defn, batch_size)
            current.updated_at = now()
            if not more:
                current.status = FieldMigration.Status.DONE
                current.finished_at = current.updated_at
                if current.action == Action.DELETE and defn is not None:
                    FieldDefinition.objects.filter(tenant=tenant, pk=defn.pk, is_active=False).delete()
                change_record(
                    tenant=tenant,
                    actor=current.created_by,
                    action="field.migrated",
                    obj=current,
                    before=None,
                    after={
                        "action": current.action,
                        "field": current.field_key,
                        "processed": current.processed,
                        "changed": current.changed,
                        "failed": current.failed,
                    },
                    now=current.updated_at,
                )
            current.save()
        job = current
        batches += 1
        if not more:
            break
    return job


def pending_migrations() -> list[FieldMigration]:
    """Open jobs of every tenant, oldest first (the worker runs across tenants by design)."""
    with unscoped():
        return list(
            FieldMigration.objects.filter(
                status__in=[FieldMigration.Status.PENDING, FieldMigration.Status.RUNNING]
            )
            .select_related("tenant")
            .order_by("id")
        )


__all__ = [
    "KEY_RE",
    "field_definition_delete",
    "field_definition_update",
    "field_migration_run",
    "pending_migrations",
]
