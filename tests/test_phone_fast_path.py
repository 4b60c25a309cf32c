"""The plain Chinese phone shapes skip phonenumbers' full parse in intake: the result must be the one the
full parse, validation and formatting give (E.164 and the search form), on valid and invalid numbers alike."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from leadsea.intake import pipeline
from leadsea.intake.errors import RecordInvalid
from leadsea.leads.normalize import clean_text, phone_search_forms


def _slow(raw: str) -> tuple[str, str] | None:
    """What the full path gives: (E.164, search form), or None for a number it refuses."""
    try:
        parsed = phonenumbers.parse(clean_text(raw), "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164, phone_search_forms(e164)


def _fast(raw: str) -> tuple[str, str] | None:
    pipeline._SEARCH_FORMS.clear()
    try:
        e164 = pipeline._normalize_phone(raw, "phone")
    except RecordInvalid:
        return None
    return e164, pipeline._SEARCH_FORMS[e164]


def _samples(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        shape = rnd.randrange(6)
        if shape == 0:  # mobile, any second and third digit (unassigned ranges included)
            out.append("1" + "".join(rnd.choices("0123456789", k=10)))
        elif shape == 1:  # mobile written in groups
            d = "1" + "".join(rnd.choices("0123456789", k=10))
            out.append(f"{d[:3]} {d[3:7]} {d[7:]}")
        elif shape == 2:  # fixed line with a two-digit area code
            out.append(f"0{rnd.randrange(10, 30)}-{''.join(rnd.choices('0123456789', k=rnd.choice([7, 8])))}")
        elif shape == 3:  # three-digit area code, in brackets
            area = rnd.randrange(300, 1000)
            out.append(f"(0{area}){''.join(rnd.choices('0123456789', k=rnd.choice([7, 8])))}")
        elif shape == 4:  # any digits of a plausible length, a leading zero or not
            out.append("".join(rnd.choices("0123456789", k=rnd.randrange(9, 14))))
        else:  # carrier prefixes, service numbers, international forms: the full path
            out.append(
                rnd.choice(["17951 13800138000", "4008001234", "+86 138 0013 8000", "0086 10 65881234"])
            )
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_path_gives_what_the_full_parse_gives(seed: int) -> None:
    samples = _samples(3000, seed)
    for raw in samples:
        assert _fast(raw) == _slow(raw), raw
    # the shapes the fast path is for were in the samples, valid and invalid ones
    fast_hits = [raw for raw in samples if pipeline._fast_cn_phone(clean_text(raw)) is not None]
    assert len(fast_hits) > 500
    assert any(_slow(raw) is None for raw in samples)


def test_known_numbers() -> None:
    assert _fast("13800138000") == ("+8613800138000", "13800138000 8613800138000")
    assert _fast("010-6588 1234") == ("+861065881234", "01065881234 861065881234")
    assert _fast("(0755)86001234") == ("+8675586001234", "075586001234 8675586001234")
    assert _fast("12345") is None
