"""Custom fields and objects: defining them, validating values against a tenant's definitions in one place
(leads and custom records alike), and writing custom object records and uploaded files."""

from __future__ import annotations

import datetime as dt
import math
import mimetypes
import re
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from leadsea.audit.services import change_record, changed_fields
from leadsea.core import clock, geo
from leadsea.core.errors import Conflict, FieldInvalid, Forbidden, NotFound
from leadsea.metadata.models import LEAD, CustomRecord, FieldDefinition, ObjectType, StoredFile
from leadsea.metadata.selectors import field_definitions, object_type_get
from leadsea.metadata.values import custom_values_delete, custom_values_sync

T = FieldDefinition.Type
MAX_SAFE_INTEGER = Decimal(2**53 - 1)
MAX_DECIMAL = Decimal("1e300")
KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,49}")
OBJECT_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
CURRENCY_RE = re.compile(r"[A-Z]{3}")
DEFAULT_CURRENCY = "CNY"
UNIQUE_TYPES = {
    T.TEXT,
    T.NUMBER,
    T.DECIMAL,
    T.DATE,
    T.DATETIME,
    T.CHOICE,
    T.PHONE,
    T.EMAIL,
    T.URL,
    T.REFERENCE,
}
NUMERIC_TYPES = {T.NUMBER, T.DECIMAL, T.MONEY}
MAX_FILE_BYTES = 20 * 1024 * 1024
RESERVED_OBJECT_KEYS = {LEAD, "files", "meta", "new", "admin"}


def _invalid(defn: FieldDefinition, message: str) -> FieldInvalid:
    return FieldInvalid(message, code="invalid_custom_field", field=f"custom_fields.{defn.key}")


def _tenant_zone(tenant: Any) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(getattr(tenant, "time_zone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def datetime_to_storage(value: dt.datetime) -> str:
    """UTC, second precision, fixed width: text order is time order (the side index compares text)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime_input(raw: Any, *, tenant: Any) -> dt.datetime | None:
    """ISO 8601; without an offset the time is read in the tenant's time zone."""
    if isinstance(raw, dt.datetime):
        parsed = raw
    else:
        text = str(raw).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_tenant_zone(tenant))
    return parsed


def _check_range(defn: FieldDefinition, number: Decimal) -> None:
    if defn.min_value is not None and number < Decimal(str(defn.min_value)):
        raise _invalid(
            defn,
            _("%(field)s must be at least %(min)s.")
            % {"field": defn.key, "min": format(defn.min_value, "g")},
        )
    if defn.max_value is not None and number > Decimal(str(defn.max_value)):
        raise _invalid(
            defn,
            _("%(field)s must be at most %(max)s.") % {"field": defn.key, "max": format(defn.max_value, "g")},
        )


def _parse_number(defn: FieldDefinition, value: Any, *, whole: bool) -> Decimal:
    if isinstance(value, (bool, dict, list)):
        raise _invalid(defn, _("%(field)s must be a number.") % {"field": defn.key})
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _invalid(defn, _("%(field)s must be a number.") % {"field": defn.key})
    if not number.is_finite():
        raise _invalid(defn, _("%(field)s must be a finite number.") % {"field": defn.key})
    if whole and number != number.to_integral_value():
        raise _invalid(defn, _("%(field)s must be a whole number.") % {"field": defn.key})
    # What JSON (and a browser) can carry exactly: '1e5000' would otherwise fail when stored, as a 500.
    if abs(number) > (MAX_SAFE_INTEGER if whole else MAX_DECIMAL):
        raise _invalid(defn, _("%(field)s is too large.") % {"field": defn.key})
    _check_range(defn, number)
    return number


def _clean_text(defn: FieldDefinition, value: Any) -> str:
    ft = defn.field_type
    if not isinstance(value, str):
        raise _invalid(defn, _("%(field)s must be a string.") % {"field": defn.key})
    value = value.strip()
    limit = defn.max_length or (10000 if ft == T.LONG_TEXT else 500)
    if len(value) > limit:
        raise _invalid(
            defn, _("%(field)s is longer than %(limit)s characters.") % {"field": defn.key, "limit": limit}
        )
    if defn.regex and not re.fullmatch(defn.regex, value):
        raise _invalid(defn, _("%(field)s does not match the required format.") % {"field": defn.key})
    if ft == T.EMAIL:
        try:
            EmailValidator()(value)
        except DjangoValidationError:
            raise _invalid(defn, _("%(field)s is not a valid email address.") % {"field": defn.key})
    if ft == T.URL:
        try:
            URLValidator()(value)
        except DjangoValidationError:
            raise _invalid(defn, _("%(field)s is not a valid URL.") % {"field": defn.key})
    if ft == T.PHONE:
        from leadsea.leads.normalize import normalize_phone

        value = normalize_phone(value, field=f"custom_fields.{defn.key}")
    return value


def _clean_money(defn: FieldDefinition, value: Any) -> dict[str, str]:
    currency = DEFAULT_CURRENCY
    amount = value
    if isinstance(value, dict):
        unknown = set(value) - {"amount", "currency"}
        if unknown or "amount" not in value:
            raise _invalid(
                defn, _("%(field)s must be an amount or {amount, currency}.") % {"field": defn.key}
            )
        amount = value["amount"]
        currency = str(value.get("currency") or DEFAULT_CURRENCY).strip().upper()
    if not CURRENCY_RE.fullmatch(currency):
        raise _invalid(
            defn, _("%(field)s: the currency must be an ISO 4217 code such as CNY.") % {"field": defn.key}
        )
    number = _parse_number(defn, amount, whole=False)
    if number.as_tuple().exponent < -4:  # type: ignore[operator]
        raise _invalid(defn, _("%(field)s has more than 4 decimal places.") % {"field": defn.key})
    return {"amount": format(number.normalize() if number != 0 else Decimal(0), "f"), "currency": currency}


def _clean_geo(defn: FieldDefinition, value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or "lat" not in value or "lng" not in value:
        raise _invalid(defn, _("%(field)s must be an object with lat and lng.") % {"field": defn.key})
    coord_sys = value.get("coord_sys") or "wgs84"
    if coord_sys not in ("wgs84", "gcj02", "bd09"):
        raise _invalid(defn, _("%(field)s: coord_sys must be wgs84, gcj02 or bd09.") % {"field": defn.key})
    try:
        lat, lng = float(value["lat"]), float(value["lng"])
    except (TypeError, ValueError):
        raise _invalid(defn, _("%(field)s: lat and lng must be numbers.") % {"field": defn.key})
    if isinstance(value["lat"], bool) or isinstance(value["lng"], bool):
        raise _invalid(defn, _("%(field)s: lat and lng must be numbers.") % {"field": defn.key})
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise _invalid(defn, _("%(field)s: lat or lng is out of range.") % {"field": defn.key})
    lat, lng = geo.to_wgs84(lat, lng, coord_sys)
    return {"lat": round(lat, 7), "lng": round(lng, 7)}


def _reference_exists(tenant: Any, target: str, record_id: int) -> bool:
    if target == LEAD:
        from leadsea.leads.models import Lead

        return Lead.objects.filter(tenant=tenant, pk=record_id).exists()
    return CustomRecord.objects.filter(
        tenant=tenant, pk=record_id, object_type__key=target, object_type__tenant=tenant
    ).exists()


def _clean_id(defn: FieldDefinition, value: Any) -> int:
    if isinstance(value, dict) and "id" in value:
        value = value["id"]
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.isdigit())
    ):
        raise _invalid(defn, _("%(field)s must be an id.") % {"field": defn.key})
    number = int(value)
    if not 0 < number <= int(MAX_SAFE_INTEGER):
        raise _invalid(defn, _("%(field)s must be an id.") % {"field": defn.key})
    return number


def _clean_value(defn: FieldDefinition, value: Any, *, tenant: Any = None) -> Any:
    """Return the JSON value to store, or raise FieldInvalid naming the field."""
    if value is None or value == "" or value == [] or value == {}:
        if defn.required:
            raise FieldInvalid(
                _("%(label)s (%(field)s) is required.") % {"label": defn.label_zh, "field": defn.key},
                code="required",
                field=f"custom_fields.{defn.key}",
            )
        return None
    ft = defn.field_type
    if ft in (T.TEXT, T.LONG_TEXT, T.PHONE, T.EMAIL, T.URL):
        return _clean_text(defn, value)
    if ft in (T.NUMBER, T.DECIMAL):
        number = _parse_number(defn, value, whole=ft == T.NUMBER)
        return int(number) if ft == T.NUMBER else float(number)
    if ft == T.MONEY:
        return _clean_money(defn, value)
    if ft == T.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "1", "yes", "on", "是"}:
            return True
        if text in {"false", "0", "no", "off", "否"}:
            return False
        raise _invalid(defn, _("%(field)s must be true or false.") % {"field": defn.key})
    if ft == T.DATE:
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise _invalid(defn, _("%(field)s must be a date (YYYY-MM-DD).") % {"field": defn.key})
    if ft == T.DATETIME:
        parsed = parse_datetime_input(value, tenant=tenant)
        if parsed is None or isinstance(value, (bool, int, float)):
            raise _invalid(defn, _("%(field)s must be a date and time (ISO 8601).") % {"field": defn.key})
        return datetime_to_storage(parsed)
    if ft == T.CHOICE:
        if isinstance(value, (dict, list)) or str(value) not in defn.choice_values():
            raise _invalid(
                defn,
                _("%(field)s must be one of %(choices)s.")
                % {"field": defn.key, "choices": ", ".join(defn.choice_values())},
            )
        return str(value)
    if ft == T.MULTI_CHOICE:
        values = value if isinstance(value, list) else [value]
        allowed = defn.choice_values()
        bad = [v for v in values if isinstance(v, (dict, list)) or str(v) not in allowed]
        if bad:
            raise _invalid(
                defn,
                _("%(field)s: %(value)s is not one of %(choices)s.")
                % {"field": defn.key, "value": bad[0], "choices": ", ".join(allowed)},
            )
        return sorted({str(v) for v in values}, key=allowed.index)
    if ft == T.GEO_POINT:
        return _clean_geo(defn, value)
    if ft == T.REFERENCE:
        record_id = _clean_id(defn, value)
        if tenant is None or not _reference_exists(tenant, defn.target, record_id):
            raise FieldInvalid(
                _("%(field)s: no %(target)s with id %(id)s.")
                % {"field": defn.key, "target": defn.target, "id": record_id},
                code="invalid_reference",
                field=f"custom_fields.{defn.key}",
            )
        return record_id
    if ft == T.FILE:
        file_id = _clean_id(defn, value)
        stored = StoredFile.objects.filter(tenant=tenant, pk=file_id).first() if tenant is not None else None
        if stored is None:
            raise FieldInvalid(
                _("%(field)s: no uploaded file with id %(id)s.") % {"field": defn.key, "id": file_id},
                code="invalid_file",
                field=f"custom_fields.{defn.key}",
            )
        return {"id": stored.pk, "name": stored.name}
    raise _invalid(defn, _("%(field)s has an unknown type %(type)s.") % {"field": defn.key, "type": ft})


def custom_data_validate(
    *,
    tenant: Any,
    data: dict[str, Any] | None,
    existing: dict[str, Any] | None = None,
    object_type: str = LEAD,
    definitions: list[FieldDefinition] | None = None,
) -> dict[str, Any]:
    """Validate `data` (a full set on create, a partial update when `existing` is given) and return the
    merged values to store. Unknown keys are rejected; defaults fill missing fields on create."""
    defs = {
        d.key: d
        for d in (
            definitions
            if definitions is not None
            else field_definitions(tenant=tenant, object_type=object_type)
        )
    }
    data = data or {}
    if not isinstance(data, dict):
        raise FieldInvalid(_("custom_fields must be an object."), code="invalid", field="custom_fields")
    for key in data:
        if key not in defs:
            raise FieldInvalid(
                _("Unknown custom field %(field)s.") % {"field": key},
                code="unknown_field",
                field=f"custom_fields.{key}",
            )
    creating = existing is None
    result: dict[str, Any] = dict(existing or {})
    for key, defn in defs.items():
        if key in data:
            cleaned = _clean_value(defn, data[key], tenant=tenant)
        elif creating:
            cleaned = _clean_value(defn, defn.default, tenant=tenant)
        else:
            continue
        if cleaned is None:
            result.pop(key, None)
        else:
            result[key] = cleaned
    return result


# --- definitions -------------------------------------------------------------------------------------

DEFINITION_ATTRS = {
    "key",
    "label_zh",
    "label_en",
    "field_type",
    "required",
    "unique",
    "target",
    "choices",
    "default",
    "min_value",
    "max_value",
    "max_length",
    "regex",
    "help_text",
    "searchable",
    "filterable",
    "position",
}


def definition_snapshot(defn: FieldDefinition) -> dict[str, Any]:
    """The definition as the audit log and the API show it."""
    data = {a: getattr(defn, a) for a in sorted(DEFINITION_ATTRS)}
    data.update(object_type=defn.object_type, is_active=defn.is_active)
    return data


def require_admin(actor: Any) -> None:
    if actor is not None and actor.role != "admin":
        raise Forbidden(_("Only administrators change objects and fields."))


def _object_exists(tenant: Any, key: str) -> bool:
    return key == LEAD or ObjectType.objects.filter(tenant=tenant, key=key, is_active=True).exists()


def _check_definition(tenant: Any, defn: FieldDefinition) -> None:
    """Everything a definition must satisfy by itself; raise FieldInvalid naming the attribute."""
    if not KEY_RE.fullmatch(defn.key or ""):
        raise FieldInvalid(
            _("key must start with a letter and hold lower-case letters, digits and underscores."),
            field="key",
        )
    if defn.field_type not in T.values:
        raise FieldInvalid(
            _("Unknown field type %(type)s; one of %(types)s.")
            % {"type": defn.field_type, "types": ", ".join(T.values)},
            code="invalid_field_type",
            field="field_type",
        )
    if not (defn.label_zh or "").strip():
        raise FieldInvalid(_("label_zh is required."), code="required", field="label_zh")
    if len(defn.label_zh) > 100 or len(defn.label_en or "") > 100:
        raise FieldInvalid(_("A label has at most 100 characters."), field="label_zh")
    if len(defn.help_text or "") > 300:
        raise FieldInvalid(_("help_text has at most 300 characters."), field="help_text")
    if defn.field_type in (T.CHOICE, T.MULTI_CHOICE):
        if not isinstance(defn.choices, list) or not defn.choices:
            raise FieldInvalid(_("A choice field needs choices."), field="choices")
        values = []
        for c in defn.choices:
            if not isinstance(c, dict) or not str(c.get("value", "")).strip():
                raise FieldInvalid(_("Each choice needs a value."), field="choices")
            values.append(str(c["value"]))
        if len(set(values)) != len(values):
            raise FieldInvalid(_("Choice values must be different."), field="choices")
    elif defn.choices:
        raise FieldInvalid(_("Only choice fields have choices."), field="choices")
    if defn.field_type == T.REFERENCE:
        if not defn.target:
            defn.target = LEAD
        if not _object_exists(tenant, defn.target):
            raise FieldInvalid(
                _("target %(target)s is not an object of this tenant.") % {"target": defn.target},
                code="invalid_target",
                field="target",
            )
    elif defn.target:
        raise FieldInvalid(_("Only reference fields have a target."), field="target")
    if defn.unique and defn.field_type not in UNIQUE_TYPES:
        raise FieldInvalid(
            _("A %(type)s field cannot be unique.") % {"type": defn.field_type}, field="unique"
        )
    for attr in ("min_value", "max_value"):
        value = getattr(defn, attr)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise FieldInvalid(_("%(field)s must be a number.") % {"field": attr}, field=attr)
        if value is not None and not math.isfinite(value):
            raise FieldInvalid(_("%(field)s must be a number.") % {"field": attr}, field=attr)
    if defn.min_value is not None and defn.max_value is not None and defn.min_value > defn.max_value:
        raise FieldInvalid(_("min_value is greater than max_value."), field="min_value")
    if defn.max_length is not None and (isinstance(defn.max_length, bool) or defn.max_length < 1):
        raise FieldInvalid(_("max_length must be a positive number."), field="max_length")
    if defn.regex:
        if len(defn.regex) > 200:
            raise FieldInvalid(_("regex has at most 200 characters."), field="regex")
        try:
            re.compile(defn.regex)
        except re.error:
            raise FieldInvalid(_("regex is not a valid regular expression."), field="regex")
    if defn.searchable and defn.field_type not in (T.TEXT, T.LONG_TEXT, T.PHONE, T.EMAIL, T.URL):
        raise FieldInvalid(_("Only text fields are searchable (contains)."), field="searchable")
    if defn.default is not None:
        if defn.field_type in (T.REFERENCE, T.FILE):
            raise FieldInvalid(
                _("A %(type)s field has no default.") % {"type": defn.field_type}, field="default"
            )
        try:
            defn.default = _clean_value(defn, defn.default, tenant=tenant)
        except FieldInvalid as exc:
            raise FieldInvalid(exc.message, code=exc.code, field="default")


def field_definition_create(
    *, tenant: Any, object_type: str = LEAD, actor: Any = None, now: dt.datetime | None = None, **attrs: Any
) -> FieldDefinition:
    """Define a custom field on an object. `actor` (a Membership) must be an admin when given; the audit
    row names them."""
    require_admin(actor)
    unknown = set(attrs) - DEFINITION_ATTRS
    if unknown:
        field = sorted(unknown)[0]
        raise FieldInvalid(
            _("%(field)s cannot be set here.") % {"field": field}, code="unknown_field", field=field
        )
    if not _object_exists(tenant, object_type):
        raise NotFound(_("Object not found."), code="object_not_found")
    defn = FieldDefinition(tenant=tenant, object_type=object_type, **attrs)
    _check_definition(tenant, defn)
    now = now or clock.now()
    try:
        with transaction.atomic():
            defn.save()
            change_record(
                tenant=tenant,
                actor=getattr(actor, "user", None),
                action="field.create",
                obj=defn,
                before=None,
                after=definition_snapshot(defn),
                now=now,
            )
    except IntegrityError:
        raise Conflict(
            _("Field %(field)s exists already.") % {"field": defn.key}, code="duplicate_field", field="key"
        )
    return defn


# --- object types ------------------------------------------------------------------------------------


def object_type_snapshot(obj: ObjectType) -> dict[str, Any]:
    return {
        "key": obj.key,
        "label_zh": obj.label_zh,
        "label_en": obj.label_en,
        "kind": obj.kind,
        "description": obj.description,
        "display_field": obj.display_field,
        "is_active": obj.is_active,
    }


@transaction.atomic
def object_type_create(
    *,
    tenant: Any,
    actor: Any,
    key: str,
    label_zh: str,
    label_en: str = "",
    kind: str = ObjectType.Kind.CUSTOM,
    description: str = "",
    display_field: str = "",
    now: dt.datetime | None = None,
) -> ObjectType:
    """A custom object or a lead type. A lead type comes with a required, unique `lead` reference field:
    each of its records extends one lead."""
    require_admin(actor)
    now = now or clock.now()
    if not OBJECT_KEY_RE.fullmatch(key or "") or key in RESERVED_OBJECT_KEYS:
        raise FieldInvalid(
            _(
                "key must start with a letter, hold lower-case letters, digits and underscores, "
                "and not be reserved."
            ),
            field="key",
        )
    if kind not in ObjectType.Kind.values:
        raise FieldInvalid(
            _("kind must be one of %(choices)s.") % {"choices": ", ".join(ObjectType.Kind.values)},
            field="kind",
        )
    if not (label_zh or "").strip() or len(label_zh) > 100 or len(label_en or "") > 100:
        raise FieldInvalid(
            _("label_zh is required (at most 100 characters)."), code="required", field="label_zh"
        )
    if len(description or "") > 300:
        raise FieldInvalid(_("description has at most 300 characters."), field="description")
    if display_field and not KEY_RE.fullmatch(display_field):
        raise FieldInvalid(_("display_field must be a field key."), field="display_field")
    obj = ObjectType(
        tenant=tenant,
        key=key,
        label_zh=label_zh.strip(),
        label_en=(label_en or "").strip(),
        kind=kind,
        description=description or "",
        display_field=display_field or "",
        created_at=now,
    )
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise Conflict(
            _("Object %(key)s exists already.") % {"key": key}, code="duplicate_object", field="key"
        )
    change_record(
        tenant=tenant,
        actor=getattr(actor, "user", None),
        action="object_type.create",
        obj=obj,
        before=None,
        after=object_type_snapshot(obj),
        now=now,
    )
    if kind == ObjectType.Kind.LEAD_TYPE:
        field_definition_create(
            tenant=tenant,
            object_type=key,
            actor=actor,
            now=now,
            key="lead",
            label_zh="线索",
            label_en="Lead",
            field_type=T.REFERENCE,
            target=LEAD,
            required=True,
            unique=True,
        )
    return obj


# --- records -----------------------------------------------------------------------------------------

WRITER_ROLES = {"admin", "hq", "manager"}


def can_write_records(membership: Any) -> bool:
    return membership.role in WRITER_ROLES


def _require_writer(actor: Any) -> None:
    if not can_write_records(actor):
        raise Forbidden(_("Only administrators, HQ and managers change records."))


def _display_name(obj: ObjectType, data: dict[str, Any], defs: list[FieldDefinition]) -> str:
    keys = [obj.display_field] if obj.display_field else []
    keys += [d.key for d in defs if d.field_type in (T.TEXT, T.CHOICE, T.PHONE, T.EMAIL)]
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value[:200]
    return ""


def record_snapshot(record: CustomRecord) -> dict[str, Any]:
    return {"display_name": record.display_name, "data": dict(record.data)}


def _sync_values(
    tenant: Any, obj_key: str, record_id: int, data: dict[str, Any], defs: list[FieldDefinition]
) -> None:
    custom_values_sync(tenant=tenant, object_type=obj_key, record_id=record_id, data=data, definitions=defs)


@transaction.atomic
def record_create(
    *,
    tenant: Any,
    actor: Any,
    object_type: ObjectType,
    data: dict[str, Any] | None,
    now: dt.datetime | None = None,
) -> CustomRecord:
    _require_writer(actor)
    now = now or clock.now()
    defs = field_definitions(tenant=tenant, object_type=object_type.key)
    cleaned = custom_data_validate(tenant=tenant, data=data, definitions=defs)
    record = CustomRecord(
        tenant=tenant,
        object_type=object_type,
        data=cleaned,
        display_name=_display_name(object_type, cleaned, defs),
        created_by=actor.user,
        updated_by=actor.user,
        created_at=now,
        updated_at=now,
    )
    record.save()
    _sync_values(tenant, object_type.key, record.pk, cleaned, defs)
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="record.create",
        obj=record,
        before=None,
        after={"object_type": object_type.key, **record_snapshot(record)},
        now=now,
    )
    return record


@transaction.atomic
def record_update(
    *,
    tenant: Any,
    actor: Any,
    record: CustomRecord,
    data: dict[str, Any] | None,
    now: dt.datetime | None = None,
) -> CustomRecord:
    """Only the keys given change; null clears one."""
    _require_writer(actor)
    now = now or clock.now()
    locked = CustomRecord.objects.select_for_update().get(tenant=tenant, pk=record.pk)
    obj = object_type_get(tenant=tenant, key=record.object_type.key)
    defs = field_definitions(tenant=tenant, object_type=obj.key)
    before = record_snapshot(locked)
    locked.data = custom_data_validate(tenant=tenant, data=data, existing=locked.data, definitions=defs)
    locked.display_name = _display_name(obj, locked.data, defs)
    diff_before, diff_after = changed_fields(before, record_snapshot(locked))
    if diff_after:
        locked.updated_at = now
        locked.updated_by = actor.user
        locked.save()
        _sync_values(tenant, obj.key, locked.pk, locked.data, defs)
        change_record(
            tenant=tenant,
            actor=actor.user,
            action="record.update",
            obj=locked,
            before=diff_before,
            after=diff_after,
            now=now,
        )
    locked.object_type = obj
    return locked


@transaction.atomic
def record_delete(*, tenant: Any, actor: Any, record: CustomRecord, now: dt.datetime | None = None) -> None:
    """Delete a record nothing refers to (a reference field of another record would dangle)."""
    from leadsea.metadata.selectors import references_to

    _require_writer(actor)
    now = now or clock.now()
    if references_to(tenant=tenant, target=record.object_type.key, record_id=record.pk, limit=1):
        raise Conflict(_("Other records refer to this record."), code="record_referenced")
    before = {"object_type": record.object_type.key, **record_snapshot(record)}
    custom_values_delete(tenant=tenant, object_type=record.object_type.key, record_id=record.pk)
    change_record(
        tenant=tenant,
        actor=actor.user,
        action="record.delete",
        obj=record,
        before=before,
        after=None,
        now=now,
    )
    CustomRecord.objects.filter(tenant=tenant, pk=record.pk).delete()


# --- files -------------------------------------------------------------------------------------------


@transaction.atomic
def file_upload(*, tenant: Any, actor: Any, upload: Any, now: dt.datetime | None = None) -> StoredFile:
    """Keep an uploaded file for a file field: under MEDIA_ROOT/<tenant id>/files/."""
    now = now or clock.now()
    if upload is None:
        raise FieldInvalid(_("No file was sent."), code="required", field="file")
    if upload.size is None or upload.size > MAX_FILE_BYTES:
        raise FieldInvalid(_("The file is larger than 20 MB."), code="file_too_large", field="file")
    name = re.sub(r"[^\w.\-]+", "_", (upload.name or "file").rsplit("/", 1)[-1])[-100:] or "file"
    content_type = (
        mimetypes.guess_type(name)[0] or getattr(upload, "content_type", "") or "application/octet-stream"
    )
    stored = StoredFile(
        tenant=tenant,
        name=(upload.name or name)[:200],
        content_type=content_type[:100],
        size=upload.size,
        created_by=actor.user,
        created_at=now,
    )
    stored.file.save(name, upload, save=False)
    stored.save()
    return stored
