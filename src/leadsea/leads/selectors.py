"""Reads on leads, with the data scopes: a BD sees their own and unowned leads, a manager their org
subtree's and unowned ones, hq and admin the whole tenant."""

from __future__ import annotations

import json
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.utils.translation import gettext as _

from leadsea.core import clock
from leadsea.core.errors import FieldInvalid, NotFound
from leadsea.leads.models import Lead, LeadTag
from leadsea.leads.normalize import search_query_terms
from leadsea.metadata.models import FieldDefinition
from leadsea.metadata.selectors import field_definitions
from leadsea.pools.selectors import live_q, pool_ids_of, public_q
from leadsea.tenancy.models import Membership, Tenant
from leadsea.tenancy.selectors import subtree_user_ids

ORDERINGS = {
    "expires": ("expires_at", "id"),
    "updated": ("-updated_at", "-id"),
    "-updated": ("updated_at", "id"),
    "created": ("-created_at", "-id"),
    "name": ("name", "id"),
}


def leads_visible(*, tenant: Tenant, membership: Membership, now: datetime | None = None) -> QuerySet[Lead]:
    """A BD sees the public sea of their pools and their own private sea; a manager also the private seas
    of their org subtree; hq and admin everything. A lead past its deadline reads as public."""
    qs = Lead.objects.filter(tenant=tenant)
    if membership.sees_whole_tenant:
        return qs
    now = now or clock.now()
    public = public_q(now) & Q(pool_id__in=pool_ids_of(tenant=tenant, membership=membership))
    mine = live_q(now) & Q(owner_id=membership.user_id)
    if membership.role == Membership.Role.BD:
        return qs.filter(public | mine)
    team = subtree_user_ids(tenant=tenant, org_unit=membership.org_unit)
    return qs.filter(public | mine | (live_q(now) & Q(owner_id__in=team)))


def with_tags(qs: QuerySet[Lead], *, tenant: Tenant) -> QuerySet[Lead]:
    return qs.select_related("owner", "pool", "stage").prefetch_related(
        Prefetch("tag_rows", queryset=LeadTag.objects.filter(tenant=tenant).order_by("tag"))
    )


def lead_get(*, tenant: Tenant, membership: Membership, lead_id: int, now: datetime | None = None) -> Lead:
    """One lead in the caller's scope; another tenant's or an out-of-scope id is simply not found."""
    lead = (
        with_tags(leads_visible(tenant=tenant, membership=membership, now=now), tenant=tenant)
        .filter(pk=lead_id)
        .first()
    )
    if lead is None:
        raise NotFound(_("Lead not found."), code="lead_not_found")
    return lead


def _custom_filter(defn: FieldDefinition, raw: str) -> Q:
    T = FieldDefinition.Type
    path = f"custom_data__{defn.key}"
    if defn.field_type in (T.NUMBER, T.DECIMAL):
        try:
            number: float | int = float(raw) if defn.field_type == T.DECIMAL else int(raw)
        except ValueError:
            raise FieldInvalid(
                _("%(field)s must be a number.") % {"field": f"cf_{defn.key}"}, field=f"cf_{defn.key}"
            )
        return Q(**{path: number})
    if defn.field_type == T.BOOLEAN:
        if raw.lower() not in {"true", "false", "1", "0"}:
            raise FieldInvalid(
                _("%(field)s must be true or false.") % {"field": f"cf_{defn.key}"}, field=f"cf_{defn.key}"
            )
        return Q(**{path: raw.lower() in {"true", "1"}})
    if defn.field_type == T.MULTI_CHOICE:
        # The JSON text of the stored list contains the quoted value: PostgreSQL's jsonb renders it as is,
        # SQLite keeps json.dumps' \\u escapes, so look for both forms.
        text = f"_cf_{defn.key}_text__contains"
        return Q(**{text: f'"{raw}"'}) | Q(**{text: json.dumps(raw)})
    return Q(**{path: raw})


def leads_search(
    *,
    tenant: Tenant,
    membership: Membership,
    q: str | None = None,
    city: str | None = None,
    tag: str | None = None,
    status: str | None = None,
    owner: str | None = None,
    sea: str | None = None,
    pool: int | None = None,
    stage: str | None = None,
    custom_filters: dict[str, str] | None = None,
    ordering: str = "updated",
) -> QuerySet[Lead]:
    now = clock.now()
    qs = leads_visible(tenant=tenant, membership=membership, now=now)
    if sea == "public":
        qs = qs.filter(public_q(now))
    elif sea == "private":
        qs = qs.filter(live_q(now))
        if not owner:
            owner = "me"  # private means mine; supervisors name another owner with owner=
    elif sea not in (None, "", "all"):
        raise FieldInvalid(_("sea must be public, private or all."), field="sea")
    if pool is not None:
        qs = qs.filter(pool_id=pool)
    if stage:
        qs = qs.filter(stage__key=stage, stage__tenant=tenant)
    if q and q.strip():
        qs = qs.filter(search_text__contains=search_query_terms(q))
    if city:
        qs = qs.filter(city=city)
    if status:
        if status not in Lead.Status.values:
            raise FieldInvalid(
                _("status must be one of %(choices)s.") % {"choices": ", ".join(Lead.Status.values)},
                field="status",
            )
        qs = qs.filter(status=status)
    if tag:
        qs = qs.filter(pk__in=LeadTag.objects.filter(tenant=tenant, tag=tag).values("lead_id"))
    if owner:
        if owner == "me":
            qs = qs.filter(live_q(now), owner_id=membership.user_id)
        elif owner == "none":
            qs = qs.filter(public_q(now))
        elif owner.isdigit():
            qs = qs.filter(live_q(now), owner_id=int(owner))
        else:
            raise FieldInvalid(_("owner must be a user id, 'me' or 'none'."), field="owner")
    if custom_filters:
        defs = {d.key: d for d in field_definitions(tenant=tenant)}
        for key, raw in custom_filters.items():
            defn = defs.get(key)
            if defn is None or not defn.filterable:
                raise FieldInvalid(
                    _("%(field)s is not a filterable custom field.") % {"field": f"cf_{key}"},
                    code="unknown_field",
                    field=f"cf_{key}",
                )
            if defn.field_type == FieldDefinition.Type.MULTI_CHOICE:
                qs = qs.alias(**{f"_cf_{key}_text": KeyTextTransform(key, "custom_data")})
            qs = qs.filter(_custom_filter(defn, raw))
    if ordering not in ORDERINGS:
        raise FieldInvalid(
            _("ordering must be one of %(choices)s.") % {"choices": ", ".join(ORDERINGS)}, field="ordering"
        )
    return with_tags(qs.order_by(*ORDERINGS[ordering]), tenant=tenant)


def lead_cities(*, tenant: Tenant) -> list[str]:
    return list(
        Lead.objects.filter(tenant=tenant)
        .exclude(city="")
        .values_list("city", flat=True)
        .distinct()
        .order_by("city")
    )
