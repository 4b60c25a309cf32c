"""Tenant isolation of the pages: every URL pattern of the site (the API has tests/test_isolation.py), with
the other tenant's ids in its path, opened by every role of tenant A, answers 404, 403, 405 or a redirect,
and no page ever shows tenant B's data (B's unique marker strings); B's rows never change."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from PIL import Image

from leadsea.core.models import TenantModel
from leadsea.metadata.services import field_definition_create, object_type_create, record_create
from leadsea.tagging.services import tag_rule_create
from leadsea.tasks.services import task_create
from leadsea.tenancy.models import Tenant
from leadsea.visits.services import visit_record

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-9"
# Strings that exist only in tenant B: a page of A that shows one leaks B's data.
# (Keys that appear in walked URLs are no markers: pages echo their own path, e.g. in the language switch.)
B_MARKERS = [
    "乙方机密火锅",
    "乙方机密茶馆",
    "乙方拜访备注",
    "乙方机密品牌",
    "乙方任务标题",
    "乙方机密标签",
    "乙方对象名",
    "乙方字段名",
]
SKIPPED_PREFIXES = (
    "admin/",
    "api/v1/",
    "i18n/",
)  # the Django admin (superusers), the API (test_isolation.py)
ROLES = ("admin", "hq", "manager", "lead_a", "bd1", "ops")


def _png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "red").save(buffer, "PNG")
    return SimpleUploadedFile("door.png", buffer.getvalue(), content_type="image/png")


def _fill(o: Any, api_as: Any, *, secret: bool) -> dict[str, Any]:
    """Leads, a visit with a photo, a task, a custom object with a record, a tag rule and a webhook."""
    names = ["乙方机密火锅", "乙方机密茶馆"] if secret else ["甲方火锅", "甲方茶馆"]
    api = api_as(o.admin)
    leads = []
    for i, name in enumerate(names):
        r = api.post(
            "/api/v1/leads",
            {
                "name": name,
                "city": "北京",
                "lat": 39.9 + i / 1000,
                "lng": 116.4,
                "owner": o.bd1.user_id if i else None,
            },
        )
        assert r.status_code == 201, r.content
        leads.append(r.json()["id"])
    visit = visit_record(
        tenant=o.tenant,
        actor=o.bd1,
        lead_id=leads[1],
        lat=39.901,
        lng=116.4,
        notes="乙方拜访备注" if secret else "甲方拜访",
        photo=_png(),
    )
    task = task_create(
        tenant=o.tenant,
        actor=o.admin,
        title="乙方任务标题" if secret else "甲方任务",
        assignee_id=o.bd1.user_id,
    )
    obj_key = "rival_only_obj" if secret else "brand"
    field_key = "rival_secret_field" if secret else "title"
    obj = object_type_create(
        tenant=o.tenant, actor=o.admin, key=obj_key, label_zh="乙方对象名" if secret else "对象"
    )
    field_definition_create(
        tenant=o.tenant,
        object_type=obj_key,
        key=field_key,
        label_zh="乙方字段名" if secret else "名",
        field_type="text",
    )
    record = record_create(
        tenant=o.tenant,
        actor=o.admin,
        object_type=obj,
        data={field_key: "乙方机密品牌" if secret else "甲方品牌"},
    )
    rule = tag_rule_create(
        tenant=o.tenant,
        actor=o.admin,
        data={"tag": "乙方机密标签" if secret else "甲方标签", "kind": "category", "value": ["火锅"]},
    )
    from leadsea.events.services import webhook_create

    hook = webhook_create(tenant=o.tenant, actor=o.admin, data={"url": "https://example.com/hook"})
    return {
        "lead_id": leads[1],
        "visit_id": visit.pk,
        "task_id": task.pk,
        "record_id": record.pk,
        "rule_id": rule.pk,
        "webhook_id": hook.pk,
        "object_key": obj_key,
        "field_key": field_key,
    }


def _ids(o: Any, made: dict[str, Any]) -> dict[str, Any]:
    """Path parameter values of one tenant: `<model>_id` for every tenant model, then the chosen rows."""
    ids: dict[str, Any] = {}
    for model in apps.get_models():
        if issubclass(model, TenantModel):
            pk = model.objects.filter(tenant=o.tenant).order_by("pk").values_list("pk", flat=True).first()
            if pk is not None:
                ids[f"{model._meta.model_name}_id"] = pk
    ids.update(made)
    ids.update(
        pool_id=ids["pool_id"],
        list_id=ids.get("brandlist_id", made["lead_id"]),
        file_id=ids.get("storedfile_id", made["lead_id"]),
        target="lead",
        action="claim",
        code="X1",
    )
    return ids


def _patterns(resolvers: list[Any] | None = None, prefix: str = "") -> list[tuple[str, str]]:
    """(route, view name) of every URL pattern of the site."""
    out = []
    for p in resolvers if resolvers is not None else get_resolver().url_patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            out += _patterns(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            out.append((route, p.name or ""))
    return [(r, n) for r, n in out if not r.startswith(SKIPPED_PREFIXES)]


# Routes whose parameter names do not say which row they take.
ROUTE_IDS = {"objects/related/<slug:target>/<int:record_id>/": {"target": "lead", "record_id": "lead_id"}}


def _url(route: str, ids: dict[str, Any], a_slug: str) -> str:
    override = ROUTE_IDS.get(route, {})

    def value(match: re.Match[str]) -> str:
        name = match.group(2)
        if name in override:
            return str(ids.get(override[name], override[name]))
        if name == "tenant_slug":
            # The join form is public by design and names its tenant: walk it with A's own slug.
            return a_slug
        if name in ids:
            return str(ids[name])
        key = name.removesuffix("_id").replace("_", "") + "_id"
        return str(ids.get(key, ids["lead_id"]))

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, route)


def _login(membership: Any) -> Client:
    c = Client()
    r = c.post(
        "/login/",
        {"tenant": membership.tenant.slug, "username": membership.user.username, "password": PASSWORD},
    )
    assert r.status_code == 302, membership
    return c


def _leaks(content: bytes) -> list[str]:
    text = content.decode("utf-8", "replace")
    return [m for m in B_MARKERS if m in text]


def _snapshot(tenant: Tenant) -> dict[str, Any]:
    return {
        model._meta.label: list(model.objects.filter(tenant=tenant).order_by("pk").values())
        for model in apps.get_models()
        if issubclass(model, TenantModel)
    }


def test_every_page_with_the_other_tenants_ids_is_refused_and_leaks_nothing(org, other_org, api_as):
    a_made = _fill(org, api_as, secret=False)
    b_made = _fill(other_org, api_as, secret=True)
    b_ids = _ids(other_org, b_made)
    a_ids = _ids(org, a_made)
    patterns = _patterns()
    assert len(patterns) > 40
    before = _snapshot(other_org.tenant)
    with_ids, without_ids = 0, 0
    for role in ROLES:
        client = _login(getattr(org, role))
        for route, name in patterns:
            url = _url(route, b_ids, org.tenant.slug)
            has_ids = "<" in route and "tenant_slug" not in route
            r = client.get(url)
            label = f"{role} GET {url} ({name})"
            assert r.status_code < 500, label
            assert not _leaks(r.content), (label, _leaks(r.content))
            if has_ids:
                with_ids += 1
                assert r.status_code in (302, 403, 404, 405), (label, r.status_code)
                post = client.post(url, {"reason": "探针", "name": "探针", "stage": "won"})
                assert post.status_code in (302, 403, 404, 405), (f"{role} POST {url}", post.status_code)
                assert not _leaks(post.content), f"{role} POST {url}"
                if post.status_code == 302:  # a redirect must not land on B's data either
                    assert not _leaks(client.get(post["Location"]).content), f"{role} POST {url} -> redirect"
            else:
                without_ids += 1
    assert with_ids >= 20 * len(ROLES) and without_ids >= 15 * len(ROLES)
    # Tenant B is exactly as it was.
    assert _snapshot(other_org.tenant) == before
    # The harness can see a page answer and a leak: B's admin sees B's markers on B's own pages, and A's
    # admin opens A's own rows with A's ids.
    b_admin = _login(other_org.admin)
    page = b_admin.get(f"/leads/{b_made['lead_id']}/")
    assert page.status_code == 200 and _leaks(page.content)
    a_admin = _login(org.admin)
    opened = 0
    for route, _name in patterns:
        if "<" in route and "tenant_slug" not in route:
            r = a_admin.get(_url(route, a_ids, org.tenant.slug))
            opened += r.status_code == 200
    assert opened >= 10
    for url in (
        f"/leads/{a_made['lead_id']}/",
        f"/m/leads/{a_made['lead_id']}/",
        f"/objects/brand/{a_made['record_id']}/",
        f"/tags/rules/{a_made['rule_id']}/",
        f"/settings/webhooks/{a_made['webhook_id']}/",
        f"/visits/{a_made['visit_id']}/photo/",
    ):
        assert a_admin.get(url).status_code == 200, url


def test_pages_without_ids_never_list_the_other_tenants_rows(org, other_org, api_as):
    _fill(org, api_as, secret=False)
    _fill(other_org, api_as, secret=True)
    for role in ROLES:
        client = _login(getattr(org, role))
        for url in (
            "/leads/?q=乙方",
            "/leads/?q=机密",
            "/sea/public/?q=乙方",
            "/sea/team/",
            "/m/nearby/?lat=39.9&lng=116.4",
            "/m/map/?lat=39.9&lng=116.4",
            "/todo/",
            "/objects/",
            "/objects/rival_only_obj/",
            "/meta/",
            "/tags/rules/",
            "/intake/review/",
            "/settings/webhooks/",
            "/settings/modules/",
            "/onboarding/",
        ):
            r = client.get(url)
            assert r.status_code < 500, (role, url)
            assert not _leaks(r.content), (role, url, _leaks(r.content))
