"""Bearer-token authentication: what a token resolves to, and every way it stops resolving."""

from __future__ import annotations

from datetime import timedelta
from hashlib import sha256

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import PASSWORD
from leadsea.core import clock
from leadsea.core.tenancy_guard import unscoped
from leadsea.tenancy.models import ApiToken, Membership, OrgUnit, Tenant
from leadsea.tenancy.services import (
    TOKEN_LAST_USED_EVERY,
    TokenAuth,
    token_authenticate,
    token_issue,
    user_create,
)


def issue(membership: Membership) -> tuple[str, ApiToken]:
    raw, token, _ = token_issue(
        tenant_slug=membership.tenant.slug, username=membership.user.username, password=PASSWORD
    )
    return raw, token


def values(obj: object) -> dict[str, tuple[object, type]]:
    """Every concrete field's value and its type (an aware datetime, a bool, not SQLite's text or int)."""
    return {
        f.attname: (getattr(obj, f.attname), type(getattr(obj, f.attname)))
        for f in obj._meta.concrete_fields  # type: ignore[attr-defined]
    }


def test_a_token_resolves_to_its_membership_loaded_as_the_orm_loads_it(org):
    raw, token = issue(org.bd1)
    with CaptureQueriesContext(connection) as queries:
        auth = token_authenticate(raw)
    assert isinstance(auth, TokenAuth)
    assert len(queries) == 2  # the lookup, and the first last-used write
    assert auth.token_id == token.pk
    assert auth.tenant == org.tenant
    m = auth.membership
    expected = Membership.objects.select_related("tenant", "user", "org_unit").get(
        tenant=org.tenant, pk=org.bd1.pk
    )
    with CaptureQueriesContext(connection) as queries:
        assert values(m) == values(expected)
        assert values(m.tenant) == values(expected.tenant)
        assert values(m.user) == values(expected.user)
        assert values(m.org_unit) == values(expected.org_unit)
        assert m.org_unit == org.team_a and m.user.check_password(PASSWORD)
    assert len(queries) == 0  # tenant, user and org unit came with the one query
    assert not m._state.adding and m._state.db == "default"


def test_last_used_is_written_at_most_every_few_minutes(org):
    raw, token = issue(org.bd1)
    now = clock.now()

    def last_used() -> object:
        return ApiToken.objects.get(tenant=org.tenant, pk=token.pk).last_used_at

    assert last_used() is None
    assert token_authenticate(raw, now=now) is not None
    assert last_used() == now
    later = now + TOKEN_LAST_USED_EVERY
    with CaptureQueriesContext(connection) as queries:
        assert token_authenticate(raw, now=later) is not None
    assert len(queries) == 1 and last_used() == now  # not stale yet: one read, no write
    latest = later + timedelta(seconds=1)
    assert token_authenticate(raw, now=latest) is not None
    assert last_used() == latest


def test_a_membership_without_org_unit_resolves_with_none(org):
    raw, _ = issue(org.bd1)
    Membership.objects.filter(tenant=org.tenant, pk=org.bd1.pk).update(org_unit=None)
    auth = token_authenticate(raw)
    assert auth is not None and auth.membership.org_unit_id is None
    with CaptureQueriesContext(connection) as queries:
        assert auth.membership.org_unit is None
    assert len(queries) == 0


def test_not_a_token_or_an_unknown_one_resolves_to_nothing(org):
    raw, _ = issue(org.bd1)
    assert token_authenticate("") is None
    assert token_authenticate(raw[4:]) is None  # without the lsk_ prefix
    assert token_authenticate(raw + "x") is None
    assert token_authenticate("lsk_forged") is None


def test_a_revoked_token_stops_resolving_and_only_that_one(org, api_as):
    first, second = api_as(org.bd1), api_as(org.bd1)
    assert first.post("/api/v1/auth/revoke").status_code == 200
    assert token_authenticate(first.token) is None
    assert first.get("/api/v1/me").status_code == 401
    assert second.get("/api/v1/me").json()["role"] == "bd"
    tokens = ApiToken.objects.filter(tenant=org.tenant)
    assert tokens.get(key_hash=sha256(first.token.encode()).hexdigest()).revoked_at is not None
    assert tokens.get(key_hash=sha256(second.token.encode()).hexdigest()).revoked_at is None


def test_a_token_resolves_until_it_expires(org):
    raw, token = issue(org.bd1)
    assert token_authenticate(raw, now=token.expires_at - timedelta(microseconds=1)) is not None
    assert token_authenticate(raw, now=token.expires_at) is None
    assert token_authenticate(raw, now=token.expires_at + timedelta(days=1)) is None


def test_an_inactive_user_membership_or_tenant_resolves_to_nothing(org, api_as):
    raw, _ = issue(org.bd1)
    api = api_as(token=raw)
    user = get_user_model().objects.filter(pk=org.bd1.user_id)
    membership = Membership.objects.filter(tenant=org.tenant, pk=org.bd1.pk)
    tenant = Tenant.objects.filter(pk=org.tenant.pk)
    for rows in (user, membership, tenant):
        assert token_authenticate(raw) is not None
        rows.update(is_active=False)
        assert token_authenticate(raw) is None
        assert api.get("/api/v1/me").status_code == 401
        rows.update(is_active=True)
    assert api.get("/api/v1/me").status_code == 200


def test_a_token_speaks_only_for_the_membership_in_its_own_tenant(org, other_org):
    person = org.admin.user.username
    in_b = user_create(tenant=other_org.tenant, username=person, password=None, role="bd")
    raw_a, token_a = issue(org.admin)
    raw_b, token_b = issue(in_b)
    a, b = token_authenticate(raw_a), token_authenticate(raw_b)
    assert a is not None and b is not None
    assert (a.token_id, a.tenant, a.membership.pk, a.membership.role) == (
        token_a.pk,
        org.tenant,
        org.admin.pk,
        "admin",
    )
    assert (b.token_id, b.tenant, b.membership.pk, b.membership.role) == (
        token_b.pk,
        other_org.tenant,
        in_b.pk,
        "bd",
    )
    # B's membership ends: B's token does not fall back to the same person's membership in A.
    Membership.objects.filter(tenant=other_org.tenant, pk=in_b.pk).update(is_active=False)
    assert token_authenticate(raw_b) is None
    assert token_authenticate(raw_a) is not None


def test_a_token_of_a_tenant_the_person_left_resolves_to_nothing(org, other_org):
    raw, token = issue(org.bd1)
    # A token row naming a tenant where its user has no membership (never made by token_issue) is refused,
    # even though the user is an active member elsewhere.
    with unscoped():
        ApiToken.objects.filter(pk=token.pk).update(tenant=other_org.tenant)
    assert token_authenticate(raw) is None


def test_an_org_unit_of_another_tenant_is_never_joined(org, other_org):
    raw, _ = issue(org.bd1)
    foreign = OrgUnit.objects.get(tenant=other_org.tenant, pk=other_org.team_a.pk)
    with unscoped():
        Membership.objects.filter(pk=org.bd1.pk).update(org_unit_id=foreign.pk)
    auth = token_authenticate(raw)
    assert auth is not None
    with CaptureQueriesContext(connection) as queries:
        assert auth.membership.org_unit is None
    assert len(queries) == 0


def test_a_crowd_token_resolves_but_the_api_refuses_it(org, api_as):
    crowd = user_create(tenant=org.tenant, username="acme-crowd", password=PASSWORD, role="crowd")
    assert token_authenticate(issue(crowd)[0]) is not None
    assert api_as(crowd).get("/api/v1/me").status_code == 403
