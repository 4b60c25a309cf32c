"""Onboarding a business line in one transaction (tenant, org tree, users, template content) and changing a
tenant's modules and lead-page sections."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from leadsea.audit.services import change_record, changed_fields
from leadsea.core import clock
from leadsea.core.errors import Conflict, DomainError, FieldInvalid
from leadsea.core.tenancy_guard import unscoped
from leadsea.metadata.services import field_definition_create, object_type_create
from leadsea.onboarding.errors import (
    CsvInvalid,
    OnboardingForbidden,
    PageConfigForbidden,
    SpecInvalid,
    TenantExists,
)
from leadsea.onboarding.models import PageConfig
from leadsea.onboarding.modules import MODULE_KEYS, SECTION_KEYS
from leadsea.onboarding.selectors import PageSettings, page_settings_from
from leadsea.onboarding.templates import CONTENT_KEYS, TEMPLATES, template_content
from leadsea.pipeline.models import LostReason, Stage
from leadsea.pools.models import Pool
from leadsea.pools.services import pool_policy_update
from leadsea.tenancy.models import Membership, OrgUnit, Tenant
from leadsea.tenancy.services import org_root, org_unit_create, tenant_create, user_create

SPEC_KEYS = {
    "slug",
    "name",
    "language",
    "time_zone",
    "template",
    "org_units",
    "org_csv",
    "admin",
    "users",
    "users_csv",
    *CONTENT_KEYS,
}
ORG_KINDS = ("region", "city", "team")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_ROWS = 5000
# Password hashing is slow by design (PBKDF2, ~0.2-0.6 s each): it runs before the transaction, on up to
# this many threads (hashlib releases the GIL, so they use every core).
HASH_THREADS = max(1, min(8, os.cpu_count() or 1))


# --- who may onboard ---------------------------------------------------------------------------------


def can_onboard(*, user: Any, membership: Membership | None) -> bool:
    """Platform operators (superusers) and the administrators of a tenant create new business lines."""
    if user is not None and getattr(user, "is_superuser", False) and getattr(user, "is_active", False):
        return True
    return membership is not None and membership.role == Membership.Role.ADMIN


# --- the spec ----------------------------------------------------------------------------------------


@dataclass
class OrgRow:
    names: tuple[str, ...]  # the path of names below the root
    kind: str
    line: int | None  # CSV line, or None for a JSON row
    where: str  # the spec path of the row, for error fields


@dataclass
class UserRow:
    username: str
    password: str | None
    role: str
    org: tuple[str, ...]  # the path of names below the root; () = the root
    name: str
    line: int | None
    where: str


@dataclass
class Plan:
    """A checked spec: what tenant_onboard will write, the template content with the spec's adjustments."""

    slug: str
    name: str
    language: str
    time_zone: str
    template: str
    org: list[OrgRow]
    admin: UserRow | None  # None only in a plan checked without the admin (the wizard's first step)
    users: list[UserRow]
    content: dict[str, Any]


@dataclass
class Onboarded:
    tenant: Tenant
    admin: Membership
    members: list[Membership] = field(default_factory=list)
    # Passwords made up for users given without one: shown once to whoever onboarded them.
    generated_passwords: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def _error(where: str, message: str, line: int | None = None, code: str | None = None) -> DomainError:
    if line is not None:
        return CsvInvalid(
            _("line %(line)s: %(message)s") % {"line": line, "message": message},
            line=line,
            field=where,
            code=code,
        )
    return SpecInvalid(message, field=where, code=code)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value).strip())


def _path(value: Any) -> tuple[str, ...]:
    return tuple(p.strip() for p in _text(value).split("/") if p.strip())


def _csv_rows(
    text: str, where: str, columns: set[str], required: set[str]
) -> list[tuple[int, dict[str, str]]]:
    """(file line, row) for every non-empty data row; the header is line 1."""
    if not isinstance(text, str):
        raise _error(where, _("must be CSV text."))
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = sorted(required - set(header))
    if missing:
        raise _error(where, _("the header lacks %(columns)s.") % {"columns": ", ".join(missing)}, line=1)
    unknown = sorted(set(header) - columns)
    if unknown:
        raise _error(where, _("unknown columns %(columns)s.") % {"columns": ", ".join(unknown)}, line=1)
    reader.fieldnames = header
    rows = []
    for row in reader:
        line = reader.line_num
        if None in row:
            raise _error(where, _("more values than columns."), line=line)
        if not any(_text(v) for v in row.values()):
            continue
        rows.append((line, {k: _text(v) for k, v in row.items()}))
        if len(rows) > MAX_ROWS:
            raise _error(where, _("at most %(n)s rows.") % {"n": MAX_ROWS}, line=line)
    return rows


def _org_rows(spec: dict[str, Any], root_name: str) -> list[OrgRow]:
    """The org units below the root, each row by `path` (names from below the root, '华北/北京') or by
    `name` + `parent` (the parent's path; empty for a child of the root), parents before children."""
    raw: list[tuple[int | None, str, dict[str, Any]]] = []
    if spec.get("org_csv"):
        if spec.get("org_units"):
            raise _error("org_csv", _("give org_units or org_csv, not both."))
        cols = {"path", "name", "kind", "parent"}
        raw = [(line, "org_csv", row) for line, row in _csv_rows(spec["org_csv"], "org_csv", cols, {"kind"})]
    elif spec.get("org_units") is not None:
        if not isinstance(spec["org_units"], list):
            raise _error("org_units", _("must be a list."))
        for i, row in enumerate(spec["org_units"]):
            if not isinstance(row, dict):
                raise _error(f"org_units[{i}]", _("must be an object."))
            raw.append((None, f"org_units[{i}]", row))
    rows: list[OrgRow] = []
    seen: dict[tuple[str, ...], str] = {}
    for line, where, row in raw:

        def bad(attr: str, message: str, line: int | None = line, where: str = where) -> DomainError:
            return _error(where if line is not None else f"{where}.{attr}", message, line)

        path, name, parent = _path(row.get("path")), _text(row.get("name")), _path(row.get("parent"))
        if path and path[0] == root_name and len(path) > 1:
            path = path[1:]
        if parent and parent[0] == root_name:
            parent = parent[1:]
        if not path and not name:
            raise bad("path", _("give a path or a name."))
        if path:
            if name and name != path[-1]:
                raise bad(
                    "name",
                    _("name %(name)s is not the end of path %(path)s.")
                    % {"name": name, "path": "/".join(path)},
                )
            if row.get("parent") is not None and _text(row.get("parent")) and parent != path[:-1]:
                raise bad(
                    "parent",
                    _("parent %(parent)s does not match path %(path)s.")
                    % {"parent": "/".join(parent), "path": "/".join(path)},
                )
        else:
            path = (*parent, name)
        if any(len(p) > 200 for p in path):
            raise bad("name", _("a name has at most 200 characters."))
        kind = _text(row.get("kind")).lower()
        if kind not in ORG_KINDS:
            raise bad(
                "kind",
                _("kind must be one of %(kinds)s, not %(kind)s.")
                % {"kinds": ", ".join(ORG_KINDS), "kind": kind or "—"},
            )
        if path in seen:
            raise bad(
                "path",
                _("%(path)s is defined twice (first at %(first)s).")
                % {"path": "/".join(path), "first": seen[path]},
            )
        seen[path] = _("line %(line)s") % {"line": line} if line is not None else where
        rows.append(OrgRow(names=path, kind=kind, line=line, where=where))
    for r in rows:
        if len(r.names) > 1 and r.names[:-1] not in seen:
            raise _error(
                r.where if r.line is not None else f"{r.where}.parent",
                _("parent %(parent)s is not defined.") % {"parent": "/".join(r.names[:-1])},
                r.line,
            )
    rows.sort(key=lambda r: len(r.names))  # parents first; stable, so the given order holds among siblings
    return rows


def _user_row(
    row: dict[str, Any], where: str, line: int | None, root_name: str, default_role: str
) -> UserRow:
    def bad(attr: str, message: str) -> DomainError:
        return _error(where if line is not None else f"{where}.{attr}", message, line)

    username = _text(row.get("username"))
    if not re.fullmatch(r"[\w.@+-]{1,150}", username):
        raise bad("username", _("username: letters, digits and @.+-_ only."))
    role = _text(row.get("role")).lower() or default_role
    if role not in Membership.Role.values:
        raise bad("role", _("role must be one of %(roles)s.") % {"roles": ", ".join(Membership.Role.values)})
    org = _path(row.get("org"))
    if org and org[0] == root_name:
        org = org[1:]
    password = row.get("password")
    if password is not None and not isinstance(password, str):
        raise bad("password", _("password must be text."))
    name = _text(row.get("name"))[:100]
    return UserRow(username, password or None, role, org, name, line, where)


def _user_rows(spec: dict[str, Any], root_name: str) -> list[UserRow]:
    rows: list[UserRow] = []
    if spec.get("users_csv"):
        if spec.get("users"):
            raise _error("users_csv", _("give users or users_csv, not both."))
        cols = {"username", "name", "role", "org", "password"}
        for line, row in _csv_rows(spec["users_csv"], "users_csv", cols, {"username", "role"}):
            rows.append(_user_row(row, "users_csv", line, root_name, "bd"))
    elif spec.get("users") is not None:
        if not isinstance(spec["users"], list):
            raise _error("users", _("must be a list."))
        for i, row in enumerate(spec["users"]):
            if not isinstance(row, dict):
                raise _error(f"users[{i}]", _("must be an object."))
            rows.append(_user_row(row, f"users[{i}]", None, root_name, "bd"))
    return rows


def _check_content(content: dict[str, Any]) -> None:
    """The shape of the template part; values are checked again by the services that write them."""
    radius = content.get("visit_radius_m")
    if isinstance(radius, bool) or not isinstance(radius, int) or not 10 <= radius <= 5000:
        raise _error("visit_radius_m", _("visit_radius_m must be a whole number of metres from 10 to 5000."))
    for key in ("pool_policy", "modules", "lead_sections"):
        if not isinstance(content.get(key), dict):
            raise _error(key, _("must be an object."))
    for key in ("stages", "lost_reasons", "lead_fields", "object_types"):
        if not isinstance(content.get(key), list) or not all(isinstance(x, dict) for x in content[key]):
            raise _error(key, _("must be a list of objects."))
    _check_stages(content["stages"])
    _check_lost_reasons(content["lost_reasons"])
    for i, obj in enumerate(content["object_types"]):
        if "fields" in obj and not (
            isinstance(obj["fields"], list) and all(isinstance(x, dict) for x in obj["fields"])
        ):
            raise _error(f"object_types[{i}].fields", _("must be a list of objects."))
    page_settings_validate(modules=content["modules"], lead_sections=content["lead_sections"])


def _check_stages(stages: list[dict[str, Any]]) -> None:
    keys = set()
    for i, st in enumerate(stages):
        where = f"stages[{i}]"
        key = _text(st.get("key"))
        if not KEY_RE.match(key):
            raise _error(
                f"{where}.key",
                _("key must start with a letter and hold lower-case letters, digits and underscores."),
            )
        if key in keys:
            raise _error(
                f"{where}.key", _("stage %(key)s is listed twice.") % {"key": key}, code="duplicate_stage"
            )
        keys.add(key)
        if (
            not _text(st.get("name_zh"))
            or len(_text(st.get("name_zh"))) > 50
            or len(_text(st.get("name_en"))) > 50
        ):
            raise _error(
                f"{where}.name_zh", _("name_zh is required (at most 50 characters)."), code="required"
            )
        if st.get("kind", "open") not in Stage.Kind.values:
            raise _error(
                f"{where}.kind", _("kind must be one of %(kinds)s.") % {"kinds": ", ".join(Stage.Kind.values)}
            )
        p = st.get("probability", 0)
        if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= 100:
            raise _error(f"{where}.probability", _("probability is a whole percent from 0 to 100."))
    kinds = {st.get("kind", "open") for st in stages}
    if not {"open", "won", "lost"} <= kinds:
        raise _error(
            "stages",
            _("The stages need at least one open, one won and one lost stage."),
            code="stages_incomplete",
        )


def _check_lost_reasons(reasons: list[dict[str, Any]]) -> None:
    keys = set()
    for i, r in enumerate(reasons):
        key = _text(r.get("key"))
        if not KEY_RE.match(key):
            raise _error(
                f"lost_reasons[{i}].key",
                _("key must start with a letter and hold lower-case letters, digits and underscores."),
            )
        if key in keys:
            raise _error(
                f"lost_reasons[{i}].key",
                _("lost reason %(key)s is listed twice.") % {"key": key},
                code="duplicate_lost_reason",
            )
        keys.add(key)
        if (
            not _text(r.get("label_zh"))
            or len(_text(r.get("label_zh"))) > 100
            or len(_text(r.get("label_en"))) > 100
        ):
            raise _error(
                f"lost_reasons[{i}].label_zh",
                _("label_zh is required (at most 100 characters)."),
                code="required",
            )


def onboarding_plan(*, spec: Any, require_admin: bool = True) -> Plan:
    """Check a spec (without writing anything) and merge the template with its adjustments. The wizard's
    first step checks everything but the admin (asked for on the review step): `require_admin=False`."""
    if not isinstance(spec, dict):
        raise SpecInvalid(_("The spec must be a JSON object."), code="malformed")
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise SpecInvalid(
            _("%(field)s is not part of an onboarding spec.") % {"field": unknown[0]},
            code="unknown_field",
            field=unknown[0],
        )
    slug, name = _text(spec.get("slug")), _text(spec.get("name"))
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,49}", slug):
        raise SpecInvalid(_("slug: 2-50 lower-case letters, digits or hyphens."), field="slug")
    if not name or len(name) > 200:
        raise SpecInvalid(_("name is required (at most 200 characters)."), code="required", field="name")
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantExists(_("Tenant %(slug)s exists already.") % {"slug": slug}, field="slug")
    template = _text(spec.get("template")) or "blank"
    content = template_content(template)
    if content is None:
        raise SpecInvalid(
            _("Unknown template %(template)s; one of %(templates)s.")
            % {"template": template, "templates": ", ".join(TEMPLATES)},
            code="unknown_template",
            field="template",
        )
    for key in CONTENT_KEYS:
        if key in spec and spec[key] is not None:
            content[key] = spec[key]
    _check_content(content)
    admin_spec = spec.get("admin")
    admin: UserRow | None = None
    if admin_spec is not None or require_admin:
        if not isinstance(admin_spec, dict):
            raise SpecInvalid(
                _("admin is required: the first administrator's username and password."),
                code="required",
                field="admin",
            )
        admin = _user_row(admin_spec, "admin", None, name, "admin")
        if admin.role != "admin":
            raise SpecInvalid(_("The first user is an administrator."), field="admin.role")
    org = _org_rows(spec, name)
    users = _user_rows(spec, name)
    known = {r.names for r in org} | {()}
    seen = {admin.username: "admin"} if admin else {}
    for u in [admin, *users] if admin else users:
        if u.org not in known:
            raise _error(
                u.where if u.line is not None else f"{u.where}.org",
                _("org unit %(org)s is not in the org tree.") % {"org": "/".join(u.org)},
                u.line,
            )
        if u is not admin:
            if u.username in seen:
                raise _error(
                    u.where if u.line is not None else f"{u.where}.username",
                    _("%(username)s is listed twice.") % {"username": u.username},
                    u.line,
                    code="duplicate_user",
                )
            seen[u.username] = u.where
    return Plan(
        slug=slug,
        name=name,
        language=_text(spec.get("language")) or "zh-hans",
        time_zone=_text(spec.get("time_zone")) or "Asia/Shanghai",
        template=template,
        org=org,
        admin=admin,
        users=users,
        content=content,
    )


# --- applying ----------------------------------------------------------------------------------------


def _at(where: str, exc: DomainError) -> DomainError:
    """The same error, its field named by where it is in the spec."""
    copy = exc.__class__.__new__(exc.__class__)
    copy.__dict__.update(exc.__dict__)
    copy.args = exc.args
    copy.field = f"{where}.{exc.field}" if exc.field else where
    return copy


def _row_error(row: UserRow, exc: DomainError) -> DomainError:
    """An error about one user, named by its CSV line or its place in the spec."""
    if row.line is not None:
        return CsvInvalid(
            _("line %(line)s: %(message)s") % {"line": row.line, "message": exc.message},
            line=row.line,
            field=row.where,
            code=exc.code,
        )
    return _at(row.where, exc)


def _user_exists(row: UserRow) -> DomainError:
    return _row_error(
        row,
        Conflict(
            _("User %(username)s exists; they join this tenant with their own password.")
            % {"username": row.username},
            code="user_exists",
            field="password",
        ),
    )


@dataclass
class Credentials:
    """The passwords of a plan's new users, checked and hashed before anything is written."""

    encoded: dict[str, str] = field(default_factory=dict)  # username -> hashed password, new users only
    generated: dict[str, str] = field(default_factory=dict)  # username -> made-up password (shown once)


def hash_passwords(passwords: list[str]) -> list[str]:
    """make_password of each, in order, with the configured (production) hasher on HASH_THREADS threads."""
    if len(passwords) < 2 or HASH_THREADS == 1:
        return [make_password(p) for p in passwords]
    with ThreadPoolExecutor(max_workers=min(HASH_THREADS, len(passwords))) as pool:
        return list(pool.map(make_password, passwords))


def onboarding_credentials(*, plan: Plan) -> Credentials:
    """Check the passwords of the plan's users (an existing person joins with their own: giving one is
    `user_exists`; a weak one is `weak_password`, naming the line) and hash those of the new users, making
    one up for a new user given none. No write and no transaction: hashing 200 passwords takes tens of
    seconds, which the onboarding transaction must not hold its locks for (SQLite has one writer)."""
    User = get_user_model()
    rows = [*([plan.admin] if plan.admin else []), *plan.users]
    names = [r.username for r in rows]
    existing: set[str] = set()
    for i in range(0, len(names), 500):
        existing |= set(
            User.objects.filter(username__in=names[i : i + 500]).values_list("username", flat=True)
        )
    out = Credentials()
    to_hash: list[tuple[str, str]] = []
    for row in rows:
        if row.username in existing:
            if row.password:
                raise _user_exists(row)
            continue
        password = row.password
        if password:
            try:
                validate_password(password, User(username=row.username, first_name=row.name[:150]))
            except DjangoValidationError as exc:
                raise _row_error(
                    row, FieldInvalid(" ".join(exc.messages), code="weak_password", field="password")
                )
        else:
            password = secrets.token_urlsafe(12)
            out.generated[row.username] = password
        to_hash.append((row.username, password))
    out.encoded = dict(zip([u for u, _p in to_hash], hash_passwords([p for _u, p in to_hash]), strict=True))
    return out


def _member(
    tenant: Tenant,
    row: UserRow,
    units: dict[tuple[str, ...], OrgUnit],
    actor: Any,
    now: dt.datetime,
    out: Onboarded,
    credentials: Credentials,
) -> Membership:
    """The user (created with the password hashed beforehand) and their membership, by user_create."""
    User = get_user_model()
    encoded = credentials.encoded.get(row.username)
    if encoded is not None:
        if User.objects.filter(username=row.username).exists():  # created since the credentials were made
            if row.password:
                raise _user_exists(row)
        else:
            try:
                with transaction.atomic():
                    User.objects.create(username=row.username, first_name=row.name[:150], password=encoded)
            except IntegrityError:  # and another writer just took the username
                raise _user_exists(row)
            if row.username in credentials.generated:
                out.generated_passwords[row.username] = credentials.generated[row.username]
    try:
        return user_create(
            tenant=tenant,
            username=row.username,
            password=None,  # the user exists now: user_create adds the membership and its audit row
            role=row.role,
            org_unit=units[row.org],
            display_name=row.name,
            actor=actor,
            now=now,
        )
    except DomainError as exc:
        raise _row_error(row, exc)


def _replace_pipeline(tenant: Tenant, content: dict[str, Any]) -> None:
    # The defaults tenant_create made: the deletion collector looks for opportunities by these stage ids
    # only (none exist in a tenant made a moment ago), a query without a tenant condition by construction.
    with unscoped():
        Stage.objects.filter(tenant=tenant).delete()
        LostReason.objects.filter(tenant=tenant).delete()
    Stage.objects.bulk_create(
        [
            Stage(
                tenant=tenant,
                key=_text(st["key"]),
                name_zh=_text(st["name_zh"]),
                name_en=_text(st.get("name_en")),
                kind=st.get("kind", "open"),
                probability=st.get("probability", 0),
                position=i,
            )
            for i, st in enumerate(content["stages"])
        ]
    )
    LostReason.objects.bulk_create(
        [
            LostReason(
                tenant=tenant,
                key=_text(r["key"]),
                label_zh=_text(r["label_zh"]),
                label_en=_text(r.get("label_en")),
            )
            for r in content["lost_reasons"]
        ]
    )


def _create_fields(
    tenant: Tenant, object_type: str, fields: list[dict[str, Any]], where: str, now: dt.datetime
) -> int:
    for j, attrs in enumerate(fields):
        attrs = dict(attrs)
        attrs.setdefault("position", j)
        try:
            field_definition_create(tenant=tenant, object_type=object_type, now=now, **attrs)
        except DomainError as exc:
            raise _at(f"{where}[{j}]", exc)
        except TypeError:
            raise SpecInvalid(
                _("A field definition holds an attribute it cannot have."),
                code="unknown_field",
                field=f"{where}[{j}]",
            )
    return len(fields)


def _create_objects(tenant: Tenant, content: dict[str, Any], now: dt.datetime) -> tuple[int, int]:
    """Object types first (a reference may point at a later one), then their fields, then lead fields."""
    objects = content["object_types"]
    for i, obj in enumerate(objects):
        attrs = {k: v for k, v in obj.items() if k != "fields"}
        try:
            object_type_create(tenant=tenant, actor=None, now=now, **attrs)
        except DomainError as exc:
            raise _at(f"object_types[{i}]", exc)
        except TypeError:
            raise SpecInvalid(
                _("An object type holds an attribute it cannot have."),
                code="unknown_field",
                field=f"object_types[{i}]",
            )
    fields = 0
    for i, obj in enumerate(objects):
        fields += _create_fields(tenant, obj["key"], obj.get("fields", []), f"object_types[{i}].fields", now)
    fields += _create_fields(tenant, "lead", content["lead_fields"], "lead_fields", now)
    return len(objects), fields


def tenant_onboard(*, spec: Any, actor: Any = None, now: dt.datetime | None = None) -> Onboarded:
    """Create a business line from a spec: the tenant, its org tree, its users, and the template content
    with the spec's adjustments. The spec is checked and the passwords hashed first, then everything is
    written in one transaction: all or nothing. One `tenant.onboard` audit row names `actor` (a user)."""
    now = now or clock.now()
    plan = onboarding_plan(spec=spec)
    credentials = onboarding_credentials(plan=plan)
    return _onboard_write(plan=plan, credentials=credentials, actor=actor, now=now)


@transaction.atomic
def _onboard_write(*, plan: Plan, credentials: Credentials, actor: Any, now: dt.datetime) -> Onboarded:
    try:
        with transaction.atomic():
            tenant = tenant_create(
                slug=plan.slug,
                name=plan.name,
                default_language=plan.language,
                time_zone=plan.time_zone,
                actor=actor,
                now=now,
            )
    except IntegrityError:  # another onboarding took the slug between the check and the insert
        raise TenantExists(_("Tenant %(slug)s exists already.") % {"slug": plan.slug}, field="slug")
    except DomainError as exc:
        if exc.field == "default_language":
            raise SpecInvalid(exc.message, field="language")
        raise
    root = org_root(tenant=tenant)
    units: dict[tuple[str, ...], OrgUnit] = {(): root}
    for row in plan.org:
        try:
            units[row.names] = org_unit_create(
                tenant=tenant,
                name=row.names[-1],
                kind=row.kind,
                parent=units[row.names[:-1]],
                actor=actor,
                now=now,
            )
        except DomainError as exc:
            raise _error(row.where, exc.message, row.line, code=exc.code)
    assert plan.admin is not None  # onboarding_plan requires it by default
    out = Onboarded(tenant=tenant, admin=None)  # type: ignore[arg-type]
    out.admin = _member(tenant, plan.admin, units, actor, now, out, credentials)
    out.members = [_member(tenant, row, units, actor, now, out, credentials) for row in plan.users]
    content = plan.content
    _replace_pipeline(tenant, content)
    n_objects, n_fields = _create_objects(tenant, content, now)
    if content["pool_policy"]:
        pool = Pool.objects.get(tenant=tenant, is_default=True)
        try:
            pool_policy_update(
                tenant=tenant, actor=out.admin, pool=pool, policy=content["pool_policy"], now=now
            )
        except DomainError as exc:
            raise _at("pool_policy", exc)
    tenant.visit_radius_m = content["visit_radius_m"]
    tenant.save(update_fields=["visit_radius_m"])
    settings = page_settings_validate(modules=content["modules"], lead_sections=content["lead_sections"])
    PageConfig.objects.create(
        tenant=tenant, modules=settings.modules, lead_sections=settings.lead_sections, updated_at=now
    )
    out.counts = {
        "org_units": len(plan.org) + 1,
        "users": 1 + len(out.members),
        "object_types": n_objects,
        "fields": n_fields,
        "stages": len(content["stages"]),
        "lost_reasons": len(content["lost_reasons"]),
    }
    change_record(
        tenant=tenant,
        actor=actor,
        action="tenant.onboard",
        obj=tenant,
        before=None,
        after={
            "template": plan.template,
            "counts": out.counts,
            "org_units": ["/".join(r.names) for r in plan.org],
            "users": {m.user.username: m.role for m in [out.admin, *out.members]},
            "visit_radius_m": content["visit_radius_m"],
            "pool_policy": content["pool_policy"],
            "stages": [st["key"] for st in content["stages"]],
            "lost_reasons": [r["key"] for r in content["lost_reasons"]],
            "object_types": [o["key"] for o in content["object_types"]],
            "lead_fields": [f.get("key") for f in content["lead_fields"]],
            **settings.as_dict(),
        },
        now=now,
    )
    return out


# --- modules and lead-page sections ------------------------------------------------------------------


def page_settings_validate(*, modules: Any = None, lead_sections: Any = None) -> PageSettings:
    """Every key known, every value true or false; the result holds every key (missing = on)."""
    for name, given, known in (
        ("modules", modules, MODULE_KEYS),
        ("lead_sections", lead_sections, SECTION_KEYS),
    ):
        if given is None:
            continue
        if not isinstance(given, dict):
            raise SpecInvalid(
                _("%(field)s must be an object of true/false values.") % {"field": name}, field=name
            )
        for key, value in given.items():
            if key not in known:
                raise SpecInvalid(
                    _("%(key)s is not one of %(known)s.") % {"key": key, "known": ", ".join(known)},
                    code="unknown_module" if name == "modules" else "unknown_section",
                    field=f"{name}.{key}",
                )
            if not isinstance(value, bool):
                raise SpecInvalid(
                    _("%(field)s must be true or false.") % {"field": f"{name}.{key}"}, field=f"{name}.{key}"
                )
    return page_settings_from(modules, lead_sections)


@transaction.atomic
def page_config_update(
    *,
    tenant: Tenant,
    actor: Membership | None,
    modules: dict[str, Any] | None = None,
    lead_sections: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> PageSettings:
    """Turn modules and lead-page sections on or off (only the keys given change). Admins only; the change
    is recorded in the audit log as a diff."""
    now = now or clock.now()
    if actor is not None and actor.role != Membership.Role.ADMIN:
        raise PageConfigForbidden()
    page_settings_validate(modules=modules, lead_sections=lead_sections)
    row = PageConfig.objects.select_for_update().filter(tenant=tenant).first()
    if row is None:
        try:
            with transaction.atomic():
                row = PageConfig.objects.create(tenant=tenant, updated_at=now)
        except IntegrityError:  # created by a concurrent update: lock that one
            row = PageConfig.objects.select_for_update().get(tenant=tenant)
    current = page_settings_from(row.modules, row.lead_sections)
    new = page_settings_from(
        {**current.modules, **(modules or {})}, {**current.lead_sections, **(lead_sections or {})}
    )
    flat_before = {f"modules.{k}": v for k, v in current.modules.items()} | {
        f"lead_sections.{k}": v for k, v in current.lead_sections.items()
    }
    flat_after = {f"modules.{k}": v for k, v in new.modules.items()} | {
        f"lead_sections.{k}": v for k, v in new.lead_sections.items()
    }
    before, after = changed_fields(flat_before, flat_after)
    if after:
        row.modules, row.lead_sections, row.updated_at = new.modules, new.lead_sections, now
        row.save(update_fields=["modules", "lead_sections", "updated_at"])
        change_record(
            tenant=tenant,
            actor=actor.user if actor is not None else None,
            action="page_config.update",
            obj=row,
            before=before,
            after=after,
            now=now,
        )
    return new


def onboarding_check_actor(*, user: Any, membership: Membership | None) -> None:
    if not can_onboard(user=user, membership=membership):
        raise OnboardingForbidden()
