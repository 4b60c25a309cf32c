"""Normalization of Chinese text and phone numbers for storage and search."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from django.utils.translation import gettext as _

from leadsea.core.errors import FieldInvalid

_SPACES = re.compile(r"\s+")
_NON_DIGIT = re.compile(r"\D")
_PHONE_LIKE = re.compile(r"^[+\d\s\-()（）]{4,}$")


def fold_text(value: str) -> str:
    """Full-width to half-width (NFKC), lower case, collapsed spaces: '（国贸店）ＡＢＣ' -> '(国贸店)abc'."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value or "")).strip().lower()


def clean_text(value: str | None) -> str:
    """Trim and collapse whitespace, fold full-width ASCII; keep Chinese characters and case."""
    if not value:
        return ""
    value = unicodedata.normalize("NFKC", value)
    return _SPACES.sub(" ", value).strip()


def normalize_phone(raw: str, *, field: str = "phone", region: str = "CN") -> str:
    """Parse a phone as dialled in China ('138 0013 8000', '010-6588-1234', '+86 ...') to E.164."""
    text = clean_text(raw)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise FieldInvalid(
            _("%(phone)s is not a phone number.") % {"phone": repr(raw)}, code="invalid_phone", field=field
        )
    if not phonenumbers.is_valid_number(parsed):
        raise FieldInvalid(
            _("%(phone)s is not a valid phone number.") % {"phone": repr(raw)},
            code="invalid_phone",
            field=field,
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_search_forms(e164: str) -> str:
    """Digits a user may type for this number: national with trunk prefix ('01065881234') and E.164."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return _NON_DIGIT.sub("", e164)
    national = _NON_DIGIT.sub("", phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL))
    return f"{national} {_NON_DIGIT.sub('', e164)}"


def search_query_terms(q: str) -> str:
    """The needle for a `q` search: phone-like input is reduced to its digits, text is folded."""
    q = fold_text(q)
    if _PHONE_LIKE.match(q) and sum(c.isdigit() for c in q) >= 4:
        digits = _NON_DIGIT.sub("", q)
        return digits[2:] if q.startswith("+86") else digits
    return q
