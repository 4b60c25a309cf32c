"""Custom fields: defining them, and validating values against a tenant's definitions in one place."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from leadsea.core.errors import Conflict, FieldInvalid
from leadsea.metadata.models import FieldDefinition
from leadsea.metadata.selectors import field_definitions

T = FieldDefinition.Type
MAX_SAFE_INTEGER = Decimal(2**53 - 1)
MAX_DECIMAL = Decimal("1e300")


def _invalid(defn: FieldDefinition, message: str) -> FieldInvalid:
    return FieldInvalid(message, code="invalid_custom_field", field=f"custom_fields.{defn.key}")


def _clean_value(defn: FieldDefinition, value: Any) -> Any:
    """Return the JSON value to store, or raise FieldInvalid naming the field."""
    if value is None or value == "" or value == []:
        if defn.required:
            raise FieldInvalid(
                _("%(label)s (%(field)s) is required.") % {"label": defn.label_zh, "field": defn.key},
                code="required",
                field=f"custom_fields.{defn.key}",
            )
        return None
    ft = defn.field_type
    if ft in (T.TEXT, T.LONG_TEXT, T.PHONE, T.EMAIL, T.URL):
        if not isinstance(value, str):
            raise _invalid(defn, _("%(field)s must be a string.") % {"field": defn.key})
        value = value.strip()
        limit = defn.max_length or (10000 if ft == T.LONG_TEXT else 500)
        if len(value) > limit:
            raise _invalid(
                defn,
                _("%(field)s is longer than %(limit)s characters.") % {"field": defn.key, "limit": limit},
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
    if ft in (T.NUMBER, T.DECIMAL):
        if isinstance(value, bool):
            raise _invalid(defn, _("%(field)s must be a number.") % {"field": defn.key})
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _invalid(defn, _("%(field)s must be a number.") % {"field": defn.key})
        if not number.is_finite():
            raise _invalid(defn, _("%(field)s must be a finite number.") % {"field": defn.key})
        if ft == T.NUMBER and number != number.to_integral_value():
            raise _invalid(defn, _("%(field)s must be a whole number.") % {"field": defn.key})
        # What JSON (and a browser) can carry exactly: '1e5000' would otherwise fail when stored, as a 500.
        if abs(number) > (MAX_SAFE_INTEGER if ft == T.NUMBER else MAX_DECIMAL):
            raise _invalid(defn, _("%(field)s is too large.") % {"field": defn.key})
        if defn.min_value is not None and number < Decimal(str(defn.min_value)):
            raise _invalid(
                defn,
                _("%(field)s must be at least %(min)s.")
                % {"field": defn.key, "min": format(defn.min_value, "g")},
            )
        if defn.max_value is not None and number > Decimal(str(defn.max_value)):
            raise _invalid(
                defn,
                _("%(field)s must be at most %(max)s.")
                % {"field": defn.key, "max": format(defn.max_value, "g")},
            )
        return int(number) if ft == T.NUMBER else float(number)
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
    if ft == T.CHOICE:
        if str(value) not in defn.choice_values():
            raise _invalid(
                defn,
                _("%(field)s must be one of %(choices)s.")
                % {"field": defn.key, "choices": ", ".join(defn.choice_values())},
            )
        return str(value)
    if ft == T.MULTI_CHOICE:
        values = value if isinstance(value, list) else [value]
        allowed = defn.choice_values()
        bad = [v for v in values if str(v) not in allowed]
        if bad:
            raise _invalid(
                defn,
                _("%(field)s: %(value)s is not one of %(choices)s.")
                % {"field": defn.key, "value": bad[0], "choices": ", ".join(allowed)},
            )
        return sorted({str(v) for v in values}, key=allowed.index)
    raise _invalid(defn, _("%(field)s has an unknown type %(type)s.") % {"field": defn.key, "type": ft})


def custom_data_validate(
    *,
    tenant: Any,
    data: dict[str, Any] | None,
    existing: dict[str, Any] | None = None,
    object_type: str = "lead",
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
            cleaned = _clean_value(defn, data[key])
        elif creating:
            cleaned = _clean_value(defn, defn.default)
        else:
            continue
        if cleaned is None:
            result.pop(key, None)
        else:
            result[key] = cleaned
    return result


def field_definition_create(*, tenant: Any, object_type: str = "lead", **attrs: Any) -> FieldDefinition:
    defn = FieldDefinition(tenant=tenant, object_type=object_type, **attrs)
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", defn.key or ""):
        raise FieldInvalid("key must be lower-case letters, digits and _.", field="key")
    if defn.field_type not in T.values:
        raise FieldInvalid(f"Unknown field type {defn.field_type}.", field="field_type")
    if defn.field_type in (T.CHOICE, T.MULTI_CHOICE) and not defn.choices:
        raise FieldInvalid("A choice field needs choices.", field="choices")
    if defn.regex:
        try:
            re.compile(defn.regex)
        except re.error:
            raise FieldInvalid("regex is not a valid regular expression.", field="regex")
    try:
        with transaction.atomic():
            defn.save()
    except IntegrityError:
        raise Conflict(f"Field {defn.key} exists already.", code="duplicate_field", field="key")
    return defn
