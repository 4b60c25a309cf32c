"""Onboarding a business line: the service (templates, org tree and users from CSV, adjustments, all or
nothing, audit), the API, the CLI and the wizard pages."""

from __future__ import annotations

import json
import re
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import translation

from leadsea.audit.models import ChangeLog
from leadsea.core.errors import FieldInvalid
from leadsea.metadata.models import FieldDefinition, ObjectType
from leadsea.metadata.services import custom_data_validate
from leadsea.onboarding.errors import CsvInvalid, SpecInvalid, TenantExists
from leadsea.onboarding.models import PageConfig
from leadsea.onboarding.selectors import page_settings_of
from leadsea.onboarding.services import tenant_onboard
from leadsea.onboarding.templates import TEMPLATES
from leadsea.pipeline.models import LostReason, Stage
from leadsea.pools.models import Pool
from leadsea.tenancy.models import Membership, OrgUnit, Tenant
from leadsea.tenancy.services import token_issue

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-9"
ORG_CSV = (
    "path,name,kind,parent\n华东,,region,\n华东/上海,,city,\n,静安一组,team,华东/上海\n"
    "华东/上海/静安二组,静安二组,team,\n"
)
USERS_CSV = (
    "username,name,role,org,password\n"
    "sh-manager,上海经理,manager,华东/上海,\n"
    "sh-bd1,王五,bd,华东/上海/静安一组,another-pass-7\n"
    "sh-hq,总部,hq,,\n"
)


def _spec(**over: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "slug": "hotel-sh",
        "name": "酒店上海",
        "template": "hotel",
        "language": "zh-hans",
        "time_zone": "Asia/Shanghai",
        "admin": {"username": "hotel-admin", "password": PASSWORD, "name": "酒店管理员"},
        "org_csv": ORG_CSV,
        "users_csv": USERS_CSV,
    }
    spec.update(over)
    return spec


def _nothing_written(slug: str = "hotel-sh") -> None:
    assert not Tenant.objects.filter(slug=slug).exists()
    assert not get_user_model().objects.filter(username__in=["hotel-admin", "sh-manager", "sh-bd1"]).exists()


def test_hotel_template_creates_the_whole_business_line(org):
    done = tenant_onboard(spec=_spec(), actor=org.admin.user)
    tenant = done.tenant
    assert (tenant.slug, tenant.name, tenant.time_zone, tenant.visit_radius_m) == (
        "hotel-sh",
        "酒店上海",
        "Asia/Shanghai",
        500,
    )
    # Org tree: root + region + city + two teams, with materialized paths.
    units = {u.name: u for u in OrgUnit.objects.filter(tenant=tenant)}
    assert set(units) == {"酒店上海", "华东", "上海", "静安一组", "静安二组"}
    assert units["静安一组"].parent_id == units["上海"].pk and units["上海"].parent_id == units["华东"].pk
    assert units["静安二组"].path.startswith(units["上海"].path)
    # Users with roles and org units; made-up passwords work, given ones too.
    members = {
        m.user.username: m
        for m in Membership.objects.filter(tenant=tenant).select_related("user", "org_unit")
    }
    assert {k: (m.role, m.org_unit.name) for k, m in members.items()} == {
        "hotel-admin": ("admin", "酒店上海"),
        "sh-manager": ("manager", "上海"),
        "sh-bd1": ("bd", "静安一组"),
        "sh-hq": ("hq", "酒店上海"),
    }
    assert set(done.generated_passwords) == {"sh-manager", "sh-hq"}
    assert authenticate(username="sh-manager", password=done.generated_passwords["sh-manager"]) is not None
    assert authenticate(username="sh-bd1", password="another-pass-7") is not None
    token_issue(tenant_slug="hotel-sh", username="hotel-admin", password=PASSWORD)
    # The template: lead types with their relation, a custom object, lead fields, stages, reasons, pool rules.
    objects = {o.key: o for o in ObjectType.objects.filter(tenant=tenant)}
    assert {k: o.kind for k, o in objects.items()} == {
        "hotel_group": "lead_type",
        "hotel": "lead_type",
        "room_type": "custom",
    }
    relation = FieldDefinition.objects.get(tenant=tenant, object_type="hotel", key="hotel_group")
    assert (relation.field_type, relation.target) == ("reference", "hotel_group")
    lead_fields = set(
        FieldDefinition.objects.filter(tenant=tenant, object_type="lead").values_list("key", flat=True)
    )
    assert {"star_rating", "monthly_room_nights", "avg_daily_rate", "room_count"} <= lead_fields
    assert list(Stage.objects.filter(tenant=tenant).values_list("key", flat=True)) == [
        "contact",
        "site_inspection",
        "rate_negotiation",
        "contract",
        "online",
        "lost",
    ]
    assert Stage.objects.get(tenant=tenant, key="online").kind == "won"
    assert LostReason.objects.filter(tenant=tenant, key="ota_exclusive").exists()
    pool = Pool.objects.get(tenant=tenant, is_default=True)
    assert (pool.protection_days, pool.no_visit_days, pool.claim_limit) == (60, 20, 80)
    # The fields validate lead data of the new tenant (through the metadata services).
    assert (
        custom_data_validate(tenant=tenant, data={"star_rating": "4", "monthly_room_nights": 1200})[
            "star_rating"
        ]
        == "4"
    )
    # The counts and one audit row naming who onboarded.
    assert done.counts == {
        "org_units": 5,
        "users": 4,
        "object_types": 3,
        "fields": 8 + 2 + 3 + 5,
        "stages": 6,
        "lost_reasons": 5,
    }
    row = ChangeLog.objects.get(tenant=tenant, action="tenant.onboard")
    assert row.actor == org.admin.user and row.after["template"] == "hotel"
    assert row.after["users"]["sh-bd1"] == "bd" and "华东/上海/静安一组" in row.after["org_units"]
    # Page configuration row with every module on.
    assert PageConfig.objects.filter(tenant=tenant).exists()
    assert all(page_settings_of(tenant=tenant).modules.values())


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_applies(template):
    done = tenant_onboard(
        spec={
            "slug": f"t-{template.replace('_', '-')}",
            "name": template,
            "template": template,
            "admin": {"username": f"adm-{template}", "password": PASSWORD},
        }
    )
    tenant = done.tenant
    content = TEMPLATES[template]
    assert ObjectType.objects.filter(tenant=tenant).count() == len(content["object_types"])
    assert Stage.objects.filter(tenant=tenant).count() == len(content["stages"])
    assert tenant.visit_radius_m == content["visit_radius_m"]
    assert OrgUnit.objects.filter(tenant=tenant).count() == 1


def test_templates_label_everything_in_chinese_and_english():
    for template in TEMPLATES.values():
        assert (
            template["label_zh"]
            and template["label_en"]
            and template["description_zh"]
            and template["description_en"]
        )
        fields = list(template["lead_fields"]) + [f for o in template["object_types"] for f in o["fields"]]
        for item in [*fields, *template["object_types"], *template["stages"], *template["lost_reasons"]]:
            zh = item.get("label_zh") or item.get("name_zh")
            en = item.get("label_en") or item.get("name_en")
            assert zh and en, item
            assert re.search(r"[\u4e00-\u9fff]", zh), item
        for f in fields:
            for c in f.get("choices", []):
                assert c["label_zh"] and c["label_en"], c


def test_adjustments_replace_the_templates_parts(org):
    stages = [
        {"key": "new", "name_zh": "新建", "name_en": "New", "kind": "open", "probability": 5},
        {"key": "signed", "name_zh": "签约", "name_en": "Signed", "kind": "won", "probability": 100},
        {"key": "dead", "name_zh": "丢单", "name_en": "Dead", "kind": "lost", "probability": 0},
    ]
    done = tenant_onboard(
        spec=_spec(
            stages=stages,
            pool_policy={"protection_days": 90, "no_visit_days": 30},
            visit_radius_m=800,
            lead_fields=[
                {
                    "key": "stars",
                    "label_zh": "星",
                    "label_en": "Stars",
                    "field_type": "number",
                    "max_value": 5,
                }
            ],
            object_types=[],
            modules={"intake": False},
            lead_sections={"ledger": False},
        )
    )
    t = done.tenant
    assert list(Stage.objects.filter(tenant=t).values_list("key", flat=True)) == ["new", "signed", "dead"]
    pool = Pool.objects.get(tenant=t, is_default=True)
    assert (pool.protection_days, pool.no_visit_days) == (90, 30)
    assert t.visit_radius_m == 800
    assert list(FieldDefinition.objects.filter(tenant=t).values_list("key", flat=True)) == ["stars"]
    assert not ObjectType.objects.filter(tenant=t).exists()
    settings = page_settings_of(tenant=t)
    assert settings.modules["intake"] is False and settings.modules["pool"] is True
    assert settings.lead_sections["ledger"] is False


def test_same_slug_again_is_a_409_conflict(org, api_as):
    tenant_onboard(spec=_spec())
    with pytest.raises(TenantExists) as err:
        tenant_onboard(spec=_spec(admin={"username": "x-admin", "password": PASSWORD}))
    assert err.value.status == 409 and err.value.code == "duplicate_tenant" and err.value.field == "slug"
    r = api_as(org.admin).post(
        "/api/v1/onboarding/tenants", {**_spec(), "admin": {"username": "y", "password": PASSWORD}}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_tenant"
    r = api_as(org.admin).post(
        "/api/v1/onboarding/tenants", {**_spec(slug="acme"), "admin": {"username": "y", "password": PASSWORD}}
    )
    assert r.status_code == 409  # an existing tenant's slug, not one made by onboarding


@pytest.mark.parametrize(
    ("org_csv", "line", "words"),
    [
        ("path,kind\n华东,region\n华东/上海,town\n", 3, "kind"),
        ("path,kind\n华东,region\n华东/上海/静安,team\n", 3, "parent 华东/上海"),
        ("path,kind\n华东,region\n华东,region\n", 3, "twice"),
        ("name,kind\n华东,region\n上海,city,extra\n", 3, "more values"),
        ("kind,colour\nregion,red\n", 1, "unknown columns"),
        ("name,parent\n华东,\n", 1, "kind"),
    ],
)
def test_org_csv_errors_name_the_line_and_write_nothing(org_csv, line, words):
    with translation.override("en"), pytest.raises(CsvInvalid) as err:
        tenant_onboard(spec=_spec(org_csv=org_csv, users_csv=None))
    assert err.value.line == line and err.value.field == "org_csv"
    assert err.value.message.startswith(f"line {line}:") and words in err.value.message
    _nothing_written()


def test_users_csv_errors_name_the_line(org):
    bad_org = "username,role,org\nok-user,bd,华东\nlost-user,bd,西北/兰州\n"
    with pytest.raises(CsvInvalid) as err:
        tenant_onboard(spec=_spec(users_csv=bad_org))
    assert err.value.line == 3 and "西北/兰州" in err.value.message
    twice = "username,role\nsame,bd\nsame,manager\n"
    with pytest.raises(CsvInvalid) as err:
        tenant_onboard(spec=_spec(users_csv=twice))
    assert (err.value.line, err.value.code) == (3, "duplicate_user")
    bad_role = "username,role\nsomeone,boss\n"
    with pytest.raises(CsvInvalid) as err:
        tenant_onboard(spec=_spec(users_csv=bad_role))
    assert err.value.line == 2 and "role" in err.value.message
    # A weak password is found while writing: the line is named and everything is rolled back.
    weak = "username,role,password\nweak-one,bd,123\n"
    with pytest.raises(CsvInvalid) as err:
        tenant_onboard(spec=_spec(users_csv=weak))
    assert err.value.line == 2 and err.value.code == "weak_password"
    _nothing_written()
    # An existing person's username joins with their own password; giving one is a conflict.
    taken = f"username,role,password\n{org.bd1.user.username},bd,{PASSWORD}\n"
    with pytest.raises(CsvInvalid) as err:
        tenant_onboard(spec=_spec(users_csv=taken))
    assert err.value.code == "user_exists"
    done = tenant_onboard(spec=_spec(users_csv=f"username,role\n{org.bd1.user.username},bd\n"))
    assert Membership.objects.filter(tenant=done.tenant, user=org.bd1.user).exists()
    assert org.bd1.user.username not in done.generated_passwords


def test_a_late_failure_rolls_everything_back():
    """The lead field is checked by the metadata service after tenant, org, users and objects were written."""
    before = (Tenant.objects.count(), get_user_model().objects.count())
    bad_field = [
        {"key": "fine", "label_zh": "好", "field_type": "text"},
        {"key": "bad", "label_zh": "坏", "field_type": "colour"},
    ]
    with pytest.raises(FieldInvalid) as err:
        tenant_onboard(spec=_spec(lead_fields=bad_field))
    assert err.value.code == "invalid_field_type" and err.value.field == "lead_fields[1].field_type"
    with pytest.raises(Exception) as err2:
        tenant_onboard(spec=_spec(pool_policy={"protection_days": 0}))
    assert getattr(err2.value, "field", None) == "pool_policy.protection_days"
    assert (Tenant.objects.count(), get_user_model().objects.count()) == before
    _nothing_written()


@pytest.mark.parametrize(
    ("over", "field", "code"),
    [
        ({"slug": "Bad Slug"}, "slug", "invalid"),
        ({"name": ""}, "name", "required"),
        ({"template": "bakery"}, "template", "unknown_template"),
        ({"admin": None}, "admin", "required"),
        ({"admin": {"username": "a b"}}, "admin.username", "invalid"),
        ({"colour": "red"}, "colour", "unknown_field"),
        ({"visit_radius_m": 5}, "visit_radius_m", "invalid"),
        ({"stages": [{"key": "a", "name_zh": "甲", "kind": "open"}]}, "stages", "stages_incomplete"),
        ({"modules": {"crm": True}}, "modules.crm", "unknown_module"),
        ({"lead_sections": {"ledger": "no"}}, "lead_sections.ledger", "invalid"),
        (
            {"org_units": [{"path": "华东", "kind": "galaxy"}], "org_csv": None},
            "org_units[0].kind",
            "invalid",
        ),
        ({"org_units": [{"path": "华东", "kind": "region"}]}, "org_csv", "invalid"),
        ({"language": "fr"}, "language", "invalid"),
    ],
)
def test_spec_errors_are_typed_with_the_field(over, field, code):
    with pytest.raises(SpecInvalid) as err:
        tenant_onboard(spec=_spec(**over))
    assert (err.value.field, err.value.code) == (field, code)
    _nothing_written()


def test_org_units_as_json_and_users_as_json():
    done = tenant_onboard(
        spec=_spec(
            org_csv=None,
            users_csv=None,
            org_units=[{"name": "北京", "kind": "city"}, {"name": "一组", "parent": "北京", "kind": "team"}],
            users=[{"username": "bj-bd", "role": "bd", "org": "北京/一组", "password": PASSWORD}],
        )
    )
    m = Membership.objects.select_related("org_unit__parent").get(tenant=done.tenant, user__username="bj-bd")
    assert m.org_unit.name == "一组" and m.org_unit.parent.name == "北京"


# --- API -----------------------------------------------------------------------------------------------


def test_api_onboards_and_answers_with_the_made_up_passwords(org, api_as):
    r = api_as(org.admin).post("/api/v1/onboarding/tenants", _spec())
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["tenant"]["slug"] == "hotel-sh" and body["template"] == "hotel"
    users = {u["username"]: u for u in body["users"]}
    assert users["hotel-admin"]["generated_password"] is None
    made_up = users["sh-manager"]["generated_password"]
    assert made_up and authenticate(username="sh-manager", password=made_up) is not None
    new_tenant = Tenant.objects.get(slug="hotel-sh")
    assert ChangeLog.objects.get(tenant=new_tenant, action="tenant.onboard").actor == org.admin.user
    # The new admin works through the API.
    new = api_as(token=token_issue(tenant_slug="hotel-sh", username="hotel-admin", password=PASSWORD)[0])
    assert new.get("/api/v1/me").json()["tenant"] == "hotel-sh"
    objects = new.get("/api/v1/meta/objects").json()
    objects = objects["items"] if isinstance(objects, dict) else objects
    assert {o["key"] for o in objects} >= {"hotel", "hotel_group", "room_type"}


def test_api_refuses_non_admins_and_reports_bad_csv(org, api_as):
    r = api_as(org.bd1).post("/api/v1/onboarding/tenants", _spec())
    assert r.status_code == 403 and r.json()["error"]["code"] == "onboarding_forbidden"
    r = api_as(org.admin).post("/api/v1/onboarding/tenants", _spec(org_csv="path,kind\n华东,moon\n"))
    assert r.status_code == 422
    err = r.json()["error"]
    # The tenant speaks zh-hans: the message names the line in Chinese.
    assert (
        err["code"] == "csv_invalid" and err["field"] == "org_csv" and err["message"].startswith("第 2 行：")
    )
    r = api_as(org.admin).post("/api/v1/onboarding/tenants", {"slug": "x1"})
    assert r.status_code == 422
    _nothing_written()


def test_api_lists_the_templates_with_their_content(org, api_as):
    r = api_as(org.bd1).get("/api/v1/onboarding/templates")
    assert r.status_code == 200
    by_key = {t["key"]: t for t in r.json()}
    assert set(by_key) == {"group_buying", "hotel", "food_delivery", "blank"}
    assert by_key["hotel"]["label_zh"] == "酒店"
    assert any(f["key"] == "monthly_room_nights" for f in by_key["hotel"]["content"]["lead_fields"])


# --- CLI -----------------------------------------------------------------------------------------------


def test_cli_onboards_from_a_spec_file_and_from_options(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(_spec(), ensure_ascii=False), encoding="utf-8")
    out = StringIO()
    call_command("onboard", str(path), stdout=out)
    assert "Onboarded hotel-sh" in out.getvalue() and "sh-manager\tmanager\tpassword " in out.getvalue()
    with pytest.raises(CommandError, match="duplicate_tenant"):
        call_command("onboard", str(path), stdout=StringIO())
    org_file = tmp_path / "org.csv"
    org_file.write_text("path,kind\n华南,region\n华南/广州,city\n", encoding="utf-8")
    out = StringIO()
    call_command(
        "onboard",
        "--template",
        "food_delivery",
        "--slug",
        "waimai-gz",
        "--name",
        "外卖广州",
        "--admin-username",
        "wm-admin",
        "--admin-password",
        PASSWORD,
        "--org-csv",
        str(org_file),
        stdout=out,
    )
    tenant = Tenant.objects.get(slug="waimai-gz")
    assert tenant.visit_radius_m == 200 and OrgUnit.objects.filter(tenant=tenant, name="广州").exists()
    with translation.override("en"), pytest.raises(CommandError, match="csv_invalid: line 2"):
        bad = tmp_path / "bad.csv"
        bad.write_text("path,kind\n华南,nowhere\n", encoding="utf-8")
        call_command(
            "onboard",
            "--template",
            "hotel",
            "--slug",
            "h2",
            "--name",
            "h",
            "--admin-username",
            "h2a",
            "--admin-password",
            PASSWORD,
            "--org-csv",
            str(bad),
            stdout=StringIO(),
        )
    out = StringIO()
    call_command("onboard", "--template", "hotel", "--print-template", stdout=out)
    assert json.loads(out.getvalue())["visit_radius_m"] == 500


# --- the wizard pages ----------------------------------------------------------------------------------


def _web(membership: Any) -> Client:
    c = Client()
    r = c.post(
        "/login/",
        {"tenant": membership.tenant.slug, "username": membership.user.username, "password": PASSWORD},
    )
    assert r.status_code == 302
    return c


def test_wizard_two_steps_with_adjustments(org):
    c = _web(org.admin)
    page = c.get("/onboarding/")
    assert page.status_code == 200 and "酒店" in page.content.decode()
    r = c.post(
        "/onboarding/",
        {
            "step": "tenant",
            "slug": "hotel-sh",
            "name": "酒店上海",
            "language": "zh-hans",
            "time_zone": "Asia/Shanghai",
            "template": "hotel",
            "org_csv": ORG_CSV,
            "users_csv": USERS_CSV,
        },
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert "月间夜量" in html and "site_inspection" in html and 'name="base"' in html
    base = re.search(r'name="base" value="([^"]+)"', html).group(1)
    # Adjust: drop the room type object, keep two lead fields, change the radius and one pool rule.
    form = {
        "step": "apply",
        "base": base,
        "admin_username": "hotel-admin",
        "admin_password": PASSWORD,
        "admin_name": "管理员",
        "visit_radius_m": "700",
        "policy_protection_days": "75",
        "stages": "contact | 初步接触 | First contact | open | 10\n"
        "online | 上线 | Online | won | 100\nlost | 输单 | Lost | lost | 0",
        "lost_reasons": "other | 其他 | Other",
        "lead_field": ["star_rating", "monthly_room_nights"],
        "object_type": ["hotel_group", "hotel"],
        "object_field": ["hotel_group.group_name", "hotel.hotel_group"],
        "module": ["pool", "visits", "tasks"],
        "section": ["basics", "visits", "history"],
    }
    done = c.post("/onboarding/", form)
    assert done.status_code == 200, done.content.decode()[:2000]
    assert "hotel-sh" in done.content.decode() and "sh-manager" in done.content.decode()
    t = Tenant.objects.get(slug="hotel-sh")
    assert t.visit_radius_m == 700 and Pool.objects.get(tenant=t, is_default=True).protection_days == 75
    assert set(
        FieldDefinition.objects.filter(tenant=t, object_type="lead").values_list("key", flat=True)
    ) == {"star_rating", "monthly_room_nights"}
    assert set(ObjectType.objects.filter(tenant=t).values_list("key", flat=True)) == {"hotel_group", "hotel"}
    assert list(Stage.objects.filter(tenant=t).values_list("key", flat=True)) == ["contact", "online", "lost"]
    settings = page_settings_of(tenant=t)
    assert settings.modules == {
        "pool": True,
        "visits": True,
        "operations": False,
        "tasks": True,
        "intake": False,
    }
    assert settings.lead_sections["ledger"] is False and settings.lead_sections["basics"] is True


def test_wizard_shows_errors_and_refuses_non_admins(org):
    c = _web(org.admin)
    r = c.post(
        "/onboarding/",
        {
            "step": "tenant",
            "slug": "hotel-sh",
            "name": "酒店",
            "language": "zh-hans",
            "time_zone": "Asia/Shanghai",
            "template": "hotel",
            "org_csv": "path,kind\n华东,planet\n",
        },
    )
    assert r.status_code == 400 and "第 2 行" in r.content.decode()
    r = c.post(
        "/onboarding/",
        {
            "step": "tenant",
            "slug": "acme",
            "name": "x",
            "language": "en",
            "time_zone": "UTC",
            "template": "blank",
        },
    )
    assert r.status_code == 400 and "acme" in r.content.decode()
    base = re.search(
        r'name="base" value="([^"]+)"',
        c.post(
            "/onboarding/",
            {
                "step": "tenant",
                "slug": "ok-slug",
                "name": "x",
                "language": "en",
                "time_zone": "UTC",
                "template": "blank",
            },
        ).content.decode(),
    ).group(1)
    r = c.post(
        "/onboarding/",
        {
            "step": "apply",
            "base": base,
            "admin_username": "weak-admin",
            "admin_password": "1",
            "stages": "a | 甲 | A | open | 1",
            "lost_reasons": "",
        },
    )
    assert r.status_code == 400 and "wizard-error" in r.content.decode()
    assert not Tenant.objects.filter(slug="ok-slug").exists()
    r = c.post("/onboarding/", {"step": "apply", "base": base + "x", "admin_username": "a"})
    assert r.status_code == 302  # a tampered first step starts over
    assert _web(org.manager).get("/onboarding/").status_code == 403
    assert Client().get("/onboarding/").status_code == 302


def test_a_superuser_without_membership_may_onboard(db):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    c = Client()
    assert c.login(username="root", password=PASSWORD)
    assert c.get("/onboarding/").status_code == 200
