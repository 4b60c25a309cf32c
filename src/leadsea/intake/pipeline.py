"""The intake pipeline's pure parts: normalize an incoming record, its blocking keys, and scoring against
candidate leads with the batch matcher (no writes here; services.py decides and writes)."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.utils.translation import gettext as _

from leadsea.core import geo
from leadsea.core.errors import DomainError
from leadsea.intake import matching
from leadsea.intake.errors import RecordInvalid
from leadsea.leads.normalize import clean_text, fold_text, phone_search_forms

# Fields an incoming record may carry; anything else is kept in `raw` only.
TEXT_LIMITS = {
    "name": 200,
    "branch_name": 100,
    "category": 100,
    "address": 300,
    "province": 50,
    "city": 50,
    "district": 50,
}
# The lead fields that survivorship decides: the keys of FieldProvenance.given.
LEAD_FIELDS = (
    "name",
    "branch_name",
    "category",
    "address",
    "province",
    "city",
    "district",
    "phones",
    "position",
)
MAX_TAGS = 30

_BRANCH_TAIL = re.compile(r"^(.*?)\s*[(\[【「〔]([^()\[\]【】「」〔〕]+)[)\]】」〕]\s*$")
_PHONE_SPLIT = re.compile(r"[;,，；、|/]|\s{2,}|\s+(?:or|或)\s+")
_PROVINCE = re.compile(r"^(.{2,7}?(?:省|自治区|特别行政区))")
_MUNICIPALITY = re.compile(r"^(北京|上海|天津|重庆)市?")
_CITY = re.compile(r"^(.{2,8}?(?:市|自治州|地区|盟))")
_DISTRICT = re.compile(r"^(.{1,8}?(?:区|县|旗))")


def split_branch_name(name: str) -> tuple[str, str]:
    """'海底捞火锅（国贸店）' -> ('海底捞火锅', '国贸店'); full-width brackets are folded first."""
    m = _BRANCH_TAIL.match(name)
    if m and m.group(1).strip() and m.group(2).strip():
        return m.group(1).strip(), m.group(2).strip()
    return name, ""


def parse_admin_parts(address: str) -> tuple[str, str, str]:
    """Province, city and district at the head of a Chinese address ('北京市朝阳区建国路87号')."""
    text = address.replace(" ", "")
    province = city = district = ""
    m = _MUNICIPALITY.match(text)
    if m:
        province = city = f"{m.group(1)}市"
        text = text[m.end() :]
    else:
        m = _PROVINCE.match(text)
        if m:
            province = m.group(1)
            text = text[m.end() :]
        m = _CITY.match(text)
        if m:
            city = m.group(1)
            text = text[m.end() :]
    m = _DISTRICT.match(text)
    if m and (city or province):
        district = m.group(1)
    return province, city, district


def _text(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RecordInvalid(_("%(field)s must be a string.") % {"field": field}, field=field)
    value = clean_text(value)
    if len(value) > TEXT_LIMITS[field]:
        raise RecordInvalid(
            _("%(field)s is longer than %(limit)s characters.")
            % {"field": field, "limit": TEXT_LIMITS[field]},
            field=field,
        )
    return value


# E.164 -> its search form (phone_search_forms), filled as phones are normalized so that search_text of a new
# lead does not parse each phone again. Bounded: cleared when full.
_SEARCH_FORMS: dict[str, str] = {}
_SEARCH_FORMS_MAX = 100_000
_NON_DIGIT = re.compile(r"\D")


# The plain Chinese shapes ('13800138000', '010-6588 1234', '(0755)86001234') are checked against the
# library's own CN metadata without a full parse (a parse, validation and two formats cost ~0.2 ms a phone);
# anything else, or a number these patterns do not accept, takes the full path. The same result either way:
# tests/test_phone_fast_path.py compares both on many numbers.
_CN = phonenumbers.PhoneMetadata.metadata_for_region("CN")
assert _CN is not None
_PLAIN_DIALLED = re.compile(r"[\d\s()\-]+")
_CARRIER_PREFIX = re.compile(r"1(?:[12]\d|79)")  # _CN.national_prefix_for_parsing would strip these


def _desc(desc: Any) -> tuple[frozenset[int], re.Pattern[str]]:
    return frozenset(desc.possible_length), re.compile(desc.national_number_pattern)


_CN_GENERAL, _CN_MOBILE, _CN_FIXED = _desc(_CN.general_desc), _desc(_CN.mobile), _desc(_CN.fixed_line)


def _matches(number: str, desc: tuple[frozenset[int], re.Pattern[str]]) -> bool:
    return len(number) in desc[0] and desc[1].fullmatch(number) is not None


def _fast_cn_phone(text: str) -> tuple[str, str] | None:
    """(E.164, national digits) of a plainly dialled valid Chinese mobile or fixed line; None: parse it."""
    if not _PLAIN_DIALLED.fullmatch(text):
        return None
    digits = _NON_DIGIT.sub("", text)
    if len(digits) == 11 and digits[0] == "1" and not _CARRIER_PREFIX.match(digits):
        national, kind = digits, _CN_MOBILE
    elif 10 <= len(digits) <= 12 and digits[0] == "0" and digits[1] != "0":
        national, kind = digits[1:], _CN_FIXED
    else:
        return None
    if not (_matches(national, _CN_GENERAL) and _matches(national, kind)):
        return None
    return f"+86{national}", digits


def _normalize_phone(raw: str, field: str) -> str:
    """leads.normalize.normalize_phone (same parse, validation and errors), remembering the search form."""
    text = clean_text(raw)
    fast = _fast_cn_phone(text)
    if fast is not None:
        e164, national = fast
        if e164 not in _SEARCH_FORMS:
            if len(_SEARCH_FORMS) >= _SEARCH_FORMS_MAX:
                _SEARCH_FORMS.clear()
            _SEARCH_FORMS[e164] = f"{national} {e164[1:]}"
        return e164
    try:
        parsed = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        raise RecordInvalid(
            _("%(phone)s is not a phone number.") % {"phone": repr(raw)}, code="invalid_phone", field=field
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise RecordInvalid(
            _("%(phone)s is not a valid phone number.") % {"phone": repr(raw)},
            code="invalid_phone",
            field=field,
        )
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if e164 not in _SEARCH_FORMS:
        # the number as phonenumbers.parse(e164) reads it back: country code, national number, leading zeros
        bare = phonenumbers.PhoneNumber(
            country_code=parsed.country_code,
            national_number=parsed.national_number,
            italian_leading_zero=parsed.italian_leading_zero,
            number_of_leading_zeros=parsed.number_of_leading_zeros,
        )
        national = phonenumbers.format_number(bare, phonenumbers.PhoneNumberFormat.NATIONAL)
        if len(_SEARCH_FORMS) >= _SEARCH_FORMS_MAX:
            _SEARCH_FORMS.clear()
        _SEARCH_FORMS[e164] = f"{_NON_DIGIT.sub('', national)} {_NON_DIGIT.sub('', e164)}"
    return e164


def _phone_search_form(e164: str) -> str:
    form = _SEARCH_FORMS.get(e164)
    return form if form is not None else phone_search_forms(e164)


def _phones(data: dict[str, Any]) -> list[str]:
    raw: list[Any] = []
    for field in ("phone", "phones"):
        value = data.get(field)
        if value in (None, ""):
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(int(value))
        if isinstance(value, str):
            raw.extend((field, part) for part in _PHONE_SPLIT.split(value))
        elif isinstance(value, list):
            raw.extend((field, part) for part in value)
        else:
            raise RecordInvalid(_("phone must be a string."), field=field)
    result: list[str] = []
    for field, part in raw:
        if not isinstance(part, str):
            raise RecordInvalid(_("phone must be a string."), field=field)
        if not part.strip():
            continue
        e164 = _normalize_phone(part, field)
        if e164 not in result:
            result.append(e164)
    return result


def _coordinate(data: dict[str, Any], field: str, limit: float) -> float | None:
    value = data.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordInvalid(_("%(field)s must be a number.") % {"field": field}, field=field)
    try:
        number = float(fold_text(value) if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise RecordInvalid(_("%(field)s must be a number.") % {"field": field}, field=field) from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise RecordInvalid(
            _("%(field)s must lie between %(low)s and %(high)s.")
            % {"field": field, "low": f"-{limit:g}", "high": f"{limit:g}"},
            field=field,
        )
    return number


def _tags(data: dict[str, Any]) -> list[str]:
    value = data.get("tags")
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = re.split(r"[,，;；、|]", value)
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise RecordInvalid(_("tags must be a list of strings."), field="tags")
    tags: list[str] = []
    for raw in value:
        tag = clean_text(raw)
        if tag and tag not in tags:
            if len(tag) > 50:
                raise RecordInvalid(
                    _("Tag %(tag)s... is longer than 50 characters.") % {"tag": tag[:20]}, field="tags"
                )
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise RecordInvalid(_("A lead has at most %(max)s tags.") % {"max": MAX_TAGS}, field="tags")
    return tags


def normalize(data: dict[str, Any]) -> dict[str, Any]:
    """The record's fields, normalized: width-folded text, the branch split off the name, the brand, phones
    in E.164, province/city/district (from the address when not given) and the position in WGS-84.
    Raises RecordInvalid (a FieldInvalid with the field at fault)."""
    if not isinstance(data, dict):
        raise RecordInvalid(_("A record must be an object."), code="malformed", field=None)
    out: dict[str, Any] = {f: _text(data, f) for f in TEXT_LIMITS}
    if not out["name"]:
        raise RecordInvalid(_("name is required."), code="required", field="name")
    if not out["branch_name"]:
        out["name"], out["branch_name"] = split_branch_name(out["name"])
    if not out["name"]:
        raise RecordInvalid(_("name is required."), code="required", field="name")
    if out["address"] and not (out["province"] and out["city"] and out["district"]):
        province, city, district = parse_admin_parts(out["address"])
        out["province"] = out["province"] or province
        out["city"] = out["city"] or city
        out["district"] = out["district"] or district
    out["phones"] = _phones(data)
    lat = _coordinate(data, "lat", 90)
    lng = _coordinate(data, "lng", 180)
    if (lat is None) != (lng is None):
        raise RecordInvalid(_("lat and lng go together."), field="lng" if lng is None else "lat")
    coord_sys = data.get("coord_sys") or "wgs84"
    if coord_sys not in geo.COORD_SYSTEMS:
        raise RecordInvalid(_("coord_sys must be wgs84, gcj02 or bd09."), field="coord_sys")
    if lat is not None and lng is not None:
        if coord_sys != "wgs84":
            lat, lng = geo.to_wgs84(lat, lng, coord_sys)
        lat, lng = round(lat, 7), round(lng, 7)
    out["lat"], out["lng"] = lat, lng
    out["tags"] = _tags(data)
    custom = data.get("custom_fields")
    if custom is not None and not isinstance(custom, dict):
        raise RecordInvalid(_("custom_fields must be an object."), field="custom_fields")
    out["custom_fields"] = custom or {}
    return out


def lock_city(normalized: dict[str, Any]) -> str:
    """The city whose intake lock a normalized record takes (`lock_names`): one spelling per city."""
    return matching.canonical_city(normalized.get("city") or "")


LOCK_CELL_DEG = 0.2  # ~20 km: two positions within ~10 km share one of their four nearest cells


def lock_names(normalized: dict[str, Any]) -> list[str]:
    """The intake locks a normalized record takes (services._lock_records): the city's it names; naming
    none, the 2x2 coarse cells nearest to its position (services also locks the cities of the leads around
    it); with neither city nor position, the empty city's. A record naming a city takes no cell lock: a
    wrong position would make batches of two cities wait for each other."""
    city, cells = lock_city(normalized), lock_cells(normalized)
    return [f"city|{city}"] if city or not cells else cells


def lock_cells(normalized: dict[str, Any]) -> list[str]:
    """The lock names of the 2x2 coarse cells nearest to a record's position (none when it has none)."""
    lat, lng = normalized.get("lat"), normalized.get("lng")
    if lat is None or lng is None:
        return []
    return [f"cell|{cell}" for cell in matching._quad_cells(lat, lng, LOCK_CELL_DEG)]


def brand_of(normalized: dict[str, Any]) -> str:
    """The brand (the name without its branch and generic words): '海底捞火锅（国贸店）' -> '海底捞'."""
    rec = matching.prepare([raw_record("", normalized)])[0]
    return rec.bare_key


def payload_hash(data: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def field_values(normalized: dict[str, Any]) -> dict[str, Any]:
    """The survivorship fields a record gives (empty values say nothing and are left out)."""
    values: dict[str, Any] = {}
    for field in LEAD_FIELDS:
        if field == "position":
            if normalized.get("lat") is not None:
                values[field] = [normalized["lat"], normalized["lng"]]
        elif field == "phones":
            if normalized.get("phones"):
                values[field] = list(normalized["phones"])
        elif normalized.get(field):
            values[field] = normalized[field]
    return values


def search_text(name: str, branch_name: str, address: str, phones: Iterable[str]) -> str:
    """The same `search_text` as leads.services builds."""
    return " ".join(
        [fold_text(name), fold_text(branch_name), fold_text(address)]
        + [_phone_search_form(p) for p in phones]
    )


# ----------------------------------------------------------------------------------------------------------
# Matching: records and leads as the matcher sees them, blocking keys, scores
# ----------------------------------------------------------------------------------------------------------


def _phone_text(phones: Sequence[str]) -> str:
    """E.164 to the national forms the matcher's phone keys read without phonenumbers (fast path)."""
    parts: list[str] = []
    for p in phones:
        if p.startswith("+86"):
            nsn = p[3:]
            parts.append(nsn if nsn.startswith("1") and len(nsn) == 11 else f"0{nsn}")
        else:
            parts.append(p)
    return "; ".join(parts)


def raw_record(rid: str, values: dict[str, Any]) -> matching.RawRecord:
    """A record or a lead (anything with name, branch_name, address, city, phones, lat, lng, category)."""
    name = values.get("name") or ""
    branch = values.get("branch_name") or ""
    return matching.RawRecord(
        id=rid,
        name=f"{name}({branch})" if branch else name,
        address=values.get("address") or "",
        city=values.get("city") or "",
        phone=_phone_text(values.get("phones") or ()),
        lat=values.get("lat"),
        lng=values.get("lng"),
        category=values.get("category") or "",
    )


KEY_CELL_DEG = 0.01  # ~1 km: a lead stores its own cell, a record asks for the 2x2 cells nearest to it


def _cell(lat: float, lng: float) -> str:
    """A position's own key cell, named as `matching._quad_cells` names it (its first cell)."""
    return f"{math.floor(lng / KEY_CELL_DEG)},{math.floor(lat / KEY_CELL_DEG)}"


def hash_key(text: str) -> int:
    """A signed 64-bit hash of a text (blocking keys, advisory lock keys)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def _name_keys(rec: matching.Rec) -> list[str]:
    tokens = sorted(matching._name_tokens(rec))
    keys = []
    if rec.bare_key:
        keys.append(f"c{rec.city}|{rec.bare_key}")
    if rec.bare_py:
        keys.append(f"y{rec.city}|{rec.bare_py}")
    if rec.branch:
        keys.append(f"n{rec.bare_py or rec.bare_key}|{rec.branch}")
    address = matching._address_key(rec.addr)
    if address:
        keys.append(f"a{address}")
    keys.extend(f"p{phone}" for phone in rec.phones)
    return keys + [f"t{tok}" for tok in tokens]


def _keys(rec: matching.Rec, cells: Sequence[str]) -> list[int]:
    """The record's blocking keys, its name tokens qualified by each of `cells`."""
    out: list[int] = []
    for key in _name_keys(rec):
        if key[0] == "t":
            out.extend(hash_key(f"g{cell}|{key[1:]}") for cell in cells)
        else:
            out.append(hash_key(key))
    return sorted(set(out))


def lead_keys(rec: matching.Rec) -> list[int]:
    """The keys a lead is stored under: its name tokens in its own ~1 km cell, brand and pinyin in its city,
    brand + branch, street + number, phones."""
    placed = rec.lat is not None and rec.lng is not None
    return _keys(rec, [_cell(rec.lat, rec.lng)] if placed else [])  # type: ignore[arg-type]


def query_keys(rec: matching.Rec) -> list[int]:
    """The keys a record looks up: as lead_keys, but the name tokens in the 2x2 cells nearest to it
    (`matching._quad_cells`, as the dedup command blocks), so a lead within half a cell (~500 m) on each
    axis sharing a name token is always found. The 3x3 cells around its own (~1 km) cost more than twice the
    probes and found fewer duplicates at 1M leads (more far candidates crowding the near one out of the
    MAX_CANDIDATES; `leadsea bench intake --cpu`, measured)."""
    placed = rec.lat is not None and rec.lng is not None
    return _keys(rec, matching._quad_cells(rec.lat, rec.lng, KEY_CELL_DEG) if placed else [])  # type: ignore[arg-type]


@dataclass(slots=True)
class Scored:
    lead_id: int
    probability: float
    parts: dict[str, float]


def explain(a: matching.Rec, b: matching.Rec) -> dict[str, float]:
    """compare()'s field by field explanation for two prepared records."""
    parts: dict[str, float] = {}
    parts["score"] = matching.probability(matching.score_logodds(a, b, parts))
    return {k: round(v, 4) for k, v in parts.items()}


def error_dict(exc: DomainError) -> dict[str, Any]:
    return {"code": exc.code, "message": str(exc.message), "field": exc.field}
