"""The wizard's review step names field types, object kinds, roles, pool rules and the language in words
(zh-Hans or English), never by their keys."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from conftest import PASSWORD
from leadsea.onboarding.templatetags.onboarding_labels import (
    field_type_label,
    language_label,
    object_kind_label,
    role_label,
)
from leadsea.onboarding.views import POLICY_KEYS
from leadsea.pools.models import POLICY_FIELDS
from leadsea.pools.rule_labels import POOL_RULE_LABELS
from leadsea.pools.templatetags.pools import pool_rule_label

USERS_CSV = "username,name,role,org,password\nsh-manager,上海经理,manager,,\n"


def _review(membership: Any, language: str) -> str:
    c = Client()
    c.cookies["leadsea_language"] = language
    r = c.post(
        "/login/",
        {"tenant": membership.tenant.slug, "username": membership.user.username, "password": PASSWORD},
    )
    assert r.status_code == 302
    r = c.post(
        "/onboarding/",
        {
            "step": "tenant",
            "slug": "hotel-sh",
            "name": "酒店上海",
            "language": "zh-hans",
            "time_zone": "Asia/Shanghai",
            "template": "hotel",
            "org_csv": "path,name,kind,parent\n华东,,region,\n华东/上海,,city,\n华东/上海/静安一组,,team,\n",
            "users_csv": USERS_CSV,
        },
    )
    assert r.status_code == 200 and 'id="wizard-review"' in r.content.decode()
    return r.content.decode()


def _muted(html: str) -> list[str]:
    """The muted notes after each field and object type: the field type, or the kind and description."""
    return re.findall(r'</code> <span class="muted">([^<·]*)', html)


def _policy_labels(html: str) -> list[str]:
    return re.findall(r'<label>([^<]*)<input type="number" name="policy_', html)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "zh-hans",
            {
                "policy": ["每位 BD 私海线索上限（领取上限）", "领取后保护期天数"],
                "types": ["单选", "整数", "小数", "关联", "电话", "日期", "金额"],
                "kinds": ["线索类型", "自定义对象"],
                "other": ["上海经理", "主管", "简体中文", "(总部)", "华东/上海 (城市)", "(团队)"],
            },
        ),
        (
            "en",
            {
                "policy": ["Private leads per BD (claim limit)", "Protection days from the claim"],
                "types": ["Choice", "Number", "Decimal", "Reference", "Phone", "Date", "Money"],
                "kinds": ["Lead type", "Custom object"],
                "other": ["上海经理", "Manager", "简体中文", "(HQ)", "华东/上海 (City)", "(Team)"],
            },
        ),
    ],
)
def test_the_review_step_says_words_not_keys(org, language, words):
    html = _review(org.admin, language)
    policy = _policy_labels(html)
    assert len(policy) == len(POLICY_KEYS)
    assert not set(policy) & set(POLICY_KEYS)
    assert set(words["policy"]) <= set(policy)
    muted = {m.strip() for m in _muted(html)}
    assert set(words["types"]) | set(words["kinds"]) <= muted
    keys = {"choice", "number", "decimal", "reference", "phone", "date", "money", "text", "lead_type"}
    assert not muted & (keys | {"custom"})
    for word in words["other"]:
        assert word in html
    assert "(hq)" not in html and "· manager" not in html and "zh-hans</p>" not in html
    assert not re.search(r"\((city|team|region)\)", html)  # org units by their kind in words


def test_every_pool_rule_has_words_and_unknown_keys_stay_as_they_are():
    assert set(POOL_RULE_LABELS) == set(POLICY_FIELDS)
    with translation.override("zh-hans"):
        assert pool_rule_label("no_visit_days") == "无有效拜访多少天后掉入公海"
        assert field_type_label("multi_choice") == "多选"
        assert object_kind_label("custom") == "自定义对象"
        assert role_label("crowd") == "众包"
        for unknown in (pool_rule_label, field_type_label, object_kind_label, role_label, language_label):
            assert unknown("no_such_key") == "no_such_key"
    with translation.override("en"):
        assert pool_rule_label("no_visit_days") == "Days without a verified visit before a drop"
        assert field_type_label("boolean") == "Yes/no"
    assert language_label("en") == "English" and language_label("zh-hans") == "简体中文"
