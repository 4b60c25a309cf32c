"""Writes on tenants, the org tree, users and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.expressions import Col
from django.utils.translation import gettext as _

from leadsea.audit.services import change_record
from leadsea.core import clock, hotsql
from leadsea.core.errors import Conflict, FieldInvalid, Unauthenticated
from leadsea.core.tenancy_guard import unscoped
from leadsea.tenancy.models import ApiToken, Membership, OrgUnit, Tenant
from leadsea.tenancy.selectors import membership_get, tenant_by_slug

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,49}$")
_USERNAME = re.compile(r"^[\w.@+-]{1,150}$")
TOKEN_PREFIX = "lsk_"


def _language(value: str) -> str:
    codes = [code for code, _ in settings.LANGUAGES]
    if value not in codes:
        raise FieldInvalid(f"Language must be one of {', '.join(codes)}.", field="default_language")
    return value


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise FieldInvalid(f"{value!r} is not a time zone.", field="time_zone")
    return value


@transaction.atomic
def tenant_create(
    *,
    slug: str,
    name: str,
    default_language: str = "zh-hans",
    time_zone: str = "Asia/Shanghai",
    actor: Any = None,
    now: datetime | None = None,
) -> Tenant:
    """Create a tenant with the root (HQ) of its org tree."""
    now = now or clock.now()
    if not _SLUG.match(slug or ""):
        raise FieldInvalid("slug: 2-50 lower-case letters, digits or hyphens.", field="slug")
    if not (name or "").strip():
        raise FieldInvalid("name is required.", code="required", field="name")
    if Tenant.objects.filter(slug=slug).exists():
        raise Conflict(f"Tenant {slug} exists already.", code="duplicate_tenant", field="slug")
    tenant = Tenant.objects.create(
        slug=slug,
        name=name.strip(),
        default_language=_language(default_language),
        time_zone=_time_zone(time_zone),
    )
    root = org_unit_create(tenant=tenant, name=name.strip(), kind=OrgUnit.Kind.HQ, parent=None, now=now)
    from leadsea.pipeline.services import pipeline_create_default
    from leadsea.pools.services import pool_create_default

    pool_create_default(tenant=tenant, root=root, now=now)
    pipeline_create_default(tenant=tenant)
    change_record(
        tenant=tenant,
        actor=actor,
        action="tenant.create",
        obj=tenant,
        before=None,
        after={
            "slug": slug,
            "name": tenant.name,
            "default_language": tenant.default_language,
            "time_zone": tenant.time_zone,
            "root_org_unit": root.pk,
        },
        now=now,
    )
    return tenant


def org_root(*, tenant: Tenant) -> OrgUnit:
    return OrgUnit.objects.get(tenant=tenant, parent__isnull=True, kind=OrgUnit.Kind.HQ)


@transaction.atomic
def org_unit_create(
    *,
    tenant: Tenant,
    name: str,
    kind: str,
    parent: OrgUnit | None,
    actor: Any = None,
    now: datetime | None = None,
) -> OrgUnit:
    now = now or clock.now()
    if kind not in OrgUnit.Kind.values:
        raise FieldInvalid(f"kind must be one of {', '.join(OrgUnit.Kind.values)}.", field="kind")
    if parent is not None and parent.tenant_id != tenant.pk:
        raise FieldInvalid("parent belongs to another tenant.", field="parent")
    if parent is None and OrgUnit.objects.filter(tenant=tenant, parent__isnull=True).exists():
        raise FieldInvalid("A tenant has one root unit; give a parent.", field="parent")
    if OrgUnit.objects.filter(tenant=tenant, parent=parent, name=name).exists():
        raise Conflict(f"{name} exists already under this parent.", code="duplicate_org_unit", field="name")
    unit = OrgUnit.objects.create(tenant=tenant, name=name, kind=kind, parent=parent, path="")
    unit.path = f"{parent.path if parent else '/'}{unit.pk}/"
    unit.save(update_fields=["path"])
    change_record(
        tenant=tenant,
        actor=actor,
        action="org_unit.create",
        obj=unit,
        before=None,
        after={"name": name, "kind": kind, "parent": parent.pk if parent else None},
        now=now,
    )
    return unit


def org_unit_by_name(*, tenant: Tenant, name: str) -> OrgUnit | None:
    """Resolve an org unit by name, or by a path of names ('HQ/华北/北京/朝阳一组'); the path may start at
    the root (by its name, or as HQ) or below it ('华北/北京/朝阳一组')."""
    parts = [p for p in name.split("/") if p]
    units = OrgUnit.objects.filter(tenant=tenant)
    if len(parts) == 1:
        matches = list(units.filter(name=parts[0])[:2])
        return matches[0] if len(matches) == 1 else None
    unit: OrgUnit | None = org_root(tenant=tenant)
    if unit is not None and parts and parts[0] in (unit.name, "HQ"):
        parts = parts[1:]
    for part in parts:
        unit = units.filter(parent=unit, name=part).first()
        if unit is None:
            return None
    return unit


@transaction.atomic
def user_create(
    *,
    tenant: Tenant,
    username: str,
    password: str | None,
    role: str,
    org_unit: OrgUnit | None = None,
    display_name: str = "",
    actor: Any = None,
    now: datetime | None = None,
) -> Membership:
    """Create a user and their membership; an existing person (same username) joins this tenant too."""
    now = now or clock.now()
    if not _USERNAME.match(username or ""):
        raise FieldInvalid("username: letters, digits and @.+-_ only.", field="username")
    if role not in Membership.Role.values:
        raise FieldInvalid(f"role must be one of {', '.join(Membership.Role.values)}.", field="role")
    if org_unit is not None and org_unit.tenant_id != tenant.pk:
        raise FieldInvalid("org unit belongs to another tenant.", field="org")
    if org_unit is None:
        org_unit = org_root(tenant=tenant)
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        if not password:
            raise FieldInvalid("password is required for a new user.", code="required", field="password")
        user = User(username=username, first_name=display_name[:150])
        try:
            validate_password(password, user)
        except DjangoValidationError as exc:
            raise FieldInvalid(" ".join(exc.messages), code="weak_password", field="password")
        user.set_password(password)
        user.save()
    elif password:
        raise Conflict(
            f"User {username} exists; they join this tenant with their own password.",
            code="user_exists",
            field="password",
        )
    if Membership.objects.filter(tenant=tenant, user=user).exists():
        raise Conflict(
            f"{username} is a member of {tenant.slug} already.", code="duplicate_member", field="username"
        )
    membership = Membership.objects.create(
        tenant=tenant, user=user, role=role, org_unit=org_unit, display_name=display_name
    )
    change_record(
        tenant=tenant,
        actor=actor,
        action="membership.create",
        obj=membership,
        before=None,
        after={"username": username, "role": role, "org_unit": org_unit.pk},
        now=now,
    )
    return membership


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def token_issue(
    *, tenant_slug: str, username: str, password: str, name: str = "", now: datetime | None = None
) -> tuple[str, ApiToken, Membership]:
    """Check credentials and issue a bearer token. Every failure is the same 401, with no hint."""
    now = now or clock.now()
    user = authenticate(username=username, password=password)
    tenant = tenant_by_slug(tenant_slug)
    membership = membership_get(tenant=tenant, user=user) if tenant is not None else None
    if membership is None or tenant is None:
        raise Unauthenticated(_("Invalid credentials."), code="invalid_credentials")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        tenant=tenant,
        user=membership.user,
        key_hash=_hash(raw),
        prefix=raw[:12],
        name=name[:100],
        created_at=now,
        expires_at=now + timedelta(days=settings.API_TOKEN_TTL_DAYS),
    )
    return raw, token, membership


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """A request's bearer token, resolved: the token's id (to revoke it) and the membership it speaks for,
    with the membership's tenant, user and org unit loaded."""

    token_id: int
    membership: Membership

    @property
    def tenant(self) -> Tenant:
        return self.membership.tenant


# The last-used time is written at most this often: a token in use costs no write on most requests.
TOKEN_LAST_USED_EVERY = timedelta(minutes=5)

_Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


@dataclass(frozen=True, slots=True)
class _Columns:
    """One model's columns in a raw row, made into an instance as the ORM makes it: the backend's converters
    applied (SQLite gives timestamps as text and booleans as integers), the instance marked as loaded."""

    model: type[Model]
    columns: tuple[str, ...]  # for the select list, in the order of the model's concrete fields
    start: int  # where they start in the row
    attnames: tuple[str, ...]
    converters: tuple[tuple[int, Col, tuple[_Converter, ...]], ...]  # (position, column, its converters)

    @classmethod
    def of(cls, model: type[Model], alias: str, start: int, conn: BaseDatabaseWrapper) -> _Columns:
        fields = model._meta.concrete_fields
        converters = []
        for i, field in enumerate(fields):
            col = field.get_col(alias)
            found = tuple(conn.ops.get_db_converters(col) + col.get_db_converters(conn))  # as the compiler
            if found:
                converters.append((i, col, found))
        columns = tuple(f"{alias}.{conn.ops.quote_name(f.column)}" for f in fields)
        return cls(model, columns, start, tuple(f.attname for f in fields), tuple(converters))

    def load(self, row: Sequence[Any], conn: BaseDatabaseWrapper) -> Any:
        """The instance, or None when its primary key is NULL (a LEFT JOIN that found no row)."""
        values = list(row[self.start : self.start + len(self.attnames)])
        if values[0] is None:
            return None
        for i, col, converters in self.converters:
            for convert in converters:
                values[i] = convert(values[i], col, conn)
        return self.model.from_db(conn.alias, self.attnames, values)


@dataclass(frozen=True, slots=True)
class _TokenQuery:
    sql: str
    membership: _Columns
    tenant: _Columns
    user: _Columns
    org_unit: _Columns

    @classmethod
    def build(cls, conn: BaseDatabaseWrapper) -> _TokenQuery:
        qn = conn.ops.quote_name
        user_model = get_user_model()
        select = ["t.id", "(t.last_used_at IS NULL OR t.last_used_at < %s)"]
        parts: dict[str, _Columns] = {}
        for name, model, alias in (
            ("membership", Membership, "m"),
            ("tenant", Tenant, "tn"),
            ("user", user_model, "u"),
            ("org_unit", OrgUnit, "o"),
        ):
            parts[name] = _Columns.of(model, alias, len(select), conn)
            select += parts[name].columns
        # Everything joins within the token's tenant; the token is found by its hash, across tenants.
        sql = (
            f"SELECT {', '.join(select)}"
            f" FROM {qn(ApiToken._meta.db_table)} t"
            f" JOIN {qn(Membership._meta.db_table)} m ON m.tenant_id = t.tenant_id AND m.user_id = t.user_id"
            f" JOIN {qn(Tenant._meta.db_table)} tn ON tn.id = t.tenant_id"
            f" JOIN {qn(user_model._meta.db_table)} u ON u.id = t.user_id"
            f" LEFT JOIN {qn(OrgUnit._meta.db_table)} o ON o.tenant_id = m.tenant_id AND o.id = m.org_unit_id"
            " WHERE t.key_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s"
            " AND m.is_active AND tn.is_active AND u.is_active"
        )
        return cls(sql, **parts)


_token_queries: WeakKeyDictionary[BaseDatabaseWrapper, _TokenQuery] = WeakKeyDictionary()


def token_authenticate(raw: str, *, now: datetime | None = None) -> TokenAuth | None:
    """Resolve a bearer token to its membership; the token names the tenant (cross-tenant lookup by hash).

    It runs on every API request, so it is one raw query for token, membership, tenant, user and org unit,
    built once per database connection (composing the equivalent ORM query cost more than running it) and
    run through core.hotsql (a prepared statement on PostgreSQL)."""
    now = now or clock.now()
    if not raw.startswith(TOKEN_PREFIX):
        return None
    conn = connections[DEFAULT_DB_ALIAS]
    query = _token_queries.get(conn)
    if query is None:
        query = _token_queries[conn] = _TokenQuery.build(conn)
    adapt = conn.ops.adapt_datetimefield_value
    with unscoped():
        rows = hotsql.fetchall(query.sql, [adapt(now - TOKEN_LAST_USED_EVERY), _hash(raw), adapt(now)])
    if not rows:
        return None
    row = rows[0]  # at most one: the hash is unique, and so is a membership per tenant and user
    token_id, last_used_stale = row[0], row[1]
    membership = query.membership.load(row, conn)
    tenant = query.tenant.load(row, conn)
    Membership.tenant.field.set_cached_value(membership, tenant)
    Membership.user.field.set_cached_value(membership, query.user.load(row, conn))
    Membership.org_unit.field.set_cached_value(membership, query.org_unit.load(row, conn))
    if last_used_stale:
        ApiToken.objects.filter(tenant=tenant, pk=token_id).update(last_used_at=now)
    return TokenAuth(token_id=token_id, membership=membership)


def token_revoke(*, tenant: Tenant, token_id: int, now: datetime | None = None) -> None:
    now = now or clock.now()
    ApiToken.objects.filter(tenant=tenant, pk=token_id, revoked_at__isnull=True).update(revoked_at=now)
