"""The tenant query guard: unscoped queries of tenant tables fail at run time, and a lint-like scan of the
source refuses manager calls that cannot carry a tenant filter."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from leadsea.core.models import TenantModel
from leadsea.core.tenancy_guard import UnscopedQueryError, check_sql, unscoped
from leadsea.leads.models import Lead, LeadTag
from leadsea.tenancy.models import Membership

pytestmark = pytest.mark.django_db

SRC = Path(__file__).resolve().parent.parent / "src" / "leadsea"


def _lead(org, name: str = "店", owner=None):
    from leadsea.leads.services import lead_create

    return lead_create(tenant=org.tenant, actor=org.admin, data={"name": name}, owner_id=owner)


def test_unscoped_count_raises(org):
    with pytest.raises(UnscopedQueryError, match="leads_lead"):
        Lead.objects.count()


@pytest.mark.parametrize(
    "query",
    [
        lambda: list(Lead.objects.all()),  # the select list names tenant_id: that is no filter
        lambda: Lead.objects.filter(name="店").first(),
        lambda: Lead.objects.select_related("tenant").first(),  # a JOIN ... ON tenant_id is no filter either
        lambda: list(Membership.objects.select_related("org_unit").filter(role="bd")),
        lambda: Lead.objects.filter(name="店").update(tenant_id=1),  # SET tenant_id is no filter
        lambda: LeadTag.objects.filter(tag="x").delete(),
        lambda: Lead.objects.exists(),
        lambda: Lead.objects.exclude(tenant_id=1).count(),  # every other tenant is no scope
    ],
    ids=["all", "filter-first", "select-related", "join", "update-set", "delete", "exists", "exclude"],
)
def test_unscoped_queries_of_every_shape_raise(org, query):
    _lead(org)
    with pytest.raises(UnscopedQueryError):
        query()


def test_scoped_queries_pass(org, other_org):
    lead = _lead(org)
    _lead(other_org)
    assert Lead.objects.filter(tenant=org.tenant).count() == 1
    assert list(Lead.objects.filter(tenant_id=org.tenant.pk).values_list("pk", flat=True)) == [lead.pk]
    assert Lead.objects.filter(tenant__in=[org.tenant, other_org.tenant]).count() == 2
    assert Membership.objects.select_related("org_unit").filter(tenant=org.tenant, role="bd").count() == 3
    assert Lead.objects.filter(tenant=org.tenant).exclude(tenant=other_org.tenant).count() == 1


def test_unscoped_block_allows_it_and_ends_with_the_block(org, other_org):
    _lead(org)
    _lead(other_org)
    with unscoped():
        assert Lead.objects.count() == 2
        assert len(list(Lead.objects.all())) == 2
    with pytest.raises(UnscopedQueryError):
        Lead.objects.count()


def test_unscoped_block_is_reset_after_an_exception(org):
    with pytest.raises(RuntimeError), unscoped():
        raise RuntimeError("boom")
    with pytest.raises(UnscopedQueryError):
        Lead.objects.count()


def test_check_sql_ignores_inserts_and_other_tables():
    check_sql('INSERT INTO "leads_lead" ("name") VALUES (%s)')
    check_sql('SELECT "auth_user"."id" FROM "auth_user" WHERE "auth_user"."username" = %s')
    check_sql('SELECT 1 FROM "leads_lead" WHERE "leads_lead"."tenant_id" = %s')
    check_sql('SELECT 1 FROM "leads_lead" U0 WHERE U0."tenant_id" IN (%s, %s)')
    with pytest.raises(UnscopedQueryError):
        check_sql('SELECT "leads_lead"."tenant_id" FROM "leads_lead" WHERE "leads_lead"."id" = %s')


def test_save_of_an_existing_row_is_scoped(org):
    lead = _lead(org)
    lead.category = "火锅"
    with CaptureQueriesContext(connection) as ctx:
        lead.save()
    updates = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1
    where = updates[0].upper().split(" WHERE ", 1)[1]
    assert "TENANT_ID" in where and "ID" in where
    assert Lead.objects.get(tenant=org.tenant, pk=lead.pk).category == "火锅"


def test_save_cannot_overwrite_another_tenants_row(org, other_org):
    theirs = _lead(other_org, "他们的店")
    # A lead of tenant A that carries tenant B's primary key: its UPDATE matches nothing, and the INSERT that
    # Django falls back to collides on the key; tenant B's row stays as it was.
    forged = Lead.objects.get(tenant=org.tenant, pk=_lead(org, "我们的店").pk)
    forged.pk = theirs.pk
    forged.name = "篡改"
    with pytest.raises(IntegrityError), transaction.atomic():
        forged.save()
    assert Lead.objects.get(tenant=other_org.tenant, pk=theirs.pk).name == "他们的店"


# --- static check ----------------------------------------------------------------------------------

# Manager methods that can never carry a tenant filter: called on `Model.objects` directly, they are unscoped.
UNSCOPED_METHODS = {
    "all",
    "count",
    "exists",
    "first",
    "last",
    "iterator",
    "aggregate",
    "values",
    "values_list",
    "in_bulk",
    "latest",
    "earliest",
    "update",
    "delete",
}


def tenant_model_names() -> set[str]:
    return {m.__name__ for m in apps.get_models() if issubclass(m, TenantModel)}


def unscoped_manager_calls(source: str, models: set[str]) -> list[tuple[int, str]]:
    """(line, text) of every `<TenantModel>.objects.<method>()` whose method cannot filter by tenant."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method, target = node.func.attr, node.func.value
        if (
            method in UNSCOPED_METHODS
            and isinstance(target, ast.Attribute)
            and target.attr in ("objects", "_default_manager")
            and isinstance(target.value, ast.Name)
            and target.value.id in models
        ):
            found.append((node.lineno, f"{target.value.id}.{target.attr}.{method}()"))
    return found


def test_static_scan_finds_what_it_should():
    models = {"Lead", "LeadTag"}
    source = (
        "a = Lead.objects.all()\n"
        "b = Lead.objects.filter(tenant=t).all()\n"
        "c = (LeadTag.objects\n    .count())\n"
        "d = User.objects.all()\n"
        "e = Lead.objects.filter(tenant=t).count()\n"
    )
    assert unscoped_manager_calls(source, models) == [
        (1, "Lead.objects.all()"),
        (3, "LeadTag.objects.count()"),
    ]


def test_no_unscoped_manager_calls_in_the_source():
    models = tenant_model_names()
    assert {"Lead", "LeadTag", "Membership", "OrgUnit", "ApiToken", "ChangeLog", "FieldDefinition"} <= models
    files = [p for p in SRC.rglob("*.py") if "migrations" not in p.parts and "tests" not in p.parts]
    assert len(files) > 20
    problems = [
        f"{path.relative_to(SRC.parent)}:{line}: {text}"
        for path in sorted(files)
        for line, text in unscoped_manager_calls(path.read_text(encoding="utf-8"), models)
    ]
    assert not problems, "unscoped queries of tenant models:\n" + "\n".join(problems)
