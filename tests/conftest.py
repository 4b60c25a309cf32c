"""Shared fixtures: tenants with an org tree, members of each role, API clients with tokens."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from leadsea.tenancy.models import Membership, OrgUnit, Tenant
from leadsea.tenancy.services import org_root, org_unit_create, tenant_create, token_issue, user_create

PASSWORD = "correct-horse-9"
pytest_plugins = ["browsing"]  # the Chromium fixtures (browser, acme) shared by the browser tests


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    on_postgres = os.environ.get("LEADSEA_TEST_BACKEND") == "postgres"
    for item in items:
        if "postgres_only" in item.keywords and not on_postgres:
            reason = "needs PostgreSQL: set LEADSEA_TEST_POSTGRES (make test does a PostgreSQL run)"
            item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class Org:
    tenant: Tenant
    root: OrgUnit
    city: OrgUnit
    team_a: OrgUnit
    team_b: OrgUnit
    admin: Membership
    hq: Membership
    manager: Membership  # of the city (both teams)
    lead_a: Membership  # manager of team A only
    bd1: Membership  # team A
    bd2: Membership  # team A
    bd3: Membership  # team B
    ops: Membership


def build_org(slug: str, name: str) -> Org:
    tenant = tenant_create(slug=slug, name=name)
    root = org_root(tenant=tenant)
    region = org_unit_create(tenant=tenant, name="华北", kind="region", parent=root)
    city = org_unit_create(tenant=tenant, name="北京", kind="city", parent=region)
    team_a = org_unit_create(tenant=tenant, name="朝阳一组", kind="team", parent=city)
    team_b = org_unit_create(tenant=tenant, name="朝阳二组", kind="team", parent=city)

    def member(username: str, role: str, unit: OrgUnit | None) -> Membership:
        return user_create(
            tenant=tenant,
            username=f"{slug}-{username}",
            password=PASSWORD,
            role=role,
            org_unit=unit,
            display_name=username,
        )

    return Org(
        tenant=tenant,
        root=root,
        city=city,
        team_a=team_a,
        team_b=team_b,
        admin=member("admin", "admin", None),
        hq=member("hq", "hq", root),
        manager=member("manager", "manager", city),
        lead_a=member("lead-a", "manager", team_a),
        bd1=member("bd1", "bd", team_a),
        bd2=member("bd2", "bd", team_a),
        bd3=member("bd3", "bd", team_b),
        ops=member("ops", "ops", city),
    )


@pytest.fixture
def org(db: Any) -> Org:
    return build_org("acme", "Acme 团购")


@pytest.fixture
def other_org(db: Any) -> Org:
    return build_org("rival", "Rival 酒店")


class ApiClient:
    """A Django test client speaking JSON with a bearer token."""

    def __init__(self, membership: Membership | None = None, token: str | None = None):
        self.client = Client()
        self.token = token
        if membership is not None and token is None:
            self.token, _, _ = token_issue(
                tenant_slug=membership.tenant.slug, username=membership.user.username, password=PASSWORD
            )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(path, params or {}, headers=self._headers())

    def post(self, path: str, data: Any = None, raw: str | None = None) -> Any:
        import json

        body = raw if raw is not None else json.dumps(data if data is not None else {})
        return self.client.post(path, body, content_type="application/json", headers=self._headers())

    def patch(self, path: str, data: Any) -> Any:
        import json

        return self.client.patch(
            path, json.dumps(data), content_type="application/json", headers=self._headers()
        )

    def put(self, path: str, data: Any) -> Any:
        import json

        return self.client.put(
            path, json.dumps(data), content_type="application/json", headers=self._headers()
        )

    def delete(self, path: str) -> Any:
        return self.client.delete(path, headers=self._headers())


@pytest.fixture
def api_as():
    return ApiClient
