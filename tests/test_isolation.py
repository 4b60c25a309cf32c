"""Tenant isolation: every API route, given another tenant's ids, answers 404 and leaks nothing; another
tenant's data never changes; custom field definitions of one tenant never affect another."""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from PIL import Image

from leadsea.audit.models import ChangeLog
from leadsea.core.errors import DomainError
from leadsea.core.models import TenantModel
from leadsea.events.services import webhook_create, webhook_ping
from leadsea.leads.models import Lead
from leadsea.metadata.models import FieldDefinition
from leadsea.metadata.services import (
    custom_data_validate,
    field_definition_create,
    object_type_create,
    record_create,
)
from leadsea.tenancy.models import ApiToken, Tenant
from leadsea.tenancy.services import token_issue, user_create
from leadsea.visits.services import visit_record

pytestmark = pytest.mark.django_db
# Hypothesis keeps a cache of constants besides its example database: not in the work tree.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "leadsea-hypothesis"))

PASSWORD = "correct-horse-9"  # conftest's
B_NAMES = ["乙方机密火锅", "乙方机密茶馆", "乙方机密酒店"]
B_PHONE = "13912345678"
B_SECRET = "机密备注XYZ"


def _setup(org: Any, other_org: Any, api_as: Any) -> dict[str, Any]:
    """Leads, field definitions and tokens in both tenants; returns tenant B's ids and secrets."""
    field_definition_create(tenant=org.tenant, key="level_a", label_zh="等级", field_type="text")
    a_api = api_as(org.admin)
    a_leads = [
        a_api.post("/api/v1/leads", {"name": f"甲方店{i}", "city": "甲城", "tags": ["甲"]}).json()["id"]
        for i in range(2)
    ]
    field_definition_create(
        tenant=other_org.tenant, key="rival_secret", label_zh="机密", field_type="text", filterable=True
    )
    b_api = api_as(other_org.admin)
    b_leads = []
    for i, name in enumerate(B_NAMES):
        r = b_api.post(
            "/api/v1/leads",
            {
                "name": name,
                "city": "乙城",
                "phone": B_PHONE if i == 0 else None,
                "tags": ["乙方标签"],
                "owner": other_org.bd1.user_id if i == 1 else None,
                "custom_fields": {"rival_secret": B_SECRET},
            },
        )
        assert r.status_code == 201, r.content
        b_leads.append(r.json()["id"])
    token_issue(tenant_slug=other_org.tenant.slug, username=other_org.bd1.user.username, password=PASSWORD)
    # A custom object with a field and a record in each tenant, for the meta and records routes.
    for tenant_org in (org, other_org):
        obj = object_type_create(
            tenant=tenant_org.tenant, actor=tenant_org.admin, key="brand", label_zh="品牌"
        )
        field_definition_create(
            tenant=tenant_org.tenant, object_type="brand", key="title", label_zh="名", field_type="text"
        )
        record_create(
            tenant=tenant_org.tenant, actor=tenant_org.admin, object_type=obj, data={"title": "品牌甲"}
        )
    # A visit with a photo in each tenant, so that the photo route has something to refuse (and to serve).
    for tenant_org, lead_id in ((org, a_leads[0]), (other_org, b_leads[1])):
        buffer = io.BytesIO()
        Image.new("RGB", (2, 2), "green").save(buffer, "PNG")
        visit_record(
            tenant=tenant_org.tenant,
            actor=tenant_org.admin,
            lead_id=lead_id,
            lat=39.9,
            lng=116.4,
            photo=SimpleUploadedFile("door.png", buffer.getvalue(), content_type="image/png"),
        )
    # A webhook with a delivery in each tenant, so that the webhook routes have ids to refuse (and to serve).
    for tenant_org in (org, other_org):
        hook = webhook_create(
            tenant=tenant_org.tenant, actor=tenant_org.admin, data={"url": "https://example.com/hook"}
        )
        webhook_ping(tenant=tenant_org.tenant, actor=tenant_org.admin, webhook_id=hook.pk)
    return {
        "a_leads": a_leads,
        "b_leads": b_leads,
        "b_user_ids": {m.user_id for m in (other_org.admin, other_org.bd1, other_org.bd2, other_org.bd3)},
        "b_ids": _ids_of(other_org, lead_id=b_leads[1]),
        "a_ids": _ids_of(org, lead_id=a_leads[0]),
    }


def _ids_of(o: Any, *, lead_id: int) -> dict[str, int]:
    """Ids of one tenant's rows by path parameter name: `<model>_id` for every tenant model (pool_id, ...),
    with a lead and a user chosen; an unknown name falls back to the lead."""
    ids: dict[str, int] = {}
    for model in apps.get_models():
        if issubclass(model, TenantModel):
            pk = model.objects.filter(tenant=o.tenant).order_by("pk").values_list("pk", flat=True).first()
            if pk is not None:
                ids[f"{model._meta.model_name}_id"] = pk
    ids.update(
        lead_id=lead_id,
        user_id=o.bd1.user_id,
        owner=o.bd1.user_id,
        token_id=ids.get("apitoken_id", lead_id),
        field_id=ids.get("fielddefinition_id", lead_id),
        object=ids.get("objecttype_id", lead_id),
        record_id=ids.get("customrecord_id", lead_id),
        org_unit_id=o.team_a.pk,
        unit_id=o.team_a.pk,
        membership_id=o.bd1.pk,
    )
    return ids


def _id_for(name: str, ids: dict[str, int]) -> int:
    if name in ids:
        return ids[name]
    model_key = name.removesuffix("_id").replace("_", "") + "_id"  # org_unit_id -> orgunit_id
    return ids.get(model_key, ids["lead_id"])


def _snapshot(tenant: Tenant) -> dict[str, Any]:
    """Every row tenant B owns (all tenant models, generically), its members' accounts and the tenant row."""
    rows: dict[str, Any] = {}
    for model in apps.get_models():
        if issubclass(model, TenantModel):
            rows[model._meta.label] = list(model.objects.filter(tenant=tenant).order_by("pk").values())
    member_ids = [r["user_id"] for r in rows["tenancy.Membership"]]
    rows["users"] = list(
        get_user_model()
        .objects.filter(pk__in=member_ids)
        .order_by("pk")
        .values("pk", "username", "password", "is_active")
    )
    rows["tenant"] = list(Tenant.objects.filter(pk=tenant.pk).values())
    return rows


# --- the generic OpenAPI walk ----------------------------------------------------------------------


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _sample(schema: dict[str, Any], spec: dict[str, Any], name: str, ctx: dict[str, Any]) -> Any:
    """A plausible value for a body field; ids of the other tenant wherever an id is asked for."""
    schema = _resolve(schema, spec)
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            options = [s for s in schema[combinator] if _resolve(s, spec).get("type") != "null"]
            return _sample(options[0] if options else {"type": "null"}, spec, name, ctx)
    if name in ctx["named"]:
        return ctx["named"][name]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        wanted = set(schema.get("required", [])) | (set(props) & set(ctx["named"]))
        return {key: _sample(props[key], spec, key, ctx) for key in sorted(wanted)}
    if kind == "array":
        return [_sample(schema.get("items", {}), spec, name, ctx)]
    if kind == "integer":
        return _id_for(name, ctx["b_ids"])
    if kind == "number":
        return max(1.0, float(schema.get("minimum", 1)))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return {"date": "2026-01-01", "date-time": "2026-01-01T00:00:00Z", "email": "probe@example.com"}.get(
        schema.get("format", ""), "探针"
    )


def _operations(spec: dict[str, Any]):
    for path, item in sorted(spec["paths"].items()):
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, op


def _leaks(content: bytes, setup: dict[str, Any]) -> list[str]:
    text = content.decode("utf-8", "replace")
    found = [s for s in [*B_NAMES, B_SECRET, "rival_secret", "乙城", "乙方标签", B_PHONE[3:]] if s in text]
    try:
        body = json.loads(text)
    except ValueError:
        return found

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "name" in node and node.get("id") in setup["b_leads"]:
                found.append(f"lead id {node['id']}")
            if node.get("owner") in setup["b_user_ids"]:
                found.append(f"owner {node['owner']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body)
    return found


def _intake_rows(o: Any) -> None:
    """An intake record, a review item and an undone merge in a tenant, for the intake routes."""
    from leadsea.intake.services import intake_submit, lead_merge, lead_unmerge, source_get_or_create

    source = source_get_or_create(tenant=o.tenant, key="probe", channel="import")
    store = {"name": "核验小馆", "lat": 30.5, "lng": 114.3}
    first, second = intake_submit(
        tenant=o.tenant,
        source=source,
        records=[
            {**store, "external_id": "1"},
            {**store, "external_id": "2", "name": "核验", "lat": 30.5025},
        ],
    )
    assert second.status == "review", second
    survivor = Lead.objects.get(tenant=o.tenant, pk=first.lead_id)
    other = {"external_id": "3", "name": "另一家核验店"}
    [made] = intake_submit(tenant=o.tenant, source=source, records=[other])
    merged = Lead.objects.get(tenant=o.tenant, pk=made.lead_id)
    merge = lead_merge(tenant=o.tenant, survivor=survivor, merged=merged, actor=o.admin)
    lead_unmerge(tenant=o.tenant, merge=merge, actor=o.admin)


def test_every_route_with_the_other_tenants_ids_is_404_and_leaks_nothing(org, other_org, api_as):
    setup = _setup(org, other_org, api_as)
    for tenant_org in (org, other_org):
        _intake_rows(tenant_org)
    setup["b_ids"] = _ids_of(other_org, lead_id=setup["b_leads"][1])
    setup["a_ids"] = _ids_of(org, lead_id=setup["a_leads"][0])
    spec = api_as().get("/api/v1/openapi.json").json()
    before = _snapshot(other_org.tenant)
    b_changes = ChangeLog.objects.filter(tenant=other_org.tenant).count()
    ctx = {
        "b_ids": setup["b_ids"],
        "named": {
            "name": "探针店",
            "owner": setup["b_ids"]["owner"],
            "tenant": other_org.tenant.slug,  # a token for B with A's credentials: refused
            "username": org.admin.user.username,
            "password": PASSWORD,
            "user_id": setup["b_ids"]["user_id"],
            "reason": "探针",
            "note": "探针",
            "days": 1,
        },
    }
    query_values = {"q": B_NAMES[0], "owner": str(setup["b_ids"]["owner"]), "city": "乙城", "tag": "乙方标签"}
    with_ids, without_ids = [], []
    for path, method, op in _operations(spec):
        params = re.findall(r"{(\w+)}", path)
        url = path
        for p in params:
            url = url.replace("{" + p + "}", str(_id_for(p, setup["b_ids"])))
        body = None
        if method in ("post", "put", "patch"):
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            body = _sample(content["schema"], spec, "", ctx) if content else {}
        queries = [{}]
        if method == "get" and not params:
            names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
            queries += [{k: v} for k, v in query_values.items() if k in names]
        for query in queries:
            api = api_as(org.admin)  # a fresh token each time: a revoke route may end the previous one
            if method == "get":
                r = api.get(url, query)
            elif method == "delete":
                r = api.delete(url)
            else:
                r = getattr(api, method)(url, body)
            label = f"{method.upper()} {url} {query or ''} {body or ''}"
            assert r.status_code < 500, label
            if params:
                with_ids.append(label)
                assert r.status_code == 404, (label, r.status_code, r.content)
                assert r.json()["error"]["code"].endswith("not_found"), label
            else:
                without_ids.append(label)
                # A body that names the other tenant's objects (lead_id, ...) finds nothing: 404 is right too.
                assert r.status_code in (200, 201, 401, 403, 404, 405, 409, 422), (label, r.status_code)
                if r.status_code == 404:
                    assert r.json()["error"]["code"].endswith("not_found"), label
            assert not _leaks(r.content, setup), (label, _leaks(r.content, setup))
    # The walk covered the routes known today (future ones come along by themselves).
    assert any(x.startswith("GET /api/v1/leads/") for x in with_ids)
    assert any(x.startswith("PATCH /api/v1/leads/") for x in with_ids)
    assert any(x.startswith("GET /api/v1/leads ") for x in without_ids)
    assert any(x.startswith("POST /api/v1/auth/token") for x in without_ids)
    # Tenant B is exactly as it was: every row of every tenant model, its users, its audit log.
    assert _snapshot(other_org.tenant) == before
    assert ChangeLog.objects.filter(tenant=other_org.tenant).count() == b_changes
    # The harness is able to see a 200: the same routes with tenant A's own ids answer.
    a_api = api_as(org.admin)
    for path, method, _op in _operations(spec):
        params = re.findall(r"{(\w+)}", path)
        if method == "get" and params:
            url = path
            for p in params:
                url = url.replace("{" + p + "}", str(_id_for(p, setup["a_ids"])))
            assert a_api.get(url).status_code == 200, url


def test_b_tokens_and_leads_still_work_after_the_walk(org, other_org, api_as):
    setup = _setup(org, other_org, api_as)
    b_api = api_as(other_org.admin)
    a_api = api_as(org.admin)
    for lead_id in setup["b_leads"]:
        assert a_api.patch(f"/api/v1/leads/{lead_id}", {"name": "改"}).status_code == 404
        assert a_api.get(f"/api/v1/leads/{lead_id}").status_code == 404
    assert a_api.post("/api/v1/auth/revoke").status_code == 200
    got = b_api.get(f"/api/v1/leads/{setup['b_leads'][0]}")
    assert got.status_code == 200 and got.json()["name"] == B_NAMES[0]
    assert got.json()["custom_fields"] == {"rival_secret": B_SECRET}


def test_a_person_in_both_tenants_acts_in_the_tenant_of_the_token_only(org, other_org, api_as):
    setup = _setup(org, other_org, api_as)
    person = org.admin.user.username
    user_create(tenant=other_org.tenant, username=person, password=None, role="admin")
    in_a = api_as(org.admin)
    raw_b, _, _ = token_issue(tenant_slug=other_org.tenant.slug, username=person, password=PASSWORD)
    in_b = api_as(token=raw_b)
    assert in_a.get("/api/v1/me").json()["tenant"] == org.tenant.slug
    assert in_b.get("/api/v1/me").json()["tenant"] == other_org.tenant.slug
    for lead_id in setup["b_leads"]:
        assert in_a.get(f"/api/v1/leads/{lead_id}").status_code == 404
        assert in_b.get(f"/api/v1/leads/{lead_id}").status_code == 200
    for lead_id in setup["a_leads"]:
        assert in_b.get(f"/api/v1/leads/{lead_id}").status_code == 404
    a_ids = {x["id"] for x in in_a.get("/api/v1/leads", {"page_size": 200}).json()["items"]}
    b_ids = {x["id"] for x in in_b.get("/api/v1/leads", {"page_size": 200}).json()["items"]}
    assert a_ids == set(setup["a_leads"]) and b_ids == set(setup["b_leads"])


def test_list_never_returns_the_other_tenants_leads(org, other_org, api_as):
    setup = _setup(org, other_org, api_as)
    a_api = api_as(org.admin)
    # A lead in A whose name shares a substring with B's leads.
    shared = a_api.post("/api/v1/leads", {"name": "甲方机密火锅"}).json()["id"]
    for params in (
        {"q": B_NAMES[0]},
        {"q": "乙方"},
        {"q": B_PHONE},
        {"city": "乙城"},
        {"tag": "乙方标签"},
        {"owner": str(other_org.bd1.user_id)},
        {"page_size": 200},
    ):
        r = a_api.get("/api/v1/leads", params)
        assert r.status_code == 200, (params, r.content)
        ids = {x["id"] for x in r.json()["items"]}
        assert not ids & set(setup["b_leads"]), params
        assert not _leaks(r.content, setup), params
    r = a_api.get("/api/v1/leads", {"q": "机密火锅"})
    assert [x["id"] for x in r.json()["items"]] == [shared]
    # B sees its own, so the q above would have matched had the scope been wrong.
    r = api_as(other_org.admin).get("/api/v1/leads", {"q": B_NAMES[0]})
    assert [x["id"] for x in r.json()["items"]] == [setup["b_leads"][0]]


def test_custom_field_filter_defined_only_in_the_other_tenant_is_rejected(org, other_org, api_as):
    _setup(org, other_org, api_as)
    r = api_as(org.admin).get("/api/v1/leads", {"cf_rival_secret": B_SECRET})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "cf_rival_secret"
    assert B_SECRET not in r.content.decode()
    r = api_as(other_org.admin).get("/api/v1/leads", {"cf_rival_secret": B_SECRET})
    assert r.status_code == 200 and r.json()["count"] == 3
    # Nor can A write B's custom field onto its own lead.
    r = api_as(org.admin).post("/api/v1/leads", {"name": "店", "custom_fields": {"rival_secret": "x"}})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_field"


# --- property: field definitions of tenant A never change tenant B ---------------------------------

TYPES = FieldDefinition.Type.values
CHOICES = [{"value": "A", "label_zh": "甲"}, {"value": "Q", "label_zh": "其"}]
SAMPLE_VALUES = {
    "text": "文本",
    "long_text": "长文本",
    "number": 3,
    "decimal": 1.5,
    "boolean": True,
    "date": "2026-02-03",
    "choice": "Q",
    "multi_choice": ["Q"],
    "phone": "13800138000",
    "email": "a@example.com",
    "url": "https://example.com/x",
    "money": {"amount": "9.90", "currency": "CNY"},
    "datetime": "2026-02-03T08:00:00+08:00",
    "geo_point": {"lat": 39.9, "lng": 116.4},
    "reference": 1,
    "file": 1,
}
B_DEFS = [
    {"key": "level", "label_zh": "等级", "field_type": "choice", "choices": [{"value": "A"}, {"value": "B"}]},
    {"key": "seats", "label_zh": "座位", "field_type": "number", "min_value": 0, "max_value": 500},
    {"key": "opened", "label_zh": "开业", "field_type": "date"},
    {"key": "note", "label_zh": "备注", "field_type": "text", "required": True, "max_length": 5},
]
B_PAYLOADS: list[dict[str, Any]] = [
    {},
    {"note": "好"},
    {"note": "太长了太长了"},
    {"note": "好", "level": "A"},
    {"note": "好", "level": "Q"},
    {"note": "好", "seats": 10},
    {"note": "好", "seats": -1},
    {"note": "好", "seats": "many"},
    {"note": "好", "seats": 2.5},
    {"note": "好", "seats": "1e5000"},
    {"note": "好", "opened": "2026-13-01"},
    {"note": "好", "opened": "2026-01-31"},
]

a_definition = st.fixed_dictionaries(
    {
        "key": st.one_of(
            st.sampled_from(["level", "seats", "opened", "note", "extra", "phone"]),
            st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True),
        ),
        "field_type": st.sampled_from(TYPES),
        "required": st.booleans(),
        "min_value": st.one_of(st.none(), st.integers(-5, 5)),
        "max_value": st.one_of(st.none(), st.integers(5, 50)),
        "max_length": st.one_of(st.none(), st.integers(1, 3)),
        "filterable": st.booleans(),
    }
)


def _outcome(tenant: Tenant, payload: dict[str, Any], existing: dict[str, Any] | None = None) -> Any:
    try:
        return ("ok", custom_data_validate(tenant=tenant, data=payload, existing=existing))
    except DomainError as exc:
        return ("error", exc.code, exc.field)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)
@given(definitions=st.lists(a_definition, min_size=1, max_size=4, unique_by=lambda d: d["key"]))
def test_definitions_in_one_tenant_never_change_another(org, other_org, definitions):
    b = other_org.tenant
    if not FieldDefinition.objects.filter(tenant=b).exists():
        for spec in B_DEFS:
            field_definition_create(tenant=b, **spec)
        from leadsea.leads.services import lead_create

        lead_create(tenant=b, actor=other_org.admin, data={"name": "乙店", "custom_fields": {"note": "旧"}})
    stored = _snapshot(b)
    existing = {"note": "旧", "seats": 7}
    payloads = B_PAYLOADS + [{"note": "好", d["key"]: SAMPLE_VALUES[d["field_type"]]} for d in definitions]
    before = [(_outcome(b, p), _outcome(b, p, existing)) for p in payloads]
    # Sanity: B's rules are really in force (an accepted and a rejected payload).
    assert before[1][0] == ("ok", {"note": "好"})
    assert before[6][0] == ("error", "invalid_custom_field", "custom_fields.seats")
    with transaction.atomic():
        for d in definitions:
            field_definition_create(
                tenant=org.tenant,
                label_zh=d["key"],
                choices=CHOICES if d["field_type"] in ("choice", "multi_choice") else [],
                **d,
            )
        assert FieldDefinition.objects.filter(tenant=org.tenant).count() == len(definitions)
        after = [(_outcome(b, p), _outcome(b, p, existing)) for p in payloads]
        assert after == before
        # A itself now knows its keys (the definitions did land, in A).
        for d in definitions:
            outcome = _outcome(org.tenant, {d["key"]: SAMPLE_VALUES[d["field_type"]]}, existing={})
            assert outcome[0] == "ok" or outcome[1] != "unknown_field", (d, outcome)
        assert _snapshot(b) == stored
        transaction.set_rollback(True)
    assert ApiToken.objects.filter(tenant=b).count() == len(stored["tenancy.ApiToken"])
    assert Lead.objects.filter(tenant=b).count() == 1
