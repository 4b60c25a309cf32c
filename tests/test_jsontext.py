"""core.jsontext: orjson's text parses back to what the standard library's did, in the same forms."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext_lazy

from leadsea.core import jsontext


@pytest.mark.parametrize(
    "value",
    [
        {"name": "海底捞（国贸店）", "phones": ["+8613800138000"], "lat": 39.9087, "ok": True, "x": None},
        [1, 2.5, "a\u2028b", "tab\tand\nnewline", '引号"和\\反斜杠', {"nested": [[]]}],
        "",
        0,
    ],
)
def test_plain_values_parse_back_the_same(value):
    text = jsontext.dumps(value)
    assert json.loads(text) == value
    assert jsontext.loads(text) == value


def test_non_ascii_is_kept_as_it_is():
    assert jsontext.dumps({"name": "喜茶"}) == '{"name":"喜茶"}'


def test_non_string_keys_as_the_standard_library_writes_them():
    assert json.loads(jsontext.dumps({1: "a", 2: "b"})) == json.loads(json.dumps({1: "a", 2: "b"}))


def test_integers_beyond_64_bits_fall_back_to_the_standard_library():
    assert json.loads(jsontext.dumps({"big": 2**70})) == {"big": 2**70}


def test_django_forms_match_django_json_encoder():
    moment = dt.datetime(2026, 11, 25, 8, 30, 15, 123456, tzinfo=dt.UTC)
    value = {
        "at": moment,
        "day": dt.date(2026, 11, 25),
        "time": dt.time(9, 5, 1, 250000),
        "amount": Decimal("12.50"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "label": gettext_lazy("Name"),
    }
    expected = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    assert json.loads(jsontext.dumps(value, django=True)) == expected


def test_unknown_types_are_refused_as_before():
    @dataclass
    class Thing:
        a: int

    with pytest.raises(TypeError):
        json.dumps({"t": Thing(1)}, cls=DjangoJSONEncoder)
    with pytest.raises(TypeError):
        jsontext.dumps({"t": Thing(1)}, django=True)
    with pytest.raises(TypeError):
        jsontext.dumps({"t": object()})
    assert jsontext.dumps({"t": object()}, default=lambda o: "obj") == '{"t":"obj"}'
